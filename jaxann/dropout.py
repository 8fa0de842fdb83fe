"""Inverted dropout (Srivastava et al. 2014) on the hidden activations, its masks drawn from
the run's own random stream.

In a training step each hidden layer l = 1..L-1 keeps unit j of row i with probability
1 - p_l and scales what it keeps by 1 / (1 - p_l), so that a^l's expectation is unchanged
and prediction needs no rescaling:

    a^l = h(z^l) * d^l,     d^l_ij = m^l_ij / (1 - p_l),     m^l_ij ~ Bernoulli(1 - p_l)

The backward recursion carries the same d^l (`jaxann.deltas`):

    delta^l = (W^{l+1} @ delta^{l+1}) * h'(z^l) * d^l

and the weight gradient a^{l-1} delta^l uses the dropped a^{l-1}. `scaled_masks` gives the
d^l of one batch; the step hands the same arrays to whichever gradient source it uses
(`jax.grad` of the masked objective, or the delta recursion).

The masks come from a counter-based hash, not `jax.random` (whose threefry costs ~100
operations per number, `jaxann.deltas.uniform_from_words`): u^l_ij, uniform in (0, 1), is
`uniform_from_words` of two words keyed by (the run's key, the step count, l), and
m^l_ij = [u^l_ij < 1 - p_l]. The key is drawn on the host from (seed, DROPOUT_STREAM), a
stream of its own beside the initial weights' and the feedback's; the step count is
carried in the training state (`TrainState.dropout`), so a resumed run draws the masks the
uninterrupted one would, and each model of a sweep draws from its own seed.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxann.deltas import mix, uniform_from_words

DROPOUT_STREAM = 0xD40F  # the masks' stream, beside the initialisation's and FEEDBACK_STREAM


def dropout_state(rates, seed: int, dtype=np.float32) -> tuple:
    """What a run carries for dropout: (rates p_l (L-1,) of dtype, (key (2,) uint32, steps
    taken so far, uint32 0)), the key drawn from (seed, DROPOUT_STREAM); () when no rate is
    above 0 (the step then compiles no mask operations)."""
    if not any(p > 0 for p in rates):
        return ()
    key = np.random.default_rng((seed, DROPOUT_STREAM)).integers(0, 2**32, 2, dtype=np.uint32)
    return np.asarray(rates, dtype), (key, np.uint32(0))


def scaled_masks(rates, stream, rows: int, widths, dtype) -> tuple:
    """d^l = m^l / (1 - p_l) for the hidden layers of widths n_1 .. n_{L-1}, each (rows, n_l),
    for the step the stream (key, count) stands at: layer l's two words are
    a = mix(mix(count ^ key_0) + l), b = mix(a ^ key_1)."""
    key, count = jnp.asarray(stream[0]), jnp.asarray(stream[1])  # uint32 arithmetic wraps, on host arrays too
    step = mix(count ^ key[0])
    masks = []
    for l, (p, n) in enumerate(zip(rates, widths), start=1):
        a = mix(step + np.uint32(l))
        u = uniform_from_words((rows, n), a, mix(a ^ key[1]), dtype)
        masks.append(jnp.where(u < 1 - p, 1 / (1 - p), 0).astype(dtype))
    return tuple(masks)

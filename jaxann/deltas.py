"""Backpropagation, written out as the lecture's recursion (no jax.grad, vjp or jacobian).

For one training instance (x, y), with the layer numbering of `jaxann.network`:

1. forward pass:         z^l = a^{l-1} @ W^l + b^l,  a^l = h(z^l)  (a^L = z^L, linear)
2. boundary condition:   delta^L = de/dz^L, owned by the cost (`jaxann.losses`):
                         p - y for softmax + cross-entropy, 2 (a^L - y) for MSE
3. backward recursion:   delta^l = (W^{l+1} @ delta^{l+1}) * h'(z^l),  l = L-1 .. 1
4. gradients:            de/dW^l_ij = a^{l-1}_i delta^l_j,   de/db^l_j = delta^l_j

h and h' are layer l's own (a tuple `activation` names one per hidden layer).

Learning rules that send the error back through other matrices than W^{l+1} replace
step 3 (`rule=`; the output layer's delta^L and step 4 stay as they are):

    feedback_alignment         delta^l = (B^{l+1} @ delta^{l+1}) * h'(z^l), B^{l+1} fixed, random,
                               shaped like W^{l+1}                        (Lillicrap et al. 2016)
    direct_feedback_alignment  delta^l = (B^l @ e) * h'(z^l), e = delta^L sent to every hidden
                               layer through a fixed random B^l (n_l, n_L)      (Nokland 2016)
    sign_symmetry              delta^l = s (sign(W^{l+1}) @ delta^{l+1}) * h'(z^l), s the
                               Glorot standard deviation sqrt(2 / (n_l + n_{l+1})) of W^{l+1}
    sign_symmetry_frm          delta^l = ((|M^{l+1}| * sign(W^{l+1})) @ delta^{l+1}) * h'(z^l),
                               M^{l+1} fixed, random (feedback_alignment's B^{l+1})
    sign_symmetry_brm          the same with |M^{l+1}| drawn afresh for every batch
                               (the three: Liao, Leibo and Poggio 2016, "uniform", "fixed random
                               magnitude" and "batchwise random magnitude" sign-concordant feedback)

The sign rules' magnitudes have the scale of the weights they stand in for: uniform in
[0, sqrt(6 / (n_l + n_{l+1}))] (|a Glorot-uniform draw|), whose root mean square is the
uniform rule's s. Each rule's `feedback` (`feedback_matrices`) holds one array per hidden
layer, feedback[l - 1] for layer l, drawn on the host from the run's seed in a stream of its
own: the matrices B (or |M|), or for sign_symmetry the scale s and for sign_symmetry_brm the
magnitudes' bound, which a training step turns into that batch's |M| (`batch_magnitudes`,
from a key and a step count carried in the training state, `feedback_stream`). For
`deltas` and `backprop`, sign_symmetry_brm's feedback is one batch's |M| (the formula is
sign_symmetry_frm's).

`backprop` runs steps 1-3 for each example, `jax.vmap`-ed over the batch, then averages
step 4 over the m examples -- sum_i a_i^{l-1} (delta_i^l)^T is one matrix product,
(a^{l-1})^T @ delta^l, rather than m outer products summed -- and adds the L2 term's
gradient alpha / m * W^l. The result has
the tree structure of `params` and equals `jax.grad(jaxann.loss)` to rounding (it is
`jaxann.backprop`). `GRADS` names every source of an update direction, `jax.grad` and
the rules, and `value_and_gradient(grad)` gives training the one it names.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.activations import layer_activations
from jaxann.errors import JaxannError
from jaxann.losses import batch_cost, get_loss
from jaxann.network import check_alpha, feedforward, objective, prepare


RULES = ("backprop", "feedback_alignment", "direct_feedback_alignment", "sign_symmetry", "sign_symmetry_frm",
         "sign_symmetry_brm")
# the sign-concordant rules: the error goes back through sign(W^{l+1}) times magnitudes
SIGN_RULES = ("sign_symmetry", "sign_symmetry_frm", "sign_symmetry_brm")
# the rules whose feedback is random, drawn from the run's seed (in FEEDBACK_STREAM)
FEEDBACK_RULES = ("feedback_alignment", "direct_feedback_alignment", "sign_symmetry_frm", "sign_symmetry_brm")
# every source of an update direction: jax.grad of the cost, or one of the rules above
GRADS = ("autodiff", *RULES)
FEEDBACK_STREAM = 0xFEEDBAC  # the feedback matrices' stream, beside the initialisation's


def feedback_matrices(sizes, rule: str, seed: int, scale: float = 1.0, dtype=np.float32) -> tuple:
    """The feedback of `rule` for layer sizes [n_0, ..., n_L], one array per hidden layer
    l = 1..L-1 (an empty tuple for backprop):

        feedback_alignment         B^{l+1} (n_l, n_{l+1}), uniform in [-g, g]
        direct_feedback_alignment  B^l (n_l, n_L), uniform in [-g, g]
        sign_symmetry              the scale s = scale * sqrt(2 / (n_l + n_{l+1})), ()
        sign_symmetry_frm          |M^{l+1}| (n_l, n_{l+1}), M^{l+1} feedback_alignment's B^{l+1}
        sign_symmetry_brm          the bound g of the magnitudes each batch draws, ()

    g = scale * sqrt(6 / (rows + columns)), the Glorot bound of the matrix's shape; s is the
    root mean square of a uniform draw in [-g, g] (the Glorot standard deviation).
    Random entries are drawn with NumPy from (seed, FEEDBACK_STREAM): the same seed's initial
    weights are untouched, and drawing them compiles nothing."""
    if rule not in RULES or rule == "backprop":
        return ()
    L = len(sizes) - 1
    shapes = [(sizes[l], sizes[L] if rule == "direct_feedback_alignment" else sizes[l + 1]) for l in range(1, L)]
    if rule == "sign_symmetry":
        return tuple(np.asarray(scale * np.sqrt(2.0 / (a + b)), dtype) for a, b in shapes)
    if rule == "sign_symmetry_brm":
        return tuple(np.asarray(scale * np.sqrt(6.0 / (a + b)), dtype) for a, b in shapes)
    rng = np.random.default_rng((seed, FEEDBACK_STREAM))
    drawn = [scale * np.sqrt(6.0 / (a + b)) * rng.uniform(-1, 1, (a, b)) for a, b in shapes]
    return tuple((np.abs(B) if rule == "sign_symmetry_frm" else B).astype(dtype) for B in drawn)


def feedback_stream(rule: str, seed: int) -> tuple:
    """For sign_symmetry_brm, where a training step draws its magnitudes: (key, count), a
    threefry key's data (2,) uint32 drawn from (seed, FEEDBACK_STREAM) and the steps taken
    so far, 0 (uint32). Carried in the training state, so a resumed run draws what the
    uninterrupted one would. () for every other rule."""
    if rule != "sign_symmetry_brm":
        return ()
    key = np.random.default_rng((seed, FEEDBACK_STREAM)).integers(0, 2**32, 2, dtype=np.uint32)
    return key, np.uint32(0)


def mix(x):
    """lowbias32 (C. Wellons): a bijection of uint32 in which every output bit depends on
    every input bit (xor-shifts and multiplications, wrapping)."""
    x = x ^ (x >> 16)
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> 16)


def uniform_from_words(shape, a, b, dtype):
    """Uniform numbers in (0, 1) for each entry i (row-major index) of `shape`:
    ((mix(mix(i ^ a) + b) >> 9) + 1/2) / 2^23, keyed by two uint32 words a, b (23 bits and
    the half: exact in float32, so NumPy can check it bit for bit).

    A keyed integer hash rather than `jax.random`: threefry costs ~100 operations per
    number, which on an 800 x 800 layer made the training step 1.7x dearer; this is ~12. Two
    rounds with the keys entering before each keep two batches' draws from being one
    another's permutation (as f(i ^ a) would be for two a's)."""
    i = jax.lax.iota(jnp.uint32, int(np.prod(shape))).reshape(shape)
    bits = mix(mix(i ^ a) + b) >> 9
    return (bits.astype(dtype) + 0.5) * (2.0 ** -23)


def batch_magnitudes(params, bounds, stream) -> tuple:
    """sign_symmetry_brm's |M^{l+1}| for this batch, one per hidden layer l: shaped like
    W^{l+1}, uniform in [0, bounds[l - 1]], from key = fold_in(stream key, count), which
    gives two uint32 words per layer (`uniform_from_words`)."""
    key, count = stream
    words = jax.random.bits(jax.random.fold_in(jax.random.wrap_key_data(key, impl="threefry2x32"), count),
                            (len(bounds), 2), jnp.uint32)
    return tuple(bound * uniform_from_words(layer["W"].shape, w[0], w[1], layer["W"].dtype)
                 for bound, layer, w in zip(bounds, params[1:], words))


def next_draw(stream) -> tuple:
    """The stream after one batch's draw: the count advanced by one."""
    key, count = stream
    return key, count + np.uint32(1)


def _check_rule(rule: str, feedback, L: int):
    if rule not in RULES:
        raise JaxannError(f"unknown learning rule {rule!r}; expected one of: {', '.join(RULES)}")
    if rule != "backprop" and len(feedback) != L - 1:
        raise JaxannError(f"{rule} needs {L - 1} feedback arrays, one per hidden layer "
                          f"(`feedback_matrices`); got {len(feedback)}")


def deltas(params, x, t, activation: str, loss: str, rule: str = "backprop", feedback=(), masks=()):
    """Steps 1-3 for ONE example x (n_0,) with target row t (n_L,), the error sent back
    by `rule` (through its `feedback`, see the module docstring). With dropout's scaled
    masks d^l (n_l,) (`jaxann.dropout`), the forward pass drops units, a^l = h(z^l) * d^l,
    and step 3 carries the same masks back: delta^l = (...) * h'(z^l) * d^l, whatever the rule.

    Returns (activations, deltas): activations[l] = a^l for l = 0..L and
    deltas[l-1] = delta^l for l = 1..L.
    """
    zs, activations = feedforward(params, x, activation, masks)
    L = len(params)
    dhs = [act.dh for act in layer_activations(activation, L - 1)]  # dhs[l - 1]: layer l's h'
    _check_rule(rule, feedback, L)
    e = get_loss(loss).delta(activations[L], t)  # boundary condition, delta^L
    delta, ds = e, [e]
    for l in range(L - 1, 0, -1):  # delta^l from delta^{l+1}; params[l] holds W^{l+1}
        if rule == "backprop":
            back = params[l]["W"] @ delta
        elif rule == "feedback_alignment":
            back = feedback[l - 1] @ delta
        elif rule == "direct_feedback_alignment":
            back = feedback[l - 1] @ e
        elif rule == "sign_symmetry":  # the scalar s after the product: n_l products, not n_l n_{l+1}
            back = feedback[l - 1] * (jnp.sign(params[l]["W"]) @ delta)
        else:  # sign_symmetry_frm, sign_symmetry_brm: feedback[l - 1] is |M^{l+1}|
            back = (feedback[l - 1] * jnp.sign(params[l]["W"])) @ delta
        delta = back * dhs[l - 1](zs[l - 1])
        if masks:  # a dropped unit passes no error back
            delta = delta * masks[l - 1]
        ds.append(delta)
    return activations, ds[::-1]


def example_gradient(params, x, t, activation: str, loss: str, rule: str = "backprop", feedback=()):
    """Step 4 for ONE example: {"W": outer(a^{l-1}, delta^l), "b": delta^l} per layer, no L2."""
    activations, ds = deltas(params, x, t, activation, loss, rule, feedback)
    return tuple(
        {"W": jnp.outer(a_prev, delta), "b": delta} for a_prev, delta in zip(activations, ds)
    )


def value_and_backprop(params, x, t, sample_weight, activation: str, loss: str, alpha, rule: str = "backprop",
                       feedback=(), masks=()):
    """((C, a^L), dC/dtheta) for rows x (m, n_0), target rows t (m, n_L), sample weights (m,)
    and dropout's scaled masks (each (m, n_l); () for none).

    The value and output of `jaxann.network.objective` (weight 0 marks padding, M = the
    weights' sum), with the gradient from the delta recursion instead of autodiff -- or,
    for another `rule`, that rule's update direction in the gradient's place.
    """
    activations, ds = jax.vmap(deltas, in_axes=(None, 0, 0, None, None, None, None, 0))(
        params, x, t, activation, loss, rule, feedback, masks
    )
    M = jnp.sum(sample_weight)
    a_L = activations[-1]
    C = batch_cost(params, a_L, t, sample_weight, loss, alpha)
    grads = tuple(
        {
            # 1/M sum_i sample_weight_i a_i^{l-1} (delta_i^l)^T + alpha / M W^l
            "W": (a_prev.T @ (delta * sample_weight[:, None])) / M + (alpha / M) * layer["W"],
            "b": (sample_weight @ delta) / M,
        }
        for layer, a_prev, delta in zip(params, activations, ds)
    )
    return (C, a_L), grads


@partial(jax.jit, static_argnames=("activation", "loss", "rule"))
def _backprop(params, x, t, activation, loss, alpha, rule, feedback):
    return value_and_backprop(params, x, t, jnp.ones(x.shape[0], x.dtype), activation, loss, alpha, rule,
                              feedback)[1]


def backprop(params, x, y, activation: str = "relu", loss: str = "cross_entropy", alpha=0.0,
             rule: str = "backprop", feedback=()):
    """dC/dtheta by the explicit delta recursion, for the cost of `jaxann.loss`; with
    another `rule` (and its `feedback`, `feedback_matrices`), that rule's update direction.

    x: (m, n_0) (or one example (n_0,)); y: integer labels (m,) or targets (m, n_L).
    Returns a tuple of {"W": (n_{l-1}, n_l), "b": (n_l,)}, like params.
    """
    x, t, activation = prepare(params, x, y, activation, loss)
    return _backprop(params, x, t, activation, loss, check_alpha(alpha), rule, tuple(feedback))


def autodiff(params, x, t, sample_weight, activation, loss, alpha, feedback=(), masks=()):
    """((C, a^L), jax.grad of the objective): the true gradient, in `value_and_gradient`'s form."""
    return jax.value_and_grad(objective, has_aux=True)(params, x, t, sample_weight, activation, loss, alpha, masks)


def value_and_gradient(grad: str) -> Callable:
    """((C, a^L), update direction) for (params, x, t, sample_weight, activation, loss,
    alpha, feedback, masks): `jax.grad` of the objective, or the delta recursion of `grad`'s rule."""
    if grad == "autodiff":
        return autodiff
    return lambda *args, feedback=(), masks=(): value_and_backprop(*args, rule=grad, feedback=feedback, masks=masks)

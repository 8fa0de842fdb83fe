"""The layered network: initialisation, the forward pass, and the cost it is trained on.

Layer convention (used everywhere in jaxann, never renumbered): the input is layer 0 with
n_0 units, the layers l = 1..L follow, and layer L is the output. `params` is a tuple of
L layers, `params[l - 1] = {"W": W^l, "b": b^l}` with W^l of shape (n_{l-1}, n_l) --
entry (i, j) is the lecture's theta_ij^l, from node i of layer l-1 to node j of layer l --
and b^l of shape (n_l,). So that no formula needs a transpose:

    z^l = a^{l-1} @ W^l + b^l,      a^l = h(z^l)  for l < L,      a^L = z^L (linear output)

with a^0 = x. The costs (`jaxann.losses`: cross-entropy on softmax(a^L), MSE, ...) act on
a^L; `objective` is the one batch cost both gradient sources differentiate, `loss` its
public form for labels or targets. Parameters are arrays only; the activation (a name, or a
tuple of names, one per hidden layer) and loss are static arguments of the compiled
functions, so `jax.jit` compiles one program per architecture.
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.activations import check_activation, layer_activations
from jaxann.errors import JaxannError
from jaxann.inputs import check_rows, is_concrete
from jaxann.losses import as_targets, batch_cost, get_loss

INITS = ("glorot_uniform", "glorot_normal", "he_normal")


def glorot_bound(n_in: int, n_out: int, gain: float = 6.0) -> float:
    """sqrt(gain / (fan_in + fan_out)): Glorot's uniform bound (scikit-learn: gain 2 for
    logistic units, 6 otherwise)."""
    return (gain / (n_in + n_out)) ** 0.5


def layer_sizes(params) -> list[int]:
    """The layer sizes [n_0, n_1, ..., n_L] of a parameter tuple."""
    return [params[0]["W"].shape[0], *(layer["W"].shape[1] for layer in params)]


def key_words(key) -> tuple[int, ...]:
    """The integers a key stands for: a `jax.random.key` (or a legacy uint32 key array)
    gives its key data; an int seed s >= 0 gives (s >> 32, s & 0xFFFFFFFF), the data of
    `jax.random.key(s)` (threefry) for s < 2**32, so init_mlp(s, ...) == init_mlp(jax.random.key(s), ...)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if key < 0:
            raise JaxannError(f"seed {key} is negative; expected an integer >= 0 or jax.random.key(seed)")
        return (int(key) >> 32 & 0xFFFFFFFF, int(key) & 0xFFFFFFFF)
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return tuple(int(w) for w in np.asarray(jax.random.key_data(key)).ravel())
    if isinstance(key, (jax.Array, np.ndarray)) and key.shape == (2,) and key.dtype == np.uint32:
        return tuple(int(w) for w in np.asarray(key))
    raise JaxannError(f"key {key!r} is not a PRNG key; expected jax.random.key(seed) or an integer seed >= 0")


def draw_mlp(key, sizes: Sequence[int], init: str = "glorot_uniform", dtype=np.float32) -> tuple:
    """`init_mlp`'s parameters as NumPy arrays, drawn on the host (nothing compiled; the
    same numbers on every device): a NumPy generator seeded by the key's words draws
    W^1, b^1, W^2, ... in turn, in float64, then casts to dtype."""
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0
                                 for n in sizes):
        raise JaxannError(
            f"sizes {sizes!r} is not a network; expected at least two positive integers "
            "[n_inputs, ..., n_outputs]"
        )
    if init not in INITS:
        raise JaxannError(f"unknown init {init!r}; expected one of: {', '.join(INITS)}")
    rng = np.random.default_rng(key_words(key))
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if init == "glorot_uniform":
            # scikit-learn's scheme: W and b both uniform in +-sqrt(6 / (fan_in + fan_out))
            bound = glorot_bound(n_in, n_out)
            W = rng.uniform(-bound, bound, (n_in, n_out))
            b = rng.uniform(-bound, bound, n_out)
        elif init == "glorot_normal":  # W ~ N(0, 2 / (fan_in + fan_out)), b = 0
            W = rng.standard_normal((n_in, n_out)) * (2.0 / (n_in + n_out)) ** 0.5
            b = np.zeros(n_out)
        else:  # he_normal: W ~ N(0, 2 / fan_in), b = 0 (for ReLU layers)
            W = rng.standard_normal((n_in, n_out)) * (2.0 / n_in) ** 0.5
            b = np.zeros(n_out)
        params.append({"W": W.astype(dtype), "b": b.astype(dtype)})
    return tuple(params)


def init_mlp(key, sizes: Sequence[int], init: str = "glorot_uniform", dtype=jnp.float32):
    """Random parameters for a network with layer sizes [n_0, n_1, ..., n_L].

    key: a `jax.random.key` or an integer seed (`key_words`); the numbers are drawn on the
          host by NumPy (`draw_mlp`), so initialising compiles nothing.
    sizes: at least two positive integers, input width first, output width last.
    init: "glorot_uniform" (scikit-learn's: W and b ~ U(+-sqrt(6 / (n_in + n_out)))),
          "glorot_normal" or "he_normal" (biases zero for the two normal schemes).
    Returns a tuple of L dicts {"W": (n_{l-1}, n_l), "b": (n_l,)} of JAX arrays (float64
    ones only where JAX's x64 is on, else float32, as JAX makes every array; `draw_mlp`
    gives NumPy arrays of any dtype).
    """
    return jax.device_put(draw_mlp(key, sizes, init, jnp.dtype(dtype)))


def init_mlp_from_random_state(rng: np.random.RandomState, sizes: Sequence[int], gains: Sequence[float] | None = None,
                                dtype=np.float64):
    """Glorot-uniform parameters drawn the way scikit-learn's MLP draws them: from a NumPy
    RandomState, W^l then b^l for l = 1..L, each uniform in +-glorot_bound(n_in, n_out,
    gains[l - 1]) (default: 6 for every layer). Returns NumPy arrays in the tree of `init_mlp`."""
    gains = [6.0] * (len(sizes) - 1) if gains is None else gains
    params = []
    for n_in, n_out, gain in zip(sizes[:-1], sizes[1:], gains):
        bound = glorot_bound(n_in, n_out, gain)
        W = rng.uniform(-bound, bound, (n_in, n_out)).astype(dtype, copy=False)
        b = rng.uniform(-bound, bound, n_out).astype(dtype, copy=False)
        params.append({"W": W, "b": b})
    return tuple(params)


def feedforward(params, x, activation, masks=()):
    """The forward pass for ONE example x (n_0,), keeping every layer's values.

    activation: a name for every hidden layer, or a tuple of names, one per hidden layer
    (`jaxann.activations.layer_activations`).
    Returns (zs, activations): zs[l-1] = z^l for l = 1..L, and activations[l] = a^l for
    l = 0..L (activations[0] = x). Hidden layer l applies its h; the output layer is linear.
    masks: for a training step with dropout, the row's scaled masks d^l (n_l,) of the hidden
    layers (`jaxann.dropout`), a^l = h(z^l) * d^l; () for none.
    """
    L = len(params)
    hs = [act.h for act in layer_activations(activation, L - 1)]
    a = x
    zs, activations = [], [a]
    for l, layer in enumerate(params, start=1):
        z = a @ layer["W"] + layer["b"]
        a = hs[l - 1](z) if l < L else z
        if masks and l < L:  # inverted dropout
            a = a * masks[l - 1]
        zs.append(z)
        activations.append(a)
    return zs, activations


def _output(params, x, activation, masks=()):
    return feedforward(params, x, activation, masks)[1][-1]


def check_input(params, x) -> jax.Array:
    """x as an array of params' dtype, shape (m, n_0) or (n_0,) (`jaxann.inputs.check_rows`);
    else JaxannError."""
    if not isinstance(params, (tuple, list)) or not params or not all(
        isinstance(layer, dict) and "W" in layer and "b" in layer for layer in params
    ):
        raise JaxannError('params must be a non-empty tuple of layers {"W": ..., "b": ...}')
    W1 = params[0]["W"]
    return jnp.asarray(check_rows(x, W1.shape[0], single=True)).astype(W1.dtype)


@partial(jax.jit, static_argnames=("activation",))
def _forward(params, x, activation):
    if x.ndim == 1:
        return _output(params, x, activation)
    return jax.vmap(_output, in_axes=(None, 0, None))(params, x, activation)


def forward(params, x, activation="relu") -> jax.Array:
    """a^L for a batch x (m, n_0) -> (m, n_L), or for one example x (n_0,) -> (n_L,).

    Hidden layers apply the activation named by `activation` (or, for a tuple of names,
    layer l the l-th); the output layer is linear
    (apply `jaxann.softmax` for class probabilities). x is cast to the parameters' dtype.
    A JAX function, to compose with `jax.jit`, `jax.grad` and `jax.vmap`; predictions of
    host data go through `jaxann.predict.outputs` (row-exact buckets, the program store).
    """
    x = check_input(params, x)
    return _forward(params, x, check_activation(activation, len(params) - 1))


def objective(params, x, t, sample_weight, activation: str, loss: str, alpha, masks=()):
    """(C, a^L): the cost that training minimises, for rows x (m, n_0), target rows t
    (m, n_L) and sample weights (m,) (`jaxann.losses.batch_cost`), with the outputs a^L
    (m, n_L) beside it; with dropout, through the batch's scaled masks (each (m, n_l),
    `jaxann.dropout`). Both gradient sources differentiate this: `jax.grad` directly,
    `jaxann.deltas.value_and_backprop` by the delta recursion.
    """
    a_L = jax.vmap(_output, in_axes=(None, 0, None, 0))(params, x, activation, masks)
    return batch_cost(params, a_L, t, sample_weight, loss, alpha), a_L


@partial(jax.jit, static_argnames=("activation", "loss"))
def _loss(params, x, t, activation, loss, alpha):
    return objective(params, x, t, jnp.ones(x.shape[0], x.dtype), activation, loss, alpha)[0]


def prepare(params, x, y, activation, loss):
    """Validate names and shapes; return x (m, n_0), target rows t (m, n_L) and the
    activation in its static form (`jaxann.activations.check_activation`)."""
    get_loss(loss)
    x = check_input(params, x)
    activation = check_activation(activation, len(params) - 1)
    if x.ndim == 1:
        x, y = x[None, :], jnp.asarray(y)[None, ...]
    n_L = params[-1]["W"].shape[1]
    t = as_targets(y, n_L, x.shape[0], x.dtype)
    if is_concrete(t) and not bool(jnp.all(jnp.isfinite(t))):
        raise JaxannError("targets y hold NaN or infinite values; expected finite numbers")
    return x, t, activation


def check_alpha(alpha):
    """alpha, refused when it is a known negative or non-finite number."""
    # NumPy's isfinite: a known number needs no device program
    if is_concrete(alpha) and not (np.ndim(alpha) == 0 and bool(np.isfinite(alpha)) and float(alpha) >= 0):
        raise JaxannError(f"alpha {alpha} must be a number >= 0 (the L2 strength)")
    return alpha


def loss(params, x, y, activation: str = "relu", loss: str = "cross_entropy", alpha=0.0):
    """The regularised cost C(theta) of the network on a batch.

        C = 1/m sum_i e(a^L(x_i), y_i) + alpha / (2 m) sum_l ||W^l||^2

    x: (m, n_0) (or one example (n_0,)); y: integer labels (m,) or targets (m, n_L);
    loss: "cross_entropy" (softmax on a^L) or "mse" (on a^L). `jax.grad(loss)` is the
    autodiff counterpart of `jaxann.backprop` with the same arguments.
    """
    x, t, activation = prepare(params, x, y, activation, loss)
    return _loss(params, x, t, activation, loss, check_alpha(alpha))

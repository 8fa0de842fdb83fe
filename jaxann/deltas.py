"""Backpropagation, written out as the lecture's recursion (no jax.grad, vjp or jacobian).

For one training instance (x, y), with the layer numbering of `jaxann.network`:

1. forward pass:         z^l = a^{l-1} @ W^l + b^l,  a^l = h(z^l)  (a^L = z^L, linear)
2. boundary condition:   delta^L = de/dz^L, owned by the cost (`jaxann.losses`):
                         p - y for softmax + cross-entropy, 2 (a^L - y) for MSE
3. backward recursion:   delta^l = (W^{l+1} @ delta^{l+1}) * h'(z^l),  l = L-1 .. 1
4. gradients:            de/dW^l_ij = a^{l-1}_i delta^l_j,   de/db^l_j = delta^l_j

Learning rules that send the error back through other matrices than W^{l+1} replace
step 3 (`rule=`; the output layer's delta^L and step 4 stay as they are):

    feedback_alignment         delta^l = (B^{l+1} @ delta^{l+1}) * h'(z^l), B^{l+1} fixed, random,
                               shaped like W^{l+1}                        (Lillicrap et al. 2016)
    direct_feedback_alignment  delta^l = (B^l @ e) * h'(z^l), e = delta^L sent to every hidden
                               layer through a fixed random B^l (n_l, n_L)      (Nokland 2016)
    sign_symmetry              delta^l = (sign(W^{l+1}) @ delta^{l+1}) * h'(z^l)
                                                                  (Liao, Leibo and Poggio 2016)

Their fixed matrices (`feedback_matrices`) are one per hidden layer, feedback[l - 1] for
layer l, drawn on the host from the run's seed in a stream of their own.

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

from jaxann.activations import get_activation
from jaxann.errors import JaxannError
from jaxann.losses import batch_cost, get_loss
from jaxann.network import check_alpha, feedforward, objective, prepare


RULES = ("backprop", "feedback_alignment", "direct_feedback_alignment", "sign_symmetry")
# the rules whose error travels back through fixed random matrices
FEEDBACK_RULES = ("feedback_alignment", "direct_feedback_alignment")
# every source of an update direction: jax.grad of the cost, or one of the rules above
GRADS = ("autodiff", *RULES)
FEEDBACK_STREAM = 0xFEEDBAC  # the feedback matrices' stream, beside the initialisation's


def feedback_matrices(sizes, rule: str, seed: int, scale: float = 1.0, dtype=np.float32) -> tuple:
    """The fixed random matrices of `rule` for layer sizes [n_0, ..., n_L], one per hidden
    layer l = 1..L-1 (an empty tuple for rules without any): feedback_alignment's B^{l+1}
    (n_l, n_{l+1}), direct_feedback_alignment's B^l (n_l, n_L). Entries uniform in
    [-s, s], s = scale * sqrt(6 / (rows + columns)) (the Glorot bound of the matrix's
    shape), drawn with NumPy from (seed, FEEDBACK_STREAM): the same seed's initial weights
    are untouched, and drawing them compiles nothing."""
    if rule not in FEEDBACK_RULES:
        return ()
    rng = np.random.default_rng((seed, FEEDBACK_STREAM))
    L = len(sizes) - 1
    shapes = [(sizes[l], sizes[l + 1] if rule == "feedback_alignment" else sizes[L]) for l in range(1, L)]
    return tuple((scale * np.sqrt(6.0 / (a + b)) * rng.uniform(-1, 1, (a, b))).astype(dtype) for a, b in shapes)


def _check_rule(rule: str, feedback, L: int):
    if rule not in RULES:
        raise JaxannError(f"unknown learning rule {rule!r}; expected one of: {', '.join(RULES)}")
    if rule in FEEDBACK_RULES and len(feedback) != L - 1:
        raise JaxannError(f"{rule} needs {L - 1} feedback matrices, one per hidden layer "
                          f"(`feedback_matrices`); got {len(feedback)}")


def deltas(params, x, t, activation: str, loss: str, rule: str = "backprop", feedback=()):
    """Steps 1-3 for ONE example x (n_0,) with target row t (n_L,), the error sent back
    by `rule` (through `feedback` for the feedback-alignment rules).

    Returns (activations, deltas): activations[l] = a^l for l = 0..L and
    deltas[l-1] = delta^l for l = 1..L.
    """
    dh = get_activation(activation).dh
    zs, activations = feedforward(params, x, activation)
    L = len(params)
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
        else:  # sign_symmetry
            back = jnp.sign(params[l]["W"]) @ delta
        delta = back * dh(zs[l - 1])
        ds.append(delta)
    return activations, ds[::-1]


def example_gradient(params, x, t, activation: str, loss: str, rule: str = "backprop", feedback=()):
    """Step 4 for ONE example: {"W": outer(a^{l-1}, delta^l), "b": delta^l} per layer, no L2."""
    activations, ds = deltas(params, x, t, activation, loss, rule, feedback)
    return tuple(
        {"W": jnp.outer(a_prev, delta), "b": delta} for a_prev, delta in zip(activations, ds)
    )


def value_and_backprop(params, x, t, sample_weight, activation: str, loss: str, alpha, rule: str = "backprop",
                       feedback=()):
    """((C, a^L), dC/dtheta) for rows x (m, n_0), target rows t (m, n_L), sample weights (m,).

    The value and output of `jaxann.network.objective` (weight 0 marks padding, M = the
    weights' sum), with the gradient from the delta recursion instead of autodiff -- or,
    for another `rule`, that rule's update direction in the gradient's place.
    """
    activations, ds = jax.vmap(deltas, in_axes=(None, 0, 0, None, None, None, None))(
        params, x, t, activation, loss, rule, feedback
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
    another `rule` (and its `feedback` matrices), that rule's update direction.

    x: (m, n_0) (or one example (n_0,)); y: integer labels (m,) or targets (m, n_L).
    Returns a tuple of {"W": (n_{l-1}, n_l), "b": (n_l,)}, like params.
    """
    x, t = prepare(params, x, y, activation, loss)
    return _backprop(params, x, t, activation, loss, check_alpha(alpha), rule, tuple(feedback))


def autodiff(params, x, t, sample_weight, activation, loss, alpha, feedback=()):
    """((C, a^L), jax.grad of the objective): the true gradient, in `value_and_gradient`'s form."""
    return jax.value_and_grad(objective, has_aux=True)(params, x, t, sample_weight, activation, loss, alpha)


def value_and_gradient(grad: str) -> Callable:
    """((C, a^L), update direction) for (params, x, t, sample_weight, activation, loss,
    alpha, feedback): `jax.grad` of the objective, or the delta recursion of `grad`'s rule."""
    if grad == "autodiff":
        return autodiff
    return lambda *args, feedback=(): value_and_backprop(*args, rule=grad, feedback=feedback)

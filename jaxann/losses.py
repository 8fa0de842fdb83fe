"""Costs on the output layer's activation a^L, their output-layer deltas, and L2.

Shapes: a^L is (m, n_L) for a batch or (n_L,) for one example; targets y are integer
class labels (m,) or targets / one-hot rows (m, n_L) (for one example: a scalar label or
(n_L,)). The output layer is linear (a^L = z^L); the costs apply softmax themselves.

Per example (the lecture's e; the batch cost C is the mean of e over the m examples):

    cross_entropy:         e = -sum_j y_j log p_j,  p = softmax(a^L)
    mse:                   e =  sum_j (a^L_j - y_j)^2     (the lecture's MSE: no 1/2, no 1/n_L)
    binary_cross_entropy:  e = -sum_j [y_j log s_j + (1 - y_j) log(1 - s_j)],  s = sigmoid(a^L)
                           (independent yes/no outputs: binary and multilabel classification)
    squared_error:         e =  1/2 sum_j (a^L_j - y_j)^2  (scikit-learn's regression objective)
    poisson:               e =  sum_j [y_j log(y_j / mu_j) - y_j + mu_j],  mu = exp(a^L)
                           (half the Poisson deviance with a log link: counts, rates)

Regularisation, scikit-learn's convention (m = rows in the batch, biases not penalised):

    l2 = alpha / (2 m) * sum_l ||W^l||^2

Each cost owns its output-layer delta, delta^L = de/dz^L, used by the delta recursion (`jaxann.deltas`).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.errors import JaxannError
from jaxann.inputs import check_labels, is_concrete


def softmax(a: jax.Array) -> jax.Array:
    """p_j = exp(a_j) / sum_j' exp(a_j') over the last axis.

    The largest a_j is subtracted first (softmax is unchanged by a shift), so exp never
    overflows, even for |a| of 1e4.
    """
    e = jnp.exp(a - jax.lax.stop_gradient(a.max(axis=-1, keepdims=True)))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(a: jax.Array) -> jax.Array:
    """log p_j = a_j - log sum_j' exp(a_j'), computed from the shifted logits.

    Never log(softmax(a)): that is -inf where p underflows to 0, and its gradient NaN.
    """
    shifted = a - jax.lax.stop_gradient(a.max(axis=-1, keepdims=True))
    return shifted - jnp.log(jnp.exp(shifted).sum(axis=-1, keepdims=True))


# --- per-example costs e(a^L, y) and their deltas, with y a target row (n_L,) -------------

def _cross_entropy_e(a, y):
    return -jnp.sum(y * log_softmax(a))


def _cross_entropy_delta(a, y):
    # e = -sum_j y_j log p_j with p = softmax(a). Softmax is not elementwise, so the
    # lecture's de/da^L * h'(z^L) is replaced by the full chain rule through the Jacobian
    # dp_j/da_k = p_j (delta_jk - p_k):
    #   de/da_k = -sum_j y_j (delta_jk - p_k) = p_k sum_j y_j - y_k.
    # For one-hot (or any probability) targets sum_j y_j = 1, giving delta^L = p - y.
    # We keep the general form so the delta equals autodiff for any targets.
    return softmax(a) * jnp.sum(y) - y


def _mse_e(a, y):
    r = a - y
    return jnp.sum(r * r)


def _mse_delta(a, y):
    # e = sum_j (a_j - y_j)^2 and the output layer is linear (h' = 1):
    #   delta^L = de/da^L * h'(z^L) = 2 (a - y)
    return 2 * (a - y)


def _binary_cross_entropy_e(a, y):
    # log s = -softplus(-a), log(1 - s) = -softplus(a): finite for any a, so
    #   e = sum_j [y_j softplus(-a_j) + (1 - y_j) softplus(a_j)]
    return jnp.sum(y * jnp.logaddexp(-a, 0) + (1 - y) * jnp.logaddexp(a, 0))


def _binary_cross_entropy_delta(a, y):
    # ds/da = s (1 - s) cancels the denominators of de/ds = -y/s + (1 - y)/(1 - s):
    #   delta^L = s - y, elementwise (each output is its own logistic unit)
    return jax.nn.sigmoid(a) - y


def _squared_error_e(a, y):
    r = a - y
    return 0.5 * jnp.sum(r * r)


def _squared_error_delta(a, y):
    # the 1/2 cancels the 2 of the square: delta^L = a - y (linear output)
    return a - y


def _poisson_e(a, y):
    # scikit-learn's half Poisson deviance (its poisson_loss), y log(y / mu) - y + mu with
    # 0 log 0 = 0, written with log mu = a: xlogy(y, y / mu)'s gradient is NaN at y = 0
    return jnp.sum(jax.scipy.special.xlogy(y, y) - y * a - y + jnp.exp(a))


def _poisson_delta(a, y):
    # de/da_j = -y_j + mu_j: the log link is the Poisson loss's canonical one, so
    #   delta^L = exp(a^L) - y
    return jnp.exp(a) - y


class Loss(NamedTuple):
    """A per-example cost e(a^L, y) and its output-layer delta de/dz^L."""

    e: Callable[[jax.Array, jax.Array], jax.Array]
    delta: Callable[[jax.Array, jax.Array], jax.Array]


LOSSES: dict[str, Loss] = {
    "cross_entropy": Loss(_cross_entropy_e, _cross_entropy_delta),
    "mse": Loss(_mse_e, _mse_delta),
    "binary_cross_entropy": Loss(_binary_cross_entropy_e, _binary_cross_entropy_delta),
    "squared_error": Loss(_squared_error_e, _squared_error_delta),
    "poisson": Loss(_poisson_e, _poisson_delta),
}

# the output activation that turns a^L into a prediction, for the losses that have one
# (the others' a^L is the prediction, or their estimator picks a class from it)
OUTPUT_LINKS = {"poisson": "exp"}


def get_loss(name: str) -> Loss:
    """Look a cost up by name; an unknown name raises ValueError listing the valid ones."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise JaxannError(f"unknown loss {name!r}; expected one of: {', '.join(LOSSES)}") from None


def one_hot(labels, n_out: int, dtype):
    """Rows (m, n_out) with a 1 in each label's column: NumPy for labels on the host (no
    device program), `jax.nn.one_hot` for traced ones."""
    if not is_concrete(labels):
        return jax.nn.one_hot(labels, n_out, dtype=dtype)
    return np.eye(n_out, dtype=dtype)[np.asarray(labels).astype(np.intp)]


def as_targets(y, n_out: int, m: int, dtype) -> jax.Array:
    """Target rows (m, n_out) from integer labels (m,) (one-hot) or targets (m, n_out) (as
    dtype): NumPy for host arrays (training's rows, no device program), JAX for JAX ones.

    Raises ValueError for a wrong shape, and for labels outside 0..n_out-1 when their
    values are known (not under a jax transformation, where they cannot be inspected).
    """
    y = y if isinstance(y, (jax.Array, np.ndarray)) else np.asarray(y)
    if jnp.issubdtype(y.dtype, jnp.integer) or y.dtype == jnp.bool_:
        if y.shape != (m,):
            raise JaxannError(
                f"integer labels y have shape {y.shape}; expected ({m},), one label per row of x"
            )
        check_labels(y, n_out)
        return one_hot(y, n_out, dtype)
    if y.shape != (m, n_out):
        raise JaxannError(
            f"targets y have shape {y.shape}; expected ({m}, {n_out}) to match x's {m} rows "
            f"and the output layer's {n_out} units (or integer labels of shape ({m},))"
        )
    return y.astype(dtype)


def _batch(a_L, y, e):
    a_L = jnp.asarray(a_L)
    single = a_L.ndim == 1
    a2 = a_L[None, :] if single else a_L
    y2 = jnp.asarray(y)
    y2 = y2[None, ...] if single else y2
    t = as_targets(y2, a2.shape[-1], a2.shape[0], a2.dtype)
    return jnp.mean(jax.vmap(e)(a2, t))


def cross_entropy(a_L, y) -> jax.Array:
    """C = -1/m sum_i sum_j y_ij log softmax(a^L_i)_j: the mean per-example cross-entropy.

    a_L: (m, n_L) or (n_L,); y: labels (m,) / targets (m, n_L), or one example's.
    """
    return _batch(a_L, y, _cross_entropy_e)


def mse(a_L, y) -> jax.Array:
    """MSE = 1/m sum_i sum_j (a^L_ij - y_ij)^2, as the lecture defines it.

    a_L: (m, n_L) or (n_L,); y: labels (m,) (one-hot encoded) / targets (m, n_L).
    """
    return _batch(a_L, y, _mse_e)


def batch_cost(params, a_L, t, sample_weight, loss: str, alpha) -> jax.Array:
    """C for a batch: outputs a_L (m, n_L), target rows t (m, n_L), sample weights (m,).

        C = 1/M sum_i sample_weight_i e(a^L_i, t_i) + alpha / (2 M) sum_l ||W^l||^2,
        M = sum_i sample_weight_i

    A weight of 0 marks a padding row (a ragged last batch padded to full size), so the
    mean and the L2 term use the real batch size; all ones give the lecture's C.
    """
    M = jnp.sum(sample_weight)
    return jnp.sum(sample_weight * jax.vmap(get_loss(loss).e)(a_L, t)) / M + l2_penalty(params, alpha, M)


def _clipped(p):
    eps = jnp.finfo(p.dtype).eps
    return jnp.clip(p, eps, 1 - eps)


# scikit-learn's per-row values of the costs it reports (its neural_network._base losses):
# probabilities clipped to [eps, 1 - eps] before the log, squared error averaged over outputs
_REPORTED = {
    "cross_entropy": lambda a, t: -jnp.sum(jax.scipy.special.xlogy(t, _clipped(softmax(a))), axis=-1),
    "binary_cross_entropy": lambda a, t: -jnp.sum(
        jax.scipy.special.xlogy(t, _clipped(jax.nn.sigmoid(a)))
        + jax.scipy.special.xlogy(1 - t, 1 - _clipped(jax.nn.sigmoid(a))), axis=-1),
    "squared_error": lambda a, t: 0.5 * jnp.mean((a - t) ** 2, axis=-1),
}


def reported_cost(C, params, a_L, t, sample_weight, loss: str, alpha):
    """The batch cost as scikit-learn reports it (its loss_curve_, loss_, the value its
    L-BFGS minimises and its stopping rule compares), for outputs a_L (m, n_L), target
    rows t and sample weights (m,): C (`batch_cost`) itself for mse and poisson; for the
    others scikit-learn's own formulas, which differ from the cost whose gradient both
    descend where probabilities come within eps of 0 or 1 (clipped there) and, for
    squared_error, on n_L > 1 outputs (the data term averaged over the outputs; the
    gradient is the sum's)."""
    if loss not in _REPORTED:
        return C
    M = jnp.sum(sample_weight)
    return jnp.sum(sample_weight * _REPORTED[loss](a_L, t)) / M + l2_penalty(params, alpha, M)


def reported_rows(a_L, t, loss: str) -> jax.Array:
    """Each row's cost (m,) as scikit-learn reports it, for outputs a_L (m, n_L) and target
    rows t: the per-row terms of `reported_cost` without the L2 term (the validation loss
    is their weighted mean)."""
    if loss in _REPORTED:
        return _REPORTED[loss](a_L, t)
    return jax.vmap(get_loss(loss).e)(a_L, t)


def l2_penalty(params, alpha, m) -> jax.Array:
    """alpha / (2 m) * sum_l ||W^l||^2 over the weights only (biases are not penalised)."""
    sq = sum(jnp.sum(layer["W"] * layer["W"]) for layer in params)
    return alpha / (2 * m) * sq

"""Full-batch L-BFGS: SciPy's L-BFGS-B driving one compiled objective-and-gradient program.

    result = minimize(config, x, t, sample_weight, params, max_fun=15000)

This is scikit-learn's `solver='lbfgs'`: `scipy.optimize.minimize(method="L-BFGS-B",
jac=True)` with maxiter = config.epochs, maxfun = max_fun and gtol = config.tol, over the
parameters packed into one float64 vector in scikit-learn's order (every W^l row-major,
then every b^l). Each evaluation sends that vector to the device, where one compiled
program unpacks it, computes the whole-data cost C (as scikit-learn reports it,
`losses.reported_cost`) and its gradient (`jax.grad` or the explicit backprop, as
config.grad says) and packs the gradient; only the vector and the gradient cross between
host and device. The data go to the device once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from jaxann import compiling
from jaxann.deltas import value_and_gradient
from jaxann.config import TrainConfig
from jaxann.losses import reported_cost
from jaxann.network import layer_sizes


@dataclass
class Outcome:
    """What L-BFGS-B ended with: the parameters, their cost, SciPy's status (0 converged,
    1 an iteration or evaluation limit reached, 2 stopped otherwise) and message. `scipy` is
    SciPy's OptimizeResult (iterations, evaluations, ...), for callers that check it as
    scikit-learn does; each iteration's loss and seconds go to `minimize`'s callback."""

    params: tuple
    loss: float
    fit_seconds: float  # from the first evaluation to the end (compilation excluded)
    status: int
    message: str
    scipy: object


def pack(params) -> np.ndarray:
    """The parameters as one float64 vector, scikit-learn's order: all W^l, then all b^l."""
    leaves = [layer["W"] for layer in params] + [layer["b"] for layer in params]
    return np.concatenate([np.asarray(a, np.float64).ravel() for a in leaves])


def unpack(vector, sizes, dtype):
    """The parameter tuple of layer sizes `sizes` from `pack`'s vector (NumPy or traced)."""
    shapes = list(zip(sizes[:-1], sizes[1:]))
    n_w = sum(a * b for a, b in shapes)
    layers, w_at, b_at = [], 0, n_w
    for fan_in, fan_out in shapes:
        W = vector[w_at:w_at + fan_in * fan_out].reshape(fan_in, fan_out).astype(dtype)
        b = vector[b_at:b_at + fan_out].astype(dtype)
        layers.append({"W": W, "b": b})
        w_at, b_at = w_at + fan_in * fan_out, b_at + fan_out
    return tuple(layers)


def _program(config: TrainConfig, sizes, args):
    """The compiled (vector, x, t, sample_weight, alpha, x_divisor) -> (C, dC/dvector)."""
    dtype = jnp.dtype(config.dtype)
    value_and_grad = value_and_gradient(config.grad)

    def build():
        def cost_and_gradient(vector, x, t, sample_weight, alpha, x_divisor):
            params = unpack(vector, sizes, dtype)
            if x_divisor is not None:  # raw rows (uint8 pixels) to features
                x = x.astype(dtype) / x_divisor
            weight = jnp.ones(x.shape[0], dtype) if sample_weight is None else sample_weight
            (C, a_L), g = value_and_grad(params, x, t, weight, config.activation, config.loss, alpha)
            C = reported_cost(C, params, a_L, t, weight, config.loss, alpha)
            flat = jnp.concatenate([layer["W"].ravel() for layer in g] + [layer["b"] for layer in g])
            return C, flat

        return cost_and_gradient

    program, _ = compiling.compiled("lbfgs", build, args, key=(config.program_config(), tuple(sizes)))
    return program


def minimize(config: TrainConfig, x, t, sample_weight, params, *, max_fun: int = 15000, x_divisor=None,
             callback=None) -> Outcome:
    """L-BFGS-B from params on the whole of rows x (n, n_0), target rows t (n, n_L) and
    sample weights (n,) or None; config.epochs iterations at most, max_fun evaluations.

    callback(iteration, loss, seconds, params) runs after each iteration (the estimators'
    verbose report prints from there).
    """
    dtype = jnp.dtype(config.dtype)
    sizes = layer_sizes(params)
    data = (jax.device_put(np.asarray(x, dtype) if x_divisor is None else x), jax.device_put(np.asarray(t, dtype)),
            None if sample_weight is None else jax.device_put(np.asarray(sample_weight, dtype)),
            np.asarray(config.alpha, dtype), None if x_divisor is None else np.asarray(x_divisor, dtype))
    x0 = pack(params)
    program = _program(config, sizes, (x0.astype(dtype), *data))
    start = time.perf_counter()

    def cost_and_gradient(vector):
        C, g = jax.device_get(program(vector.astype(dtype), *data))
        return float(C), np.asarray(g, np.float64)

    clock = [start, 0]  # the last iteration's end (after the compilation: training alone), iterations

    def after_iteration(intermediate_result):
        now = time.perf_counter()
        seconds, clock[0] = now - clock[0], now
        clock[1] += 1
        if callback is not None:
            callback(clock[1], float(intermediate_result.fun), seconds,
                     unpack(np.asarray(intermediate_result.x), sizes, dtype))

    options = {"maxfun": max_fun, "maxiter": config.epochs, "gtol": config.tol}
    result = scipy.optimize.minimize(cost_and_gradient, x0, method="L-BFGS-B", jac=True, options=options,
                                     callback=after_iteration)
    final = unpack(result.x, sizes, dtype)
    return Outcome(final, float(result.fun), time.perf_counter() - start, int(result.status), str(result.message),
                   result)

"""Prediction and scoring on the host: outputs, classes, accuracy.

    outputs(params, x, activation, link)   a^L (or softmax / logistic of it) as NumPy, row-exact
    predict(params, x, activation)         argmax_j a^L_j
    accuracy(params, x, y, activation)     the (weighted) fraction predicted right
"""

from __future__ import annotations

import jax
import numpy as np

from jaxann import compiling
from jaxann.errors import JaxannError
from jaxann.network import feedforward

LINKS = {"identity": lambda a: a, "softmax": jax.nn.softmax, "logistic": jax.nn.sigmoid}
BUCKET_STEP = 4096


def bucket(m: int) -> int:
    """The padded row count for m rows: the next power of two from 8 to BUCKET_STEP, then
    the next multiple of BUCKET_STEP. Few sizes, so few programs; at most 2x the rows
    below 4096 and under 7% above 60,000."""
    if m <= BUCKET_STEP:
        return max(8, 1 << (m - 1).bit_length())
    return -(-m // BUCKET_STEP) * BUCKET_STEP


def outputs(params, x, activation: str = "relu", link: str = "identity") -> np.ndarray:
    """The output layer's a^L (m, n_L) for rows x (m, n_0), through `link` ("identity",
    "softmax" or "logistic"): one compiled program per bucket of row counts (`bucket`).

    Each row's values are independent of where the row stands in x: XLA's CPU matmul
    computes the last m % 8 rows with another kernel, whose float32 sums round differently
    in the last bit, and every bucket is a multiple of 8, so predicting shuffled rows gives
    the shuffled predictions exactly (scikit-learn's estimator checks ask for that to 1e-7).
    """
    x = np.asarray(x, params[0]["W"].dtype)
    if x.ndim != 2 or x.shape[1] != params[0]["W"].shape[0] or not np.isfinite(x).all():
        raise JaxannError(f"x has shape {x.shape} or non-finite values; expected finite rows "
                          f"(m, {params[0]['W'].shape[0]})")
    m = x.shape[0]
    padded = np.zeros((bucket(m), x.shape[1]), x.dtype)
    padded[:m] = x
    args = (jax.device_put(params), jax.device_put(padded))

    def build():
        def outputs(params, x):
            a_L = jax.vmap(lambda row: feedforward(params, row, activation)[1][-1])(x)
            return LINKS[link](a_L)
        return outputs

    program, _ = compiling.compiled("outputs", build, args, key=(activation, link))
    return np.asarray(program(*args))[:m]


def predict(params, x, activation: str = "relu") -> np.ndarray:
    """Class indices argmax_j a^L_j for rows x (m, n_0)."""
    return outputs(params, x, activation).argmax(axis=-1)


def accuracy(params, x, y, activation: str = "relu", sample_weight=None) -> float:
    """The fraction of rows x whose predicted class is the label y (m,) (or argmax of
    targets); with sample_weight (m,), the fraction of the weight."""
    y = np.asarray(y)
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    if not len(labels):
        return float("nan")
    return float(np.average(predict(params, x, activation) == labels, weights=sample_weight))

"""Prediction and scoring on the host: outputs, classes, accuracy.

    outputs(params, x, activation, link)   a^L (or softmax / logistic of it) as NumPy, row-exact
    predict(params, x, activation)         argmax_j a^L_j
    accuracy(params, x, y, activation)     the (weighted) fraction predicted right
"""

from __future__ import annotations

import jax
import numpy as np

from jaxann.network import forward

ROW_BLOCK = 8
LINKS = {"identity": None, "softmax": jax.nn.softmax, "logistic": jax.nn.sigmoid}


def outputs(params, x, activation: str = "relu", link: str = "identity") -> np.ndarray:
    """The output layer's a^L (m, n_L) for rows x (m, n_0), through `link` ("identity",
    "softmax" or "logistic"), each row's values independent of where the row stands in x.

    XLA's CPU matmul computes the last m % 8 rows with another kernel, whose float32 sums
    round differently in the last bit; with the rows padded to a multiple of ROW_BLOCK
    every row goes through the same kernel, so predicting shuffled rows gives the shuffled
    predictions exactly (scikit-learn's estimator checks ask for that to 1e-7).
    """
    x = np.asarray(x, params[0]["W"].dtype)
    m = x.shape[0]
    padded = np.zeros((-(-m // ROW_BLOCK) * ROW_BLOCK, *x.shape[1:]), x.dtype)
    padded[:m] = x
    a_L = np.asarray(forward(params, padded, activation))[:m]
    return a_L if LINKS[link] is None else np.asarray(LINKS[link](a_L))


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

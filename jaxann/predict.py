"""Prediction and scoring on the host: outputs, classes, accuracy.

    outputs(params, x, activation, link)   a^L (or softmax / logistic of it) as NumPy, row-exact
    predict(params, x, activation)         argmax_j a^L_j
    stacked_outputs(params, x, rows, ...)  K stacked models' outputs, each on its own rows
    accuracy(params, x, y, activation)     the (weighted) fraction predicted right

The activation has no default: bare parameters do not say which one they were trained
with, and a wrong one gives wrong numbers silently (`jaxann.load_model` reads a saved
model that says).
"""

from __future__ import annotations

import jax
import numpy as np

from jaxann import compiling
from jaxann.compiling import in_params_precision
from jaxann.activations import check_activation
from jaxann.errors import JaxannError
from jaxann.inputs import check_rows
from jaxann.network import feedforward

LINKS = {"identity": lambda a: a, "softmax": jax.nn.softmax, "logistic": jax.nn.sigmoid, "exp": jax.numpy.exp}
CHUNK = 4096


def bucket(m: int) -> int:
    """The padded row count of a call of m rows: the next power of two from 8 up to CHUNK.
    Larger inputs go through in chunks of CHUNK rows, the last one padded to CHUNK too, so
    every input of more than CHUNK rows (a training set and its test set) shares one
    program. Few sizes, so few programs."""
    return max(8, 1 << (min(m, CHUNK) - 1).bit_length())


@in_params_precision
def outputs(params, x, activation: str, link: str = "identity", x_divisor: float | None = None) -> np.ndarray:
    """The output layer's a^L (m, n_L) for rows x (m, n_0), through `link` ("identity", "exp",
    "softmax" or "logistic"), by one compiled program per bucket of row counts (`bucket`;
    more than CHUNK rows go through CHUNK at a time, only the last chunk padded (to CHUNK),
    so no padded copy of a large x is made).

    Each row's values are independent of where the row stands in x: a matmul may sum the
    last m % 8 rows in another order (XLA's CPU one does), and every bucket is a multiple
    of 8, so predicting shuffled rows gives the shuffled predictions exactly (scikit-learn's
    estimator checks ask for that to 1e-7; tested).
    x_divisor: x holds raw rows (e.g. uint8 pixels) whose features are x / x_divisor.
    """
    dtype = np.dtype(params[0]["W"].dtype)
    n_0 = params[0]["W"].shape[0]
    activation = check_activation(activation, len(params) - 1)  # static: a tuple, not a list
    x = check_rows(np.asarray(x), n_0, empty=True)
    x = np.asarray(x, dtype) if x_divisor is None else x
    # host arrays go to the program's call as they are: it copies them to the device faster
    # than jax.device_put would
    divisor = () if x_divisor is None else (np.asarray(x_divisor, dtype),)

    def build():
        def outputs(params, x, *divisor):
            if divisor:  # raw rows (uint8 pixels) to features, as training makes them
                x = x.astype(dtype) / divisor[0]
            a_L = jax.vmap(lambda row: feedforward(params, row, activation)[1][-1])(x)
            return LINKS[link](a_L)
        return outputs

    parts = []  # each chunk's a^L, dispatched before any is read back
    size = CHUNK if x.shape[0] > CHUNK else bucket(x.shape[0])  # every chunk's rows, padded
    for start in range(0, x.shape[0], CHUNK):
        rows = x[start:start + CHUNK]
        m = rows.shape[0]
        if m < size:
            rows = np.concatenate([rows, np.zeros((size - m, n_0), x.dtype)])
        args = (params, rows, *divisor)
        program, _ = compiling.compiled("outputs", build, args, key=(activation, link))
        parts.append(program(*args))
    if len(parts) == 1:  # a writable copy of the real rows only
        return np.array(np.asarray(parts[0])[:x.shape[0]])
    if not parts:
        return np.zeros((0, params[-1]["W"].shape[1]), dtype)
    return np.concatenate([np.asarray(part) for part in parts])[:x.shape[0]]


def predict(params, x, activation: str, x_divisor: float | None = None) -> np.ndarray:
    """Class indices argmax_j a^L_j for rows x (m, n_0) (raw rows / x_divisor, when given)."""
    return outputs(params, x, activation, x_divisor=x_divisor).argmax(axis=-1)


def accuracy(params, x, y, activation: str, sample_weight=None, x_divisor: float | None = None) -> float:
    """The fraction of rows x whose predicted class is the label y (m,) (or argmax of
    targets); with sample_weight (m,), the fraction of the weight; x_divisor as `outputs`.
    Through `outputs`' programs, so a training set and its test set share one."""
    y = np.asarray(y)
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    if not len(labels):
        return float("nan")
    x = check_rows(np.asarray(x), params[0]["W"].shape[0])
    if len(labels) != x.shape[0]:
        raise JaxannError(f"y has {len(labels)} rows for {x.shape[0]} rows of x")
    w = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    right = predict(params, x, activation, x_divisor) == labels
    return float(np.sum(w * right) / np.sum(w))


@in_params_precision
def validation_outputs(params, x, t, sample_weight, activation: str, link: str, loss: str, rows=None,
                       gather=np.asarray):
    """A validation set's outputs and loss, from one compiled call: (a^L through `link`,
    the validation loss sum_i w_i l_i / sum_i w_i), l_i row i's cost as scikit-learn reports
    it (`jaxann.losses.reported_rows`: the training loss's per-row formula, no L2 term).

    One model: params unstacked, x (m, n_0), t (m, n_L) target rows, sample_weight (m,) or
    None; returns ((m, n_L), a float). K stacked models (rows given): x, t, sample_weight
    hold every row (on the device already, as a batched fit places them) and rows (K, m)
    each model's; returns ((K, m, n_L), (K,)). Each row's a^L as `stacked_outputs`'s."""
    from jaxann.losses import reported_rows

    def model_values(params, x, t, w):
        a_L = jax.vmap(lambda row: feedforward(params, row, activation)[1][-1])(x)
        return LINKS[link](a_L), jax.numpy.sum(w * reported_rows(a_L, t, loss)) / jax.numpy.sum(w)

    def build():
        if rows is None:
            return model_values
        return jax.vmap(lambda params, x, t, w, rows: model_values(params, x[rows], t[rows], w[rows]),
                        in_axes=(0, None, None, None, 0))

    if sample_weight is None:
        sample_weight = np.ones(np.shape(t)[0], np.asarray(t).dtype if isinstance(t, np.ndarray) else t.dtype)
    args = (params, x, t, sample_weight) + (() if rows is None else (np.asarray(rows, np.int32),))
    key = (activation, link, loss, rows is None)
    program, _ = compiling.compiled("validation", build, args, key=key)
    a, losses = (gather(v) for v in program(*args))
    return np.asarray(a), (float(losses) if rows is None else np.asarray(losses, np.float64))


@in_params_precision
def stacked_outputs(params, x, rows, activation: str, link: str = "identity", gather=np.asarray) -> np.ndarray:
    """K stacked models' outputs on their own rows: a^L through `link` (K, m, n_L) for
    params with a leading model axis, x (n, n_0) (on the device already, as a sweep holds
    it) and rows (K, m), model k's row numbers of x. One compiled call; each row's a^L as
    `outputs` computes it (one row at a time under vmap)."""
    def build():
        def model_outputs(params, x, rows):
            a_L = jax.vmap(lambda row: feedforward(params, row, activation)[1][-1])(x[rows])
            return LINKS[link](a_L)
        return jax.vmap(model_outputs, in_axes=(0, None, 0))

    args = (params, x, np.asarray(rows, np.int32))
    program, _ = compiling.compiled("outputs", build, args, key=(activation, link, "models"))
    return gather(program(*args))

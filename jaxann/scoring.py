"""Scores of one model or of many stacked models, each from one compiled call per data set.

    scorer = Scorer(x, y, activation)            the data on the device, once
    scorer(params, rows, models=True)            (K,) scores of K stacked models

The score is accuracy for class labels y (n,) (the weighted share of rows whose argmax
a^L is the label) and R^2 for targets y (n, n_out) (scikit-learn's `r2_score`, averaged
over the outputs, on a^L through the loss's output link). rows picks each model's rows
of x: (m,) shared by every model, or (K, m), one set per model (a sweep's models each
score on their own validation rows); the program gathers them itself, so x is never
copied per model.

A row's a^L is computed as `jaxann.predict.outputs` computes it (one row at a time under
vmap), so a model's accuracy here equals `jaxann.predict.accuracy` of it.

The same program sums each model's loss on the rows (`measures`): sum_i w_i l_i / sum_i w_i,
l_i row i's cost as scikit-learn reports it for the loss (`jaxann.losses.reported_rows`:
the training loss's per-row formula, without the L2 term), labels taken as one-hot rows.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxann import compiling
from jaxann.compiling import precision
from jaxann.activations import check_activation
from jaxann.losses import OUTPUT_LINKS, reported_rows
from jaxann.network import feedforward

CHUNK = 2048  # rows per step of the program's loop (bounds the K x rows x units intermediates)


class Scorer:
    """A data set placed on the device(s) once, and the score of any models on it.

    x (n, n_0) rows (raw rows whose features are x / x_divisor, when given, as training
    reads them); y (n,) labels or (n, n_out) targets; sample_weight (n,) or None. put
    places the data (default: the default device); score = scorer(params, ...).
    """

    def __init__(self, x, y, activation: str, *, loss: str = "cross_entropy", sample_weight=None,
                 x_divisor: float | None = None, dtype=np.float32, put=jax.device_put):
        y = np.asarray(y)
        self.labels = y.ndim == 1
        # the activation static and hashable (a list as a tuple), its names known
        self.activation = check_activation(activation)
        self.link, self.raw = OUTPUT_LINKS.get(loss, "identity"), x_divisor is not None
        self.loss = loss
        self.dtype = np.dtype(dtype)
        self.n = np.shape(x)[0]
        self.weight = np.ones(self.n) if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.y = y
        with precision(self.dtype):
            self.data = put((np.asarray(x) if self.raw else np.asarray(x, self.dtype),
                             y.astype(np.int32) if self.labels else np.asarray(y, self.dtype),
                             self.weight.astype(self.dtype),
                             np.asarray(1 if x_divisor is None else x_divisor, self.dtype)))

    def __call__(self, params, rows=None, *, models: bool = False, feed=None, gather=np.asarray) -> np.ndarray:
        """Each model's score, a NumPy array (K,) ((1,) for one model). rows: (m,) row
        numbers shared by the models, or (K, m) one set per model (default: all rows).
        feed places the per-model row numbers beside stacked parameters split over
        several devices; gather reads the result back to the host."""
        return self.measures(params, rows, models=models, feed=feed, gather=gather)[0]

    def measures(self, params, rows=None, *, models: bool = False, feed=None, gather=np.asarray):
        """(each model's score, each model's loss), NumPy arrays (K,), from one call of the
        program (see `__call__` for the arguments)."""
        with precision(self.dtype):
            return self._measures(params, rows, models, feed, gather)

    def _measures(self, params, rows, models, feed, gather):
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        m = rows.shape[-1]
        if m == 0:
            nothing = np.full(rows.shape[0] if rows.ndim == 2 else 1, np.nan)
            return nothing, nothing
        m_pad = -(-m // CHUNK) * CHUNK if m > CHUNK else max(8, 1 << (m - 1).bit_length())
        chunk = min(CHUNK, m_pad)
        idx = np.pad(rows, [(0, 0)] * (rows.ndim - 1) + [(0, m_pad - m)]).astype(np.int32)
        real = np.pad(np.ones(m, self.dtype), (0, m_pad - m))
        if feed is not None and idx.ndim == 2:
            idx = feed(idx)
        args = (params, *self.data, idx, real)
        key = (self.activation, self.labels, self.link, self.loss, self.raw, models, chunk)
        program, _ = compiling.compiled("scores", lambda: self._program(models, np.ndim(idx) == 1, chunk), args, key)
        sums, losses = (np.asarray(gather(v), np.float64) for v in program(*args))
        sums, losses = (sums, losses) if models else (sums[None], losses[None])
        w = self.weight[np.broadcast_to(rows, (sums.shape[0], m))]
        return self._scores(sums, rows, m), losses / w.sum(axis=1)

    def _program(self, models: bool, shared: bool, chunk: int):
        activation, labels, link, raw, dtype, loss = (self.activation, self.labels, self.link, self.raw, self.dtype,
                                                      self.loss)

        def model_sums(params, x, target, weight, divisor, idx, real):
            def step(totals, part):
                total, loss_total = totals
                i, r = part
                rows_x = x[i].astype(dtype) / divisor if raw else x[i]
                a_L = jax.vmap(lambda row: feedforward(params, row, activation)[1][-1])(rows_x)
                w = weight[i] * r
                t = jax.nn.one_hot(target[i], a_L.shape[-1], dtype=dtype) if labels else target[i]
                loss_total = loss_total + jnp.sum(w * reported_rows(a_L, t, loss))
                if labels:
                    return (total + jnp.sum(w * (jnp.argmax(a_L, axis=-1) == target[i])), loss_total), None
                pred = jnp.exp(a_L) if link == "exp" else a_L
                return (total + jnp.sum(w[:, None] * (target[i] - pred) ** 2, axis=0), loss_total), None

            zero = jnp.zeros((), dtype) if labels else jnp.zeros(target.shape[1], dtype)
            parts = (idx.reshape(-1, chunk), real.reshape(-1, chunk))
            return jax.lax.scan(step, (zero, jnp.zeros((), dtype)), parts)[0]

        if not models:
            return model_sums
        return jax.vmap(model_sums, in_axes=(0, None, None, None, None, None if shared else 0, None))

    def _scores(self, sums, rows, m) -> np.ndarray:
        rows_of = np.broadcast_to(rows, (sums.shape[0], m))
        w = self.weight[rows_of]
        if self.labels:
            return sums / w.sum(axis=1)
        # R^2 = 1 - SS_res / SS_tot per output, SS_tot about each model's weighted mean (on the
        # host, in float64); an output whose targets are constant scores 1 if fitted exactly, else 0
        t = np.asarray(self.y, np.float64)[rows_of]
        mean = np.einsum("km,kmo->ko", w, t) / w.sum(axis=1)[:, None]
        total = np.einsum("km,kmo->ko", w, (t - mean[:, None, :]) ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(total > 0, 1 - sums / np.where(total > 0, total, 1), np.where(sums == 0, 1.0, 0.0))
        return r2.mean(axis=1)


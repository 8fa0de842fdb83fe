"""Training data as `fit` accepts it: checks, sample weights, and the validation split.

On the host (NumPy), or on a JAX array's known values (a tracer's are not known: only its
shape and dtype are checked); a rejected input raises `JaxannError` saying what was wrong
and what was expected. `check_rows` is the one check of rows x (training, prediction, the
math functions), `check_labels` the one check of class labels, `is_concrete` the one test
for traced values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.errors import JaxannError


def is_concrete(a) -> bool:
    """True when a's values can be read (not a tracer inside jit, grad or vmap)."""
    return not isinstance(a, jax.core.Tracer)


def all_finite(a: np.ndarray) -> bool:
    """Whether every entry of host array a is finite. Integers always are; for floats a
    finite sum proves it (a NaN or an infinity makes the sum NaN or infinite) without the
    boolean copy of a that `np.isfinite(a).all()` makes (0.1 s on MNIST's training set);
    only a sum that overflows is checked entry by entry."""
    if not np.issubdtype(a.dtype, np.inexact):
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(a)
    return bool(np.isfinite(total)) or bool(np.isfinite(a).all())


def check_rows(x, n_0: int | None = None, *, single: bool = False, empty: bool = False):
    """x as rows (m, n_0) of finite numbers (NumPy stays NumPy, a JAX array stays one);
    single: one example (n_0,) is accepted too; empty: m = 0 is accepted. n_0 None: any
    width > 0. Else JaxannError."""
    x = x if isinstance(x, (np.ndarray, jax.Array)) else np.asarray(x)
    width = n_0 if n_0 is not None else "n_features"
    shape_ok = (x.ndim == 2 or (single and x.ndim == 1)) and x.shape[-1] > 0 and (
        n_0 is None or x.shape[-1] == n_0) and (empty or x.ndim == 1 or x.shape[0] > 0)
    if not shape_ok:
        raise JaxannError(f"x has shape {x.shape}; expected (m, {width})" + ("" if empty else " with m > 0")
                          + (f", or ({width},)" if single else "")
                          + (f", for a first layer of {n_0} inputs" if n_0 is not None else ""))
    if not np.issubdtype(x.dtype, np.number):
        raise JaxannError(f"x has dtype {x.dtype}; expected numbers")
    if is_concrete(x) and not (all_finite(x) if isinstance(x, np.ndarray) else bool(jnp.all(jnp.isfinite(x)))):
        raise JaxannError("x holds NaN or infinite values; expected finite numbers")
    return x


def check_labels(y, n_out: int) -> None:
    """Refuse known labels y outside 0..n_out-1 (a tracer's values are not known)."""
    if is_concrete(y) and np.size(y):
        lo, hi = int(np.min(y)), int(np.max(y))
        if lo < 0 or hi >= n_out:
            raise JaxannError(f"labels y range over {lo}..{hi}; expected 0..{n_out - 1} "
                              f"for an output layer of {n_out} units")


def check_data(x, y, n_out: int | None = None):
    """x (n, n_0) finite numbers and labels (n,) / targets (n, n_out); returns (x, y, n_out)."""
    x = check_rows(np.asarray(x))
    y = np.asarray(y)
    if y.shape[0] != x.shape[0] or y.ndim not in (1, 2):
        raise JaxannError(f"y has shape {y.shape}; expected ({x.shape[0]},) labels or ({x.shape[0]}, n_outputs) targets")
    if y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer):
            raise JaxannError(f"labels y have dtype {y.dtype}; expected integer class indices 0..k-1")
        n_out = n_out or max(int(y.max()) + 1, 1)
        check_labels(y, n_out)
    else:
        if not np.issubdtype(y.dtype, np.number):
            raise JaxannError(f"targets y have dtype {y.dtype}; expected numbers")
        if not all_finite(y):
            raise JaxannError("targets y hold NaN or infinite values; expected finite numbers")
        n_out = n_out or y.shape[1]
        if y.shape[1] != n_out:
            raise JaxannError(f"targets y have {y.shape[1]} columns; expected {n_out}")
    return x, y, n_out


def check_order(rows, k: int, n: int) -> np.ndarray:
    """A caller's row order for epoch k as int32: (n,) row indices 0..n-1."""
    rows = np.asarray(rows)
    indices = rows.shape == (n,) and np.issubdtype(rows.dtype, np.integer)
    if not indices or (n and not 0 <= rows.min() <= rows.max() < n):
        raise JaxannError(f"order({k}) gave {rows.dtype} rows of shape {rows.shape}; "
                          f"expected ({n},) row indices 0..{n - 1}")
    return rows.astype(np.int32, copy=False)  # an int32 order as it came: no copy every epoch


def check_sample_weight(sample_weight, n: int) -> np.ndarray | None:
    """Sample weights (n,): finite, non-negative, not all zero; None stays None (all rows count once)."""
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight)
    if sample_weight.shape != (n,) or not np.issubdtype(sample_weight.dtype, np.number):
        raise JaxannError(f"sample_weight has shape {sample_weight.shape} and dtype {sample_weight.dtype}; "
                          f"expected ({n},) numbers, one per row")
    if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0) or not np.any(sample_weight > 0):
        raise JaxannError("sample_weight holds NaN, infinite or negative values or only zeros; "
                          "expected finite weights >= 0, some > 0")
    return sample_weight


def class_weighted(sample_weight, class_weight, y) -> np.ndarray | None:
    """sample_weight (n,) (None: ones) times each row's class weight, for labels y (n,),
    as scikit-learn's `compute_sample_weight(class_weight, y)`: None leaves sample_weight
    as it is; "balanced" weighs class c by n / (k n_c), k the classes present in y, n_c
    the rows of c; a dict {label: weight} weighs the labels it names (the others 1)."""
    if class_weight is None:
        return sample_weight
    y = np.asarray(y)
    if y.ndim != 1:
        raise JaxannError(f"class_weight needs class labels y (n,), not targets of shape {y.shape}")
    if class_weight == "balanced":
        _, index, counts = np.unique(y, return_inverse=True, return_counts=True)
        weights = (len(y) / (len(counts) * counts.astype(np.float64)))[index]
    else:
        table = np.ones(int(y.max()) + 1 if len(y) else 0)
        for label, weight in class_weight.items():
            if label < len(table):
                table[label] = weight
        weights = table[y]
    return weights if sample_weight is None else np.asarray(sample_weight, np.float64) * weights


def validation_rows(n: int, fraction: float, random_state, stratify=None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's `train_test_split` of n rows, as row numbers: (training rows,
    validation rows), each in the order the split gives them.

    random_state: an int or a NumPy RandomState (the estimators pass theirs, so the split
    draws from the same stream as scikit-learn's); stratify: labels to keep in proportion.
    """
    from sklearn.model_selection import train_test_split

    train, val = train_test_split(np.arange(n), test_size=fraction, random_state=random_state, stratify=stratify)
    return train, val


def split_validation(x, y, sample_weight, fraction: float, random_state, stratify=None):
    """The rows split as `validation_rows` splits them: (x, x_val, y, y_val, sample_weight,
    sample_weight_val), the weights None when sample_weight is None."""
    train, val = validation_rows(x.shape[0], fraction, random_state, stratify)
    weights = (None, None) if sample_weight is None else (sample_weight[train], sample_weight[val])
    return (x[train], x[val], y[train], y[val], *weights)


def stratify_labels(y) -> np.ndarray | None:
    """Labels y (n,) to stratify a split by, when every class has two rows; else None."""
    return y if y.ndim == 1 and np.bincount(y).min() >= 2 else None

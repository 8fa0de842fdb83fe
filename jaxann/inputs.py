"""Training data as `fit` accepts it: checks, sample weights, and the validation split.

All on the host (NumPy); a rejected input raises `JaxannError` saying what was wrong and
what was expected.
"""

from __future__ import annotations

import numpy as np

from jaxann.errors import JaxannError


def check_data(x, y, n_out: int | None = None):
    """x (n, n_0) finite numbers and labels (n,) / targets (n, n_out); returns (x, y, n_out)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise JaxannError(f"x has shape {x.shape}; expected (n_samples, n_features) with both > 0")
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
        raise JaxannError("x holds NaN, infinite or non-numeric values; expected finite numbers")
    y = np.asarray(y)
    if y.shape[0] != x.shape[0] or y.ndim not in (1, 2):
        raise JaxannError(f"y has shape {y.shape}; expected ({x.shape[0]},) labels or ({x.shape[0]}, n_outputs) targets")
    if y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer):
            raise JaxannError(f"labels y have dtype {y.dtype}; expected integer class indices 0..k-1")
        if y.min() < 0:
            raise JaxannError(f"labels y include {y.min()}; expected class indices >= 0")
        n_out = n_out or int(y.max()) + 1
        if y.max() >= n_out:
            raise JaxannError(f"labels y range up to {y.max()}; expected 0..{n_out - 1}")
    else:
        if not np.all(np.isfinite(y)):
            raise JaxannError("targets y hold NaN or infinite values; expected finite numbers")
        n_out = n_out or y.shape[1]
        if y.shape[1] != n_out:
            raise JaxannError(f"targets y have {y.shape[1]} columns; expected {n_out}")
    return x, y, n_out


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

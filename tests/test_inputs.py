"""`jaxann.inputs`: the checks of x, y and sample weights, and the validation split."""

import re

import numpy as np
import pytest

import jaxann
from jaxann.config import TrainConfig
from jaxann.inputs import all_finite, split_validation
from jaxann.loop import fit


@pytest.mark.parametrize("w, message", [
    (np.ones(5), "sample_weight has shape (5,)"),
    (np.r_[np.ones(11), np.nan], "expected finite weights >= 0, some > 0"),
    (np.r_[np.ones(11), -1.0], "expected finite weights >= 0, some > 0"),
    (np.zeros(12), "expected finite weights >= 0, some > 0"),
])
def test_bad_sample_weights_are_refused(w, message, small_problem):
    x, y = small_problem(n=12)
    with pytest.raises(jaxann.JaxannError, match=re.escape(message)):
        fit(TrainConfig(hidden=(3,), epochs=1), x, y, sample_weight=w)


@pytest.mark.parametrize("x,y,message", [
    (np.zeros((0, 3)), np.zeros(0, int), r"x has shape \(0, 3\)"),
    (np.full((4, 3), np.nan), np.zeros(4, int), "x holds NaN"),
    (np.zeros((4, 3)), np.zeros(5, int), r"y has shape \(5,\); expected \(4,\)"),
    (np.zeros((4, 3)), np.array([0, 1, -1, 0]), r"labels y range over -1\.\.1; expected 0\.\.1"),
    (np.zeros((4, 3)), np.array([0.5, 1, 0, 0]), "labels y have dtype float64; expected integer"),
    (np.zeros((4, 3)), np.array([[0.0], [1.0], [np.inf], [0.0]]), "targets y hold NaN or infinite"),
    (np.zeros((4, 3)), np.array([["a"], ["b"], ["c"], ["d"]]), "targets y have dtype <U1; expected numbers"),
    (np.zeros((4, 3)), np.eye(2, dtype=bool)[[0, 1, 0, 1]], "targets y have dtype bool; expected numbers"),
])
def test_bad_data_is_refused(x, y, message):
    with pytest.raises(jaxann.JaxannError, match=message):
        fit(TrainConfig(), x, y)


@pytest.mark.parametrize("order, shape", [
    (lambda k: np.arange(12) - 1, "int64 rows of shape (12,)"),  # -1 is not a row
    (lambda k: np.arange(11), "int64 rows of shape (11,)"),
    (lambda k: np.arange(12.0), "float64 rows of shape (12,)"),
])
def test_an_order_that_is_not_the_rows_indices_is_refused(order, shape, small_problem):
    x, y = small_problem(n=12)
    with pytest.raises(jaxann.JaxannError, match=re.escape(f"order(0) gave {shape}; expected (12,) row indices 0..11")):
        fit(TrainConfig(hidden=(3,), epochs=1), x, y, order=order)


def _with(a, index, value):
    a = a.copy()
    a[index] = value
    return a


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_all_finite_finds_every_non_finite_entry_and_no_other(dtype):
    """The sum is only a shortcut: a NaN, an infinity, or infinities of both signs (their
    sum is NaN) anywhere are found; finite entries whose sum overflows (the dtype's largest,
    many times) are still finite."""
    big = np.full((64, 3), np.finfo(dtype).max, dtype)
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.sum(big)) and all_finite(big)
    assert all_finite(np.zeros((5, 3), dtype))
    for value in (np.nan, np.inf, -np.inf):
        for index in ((0, 0), (4, 2), (2, 1)):
            assert not all_finite(_with(np.ones((5, 3), dtype), index, value))
            assert not all_finite(_with(big, index, value))
    assert not all_finite(_with(_with(np.ones((5, 3), dtype), (1, 1), np.inf), (3, 0), -np.inf))
    assert all_finite(np.arange(12, dtype=np.uint8).reshape(4, 3))  # integers always are


def test_split_validation_keeps_rows_labels_and_weights_together():
    x = np.arange(40.0).reshape(20, 2)
    y = np.arange(20) % 2
    w = np.arange(20.0)
    x_fit, x_val, y_fit, y_val, w_fit, w_val = split_validation(x, y, w, 0.25, 0, stratify=y)
    assert len(x_val) == 5 and len(x_fit) == 15
    np.testing.assert_array_equal(x_val[:, 0] / 2, w_val)  # row i holds 2i, 2i+1 and weight i
    np.testing.assert_array_equal(y_val, w_val.astype(int) % 2)
    assert split_validation(x, y, None, 0.25, 0)[4:] == (None, None)

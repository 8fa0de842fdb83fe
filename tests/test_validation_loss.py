"""The validation loss beside the validation score (scikit-learn issue 18507): at every
epoch with a validation set, sum_i w_i l_i / sum_i w_i over the validation rows, l_i row
i's cost by the formula of the reported training loss (clipped log loss; half squared
error averaged over the outputs), without the L2 term. Checked against NumPy's
computation of that definition (and scikit-learn's log_loss / mean_squared_error) at a
recorded epoch, in float64 (x64)."""

import warnings

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss, mean_squared_error

from jaxann import MLPClassifier, MLPRegressor, TrainConfig, fit
from jaxann.runs import metrics


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(n_class=4, return_X_y=True)
    X, y = X[:120] / 16.0, y[:120]
    return X, y, np.random.default_rng(1).uniform(0.5, 2.0, len(y))


def forward(coefs, intercepts, x, h=np.tanh):
    a = x
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        a = h(a @ W + b)
    return a @ coefs[-1] + intercepts[-1]


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_estimators_validation_loss_is_the_definition_at_the_best_epoch(data, kind, x64):
    X, y, w = data
    params = dict(hidden_layer_sizes=(8,), activation="tanh", solver="sgd", learning_rate_init=0.05, max_iter=8,
                  random_state=0, early_stopping=True, validation_fraction=0.25, n_iter_no_change=50, alpha=0.1)
    est = (MLPClassifier if kind == "classifier" else MLPRegressor)(**params)
    target = y if kind == "classifier" else np.c_[X[:, 20], y / 3]  # two outputs: the mean over them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, target, sample_weight=w)
    assert len(est.validation_loss_curve_) == len(est.validation_scores_) == est.n_iter_
    val = clone(est)._plan(X, target, w).val  # the held-out rows, as the fit draws them
    best = int(np.argmax(est.validation_scores_))  # coefs_ hold the best epoch's weights
    a = forward(est.coefs_, est.intercepts_, X[val])
    if kind == "classifier":
        eps = np.finfo(np.float64).eps
        p = np.clip(softmax(a, axis=1), eps, 1 - eps)
        rows = -np.log(p[np.arange(len(val)), np.searchsorted(est.classes_, y[val])])
        theirs = log_loss(y[val], est.predict_proba(X[val]), sample_weight=w[val], labels=est.classes_)
    else:
        rows = 0.5 * np.mean((a - target[val]) ** 2, axis=1)
        theirs = mean_squared_error(target[val], est.predict(X[val]), sample_weight=w[val]) / 2
    expected = np.sum(w[val] * rows) / np.sum(w[val])  # no L2 term, though alpha = 0.1
    assert est.validation_loss_curve_[best] == pytest.approx(expected, rel=1e-12)
    assert est.validation_loss_curve_[best] == pytest.approx(theirs, rel=1e-12)


def test_train_config_fit_records_the_validation_loss_in_history_and_metrics(data, x64):
    X, y, _ = data
    x_val, y_val = X[90:], y[90:]
    config = TrainConfig(hidden=(8,), activation="tanh", epochs=3, batch_size=30, lr=0.1, dtype="float64", alpha=0.1)
    seen = []
    result = fit(config, X[:90], y[:90], validation=(x_val, y_val), callback=seen.append)
    params = seen[1].state.params  # after epoch 2
    a = forward([np.asarray(p["W"]) for p in params], [np.asarray(p["b"]) for p in params], x_val, np.tanh)
    # jaxann's cross_entropy, reported as scikit-learn's: log of the clipped softmax at the label
    p = np.clip(softmax(a, axis=1), np.finfo(np.float64).eps, 1 - np.finfo(np.float64).eps)
    expected = -np.mean(np.log(p[np.arange(len(y_val)), y_val]))
    assert result.history.validation_loss[1] == pytest.approx(expected, rel=1e-12)
    assert len(result.history.validation_loss) == len(result.history.validation_score) == 3
    record = metrics(config, result.history, train_accuracy=0.0, test_accuracy=0.0, fit_seconds=0.0,
                     compile_seconds=0.0)
    assert record["validation_loss_curve"] == result.history.validation_loss == \
        record["history"]["validation_loss"]

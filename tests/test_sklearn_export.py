"""`to_sklearn` / `from_sklearn`: a fitted jaxann estimator as scikit-learn's own, and back.

float64 (the x64 fixture): the two libraries' forward passes are the same arithmetic in
another order, so predictions agree to ~1e-15; the bound asked for is 1e-12."""

import copy
import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.datasets import load_digits

import jaxann
from jaxann.errors import JaxannError
from jaxann.model import Model


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:150] / 16.0, y[:150]


def fitted(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fits on purpose
        return est.fit(X, y)


def same_predictions(ours, X):
    """ours.to_sklearn() predicts as ours, to 1e-12; returns it."""
    theirs = ours.to_sklearn()
    regression = isinstance(ours, jaxann.MLPRegressor)
    assert type(theirs) is getattr(sk, type(ours).__name__)
    assert theirs.get_params() == {k: v for k, v in ours.get_params().items() if k in theirs.get_params()}
    np.testing.assert_allclose(theirs.predict(X) if regression else theirs.predict_proba(X),
                               ours.predict(X) if regression else ours.predict_proba(X), rtol=0, atol=1e-12)
    if not regression:
        np.testing.assert_array_equal(theirs.predict(X), ours.predict(X))
        assert list(theirs.classes_) == list(ours.classes_)
    return theirs


def test_to_sklearn_predicts_as_jaxann_does(data, x64):
    # binary here (string labels); multiclass and regression after the warm starts below
    X, y = data
    ours = fitted(jaxann.MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, activation="tanh"),
                  X, np.where(y > 4, "hi", "lo"))
    theirs = same_predictions(ours, X)
    assert theirs.loss_curve_ == ours.loss_curve_ and theirs.t_ == ours.t_ and theirs.n_iter_ == ours.n_iter_
    theirs.coefs_[0][0, 0] += 1  # copies: the jaxann estimator is unchanged
    assert theirs.coefs_[0][0, 0] != ours.coefs_[0][0, 0]


@pytest.mark.parametrize("kind", ["classifier-sgd", "regressor-adam-early-stopping"])
def test_from_sklearn_continues_as_scikit_learns_warm_start(data, kind, x64):
    X, y = data
    if kind.startswith("classifier"):
        params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.1, random_state=1, max_iter=4,
                      n_iter_no_change=2, tol=0.05)
        theirs, target = fitted(sk.MLPClassifier(**params), X, y), y
    else:
        params = dict(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=1, max_iter=4, early_stopping=True)
        target = X[:, 10] + y / 10
        theirs = fitted(sk.MLPRegressor(**params), X, target)
    cls = jaxann.MLPClassifier if kind.startswith("classifier") else jaxann.MLPRegressor
    ours = cls.from_sklearn(theirs)
    assert ours.warm_start and ours.t_ == theirs.t_ and ours.loss_curve_ == theirs.loss_curve_
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=1e-12)
    # both continue for 5 more epochs from scikit-learn's weights and stopping-rule memory
    theirs = fitted(copy.deepcopy(theirs).set_params(warm_start=True, max_iter=5), X, target)
    ours = fitted(ours.set_params(max_iter=5), X, target)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    if theirs.validation_scores_ is not None:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], rtol=0, atol=1e-12)
    same_predictions(ours, X)  # and back: multiclass, regression


def test_what_scikit_learn_cannot_hold_is_refused_in_one_line(data):
    X, y = data
    layers = ({"W": np.ones((64, 3)), "b": np.zeros(3)}, {"W": np.ones((3, 10)), "b": np.zeros(10)})
    with pytest.raises(JaxannError, match="no activation 'leaky_relu'") as refused:
        jaxann.MLPClassifier.from_model(Model(layers, "leaky_relu", classes=np.arange(10))).to_sklearn()
    assert "\n" not in str(refused.value)
    with pytest.raises(TypeError, match="takes a fitted sklearn.neural_network.MLPRegressor, not MLPClassifier"):
        jaxann.MLPRegressor.from_sklearn(sk.MLPClassifier())

"""jaxann.MLPClassifier / MLPRegressor against scikit-learn's own, on the same data."""

import pickle
import warnings

import jax
import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import jaxann


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def curves(cls_jax, cls_sk, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = cls_jax(**params).fit(X, y), cls_sk(**params).fit(X, y)
    return ours, theirs


PARITY = {
    "sgd-constant-nesterov": dict(solver="sgd", learning_rate_init=0.1),
    "sgd-constant-classical": dict(solver="sgd", learning_rate_init=0.1, nesterovs_momentum=False),
    "sgd-invscaling": dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5),
    "sgd-adaptive": dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.2, tol=0.05, n_iter_no_change=1),
    "sgd-early-stopping": dict(solver="sgd", learning_rate_init=0.1, early_stopping=True, validation_fraction=0.2),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "adam-logistic-batch-64": dict(solver="adam", learning_rate_init=0.01, activation="logistic", batch_size=64),
    "sgd-tanh-two-layers-backprop": dict(solver="sgd", learning_rate_init=0.05, activation="tanh",
                                         hidden_layer_sizes=(20, 10), grad="backprop"),
}


@pytest.mark.parametrize("params", PARITY.values(), ids=PARITY.keys())
def test_classifier_loss_curve_matches_scikit_learn(digits, params, x64):
    X, y = digits
    params = {"hidden_layer_sizes": (20,), "max_iter": 12, "random_state": 1, **params}  # a copy: the case stays
    grad = params.pop("grad", "autodiff")
    ours, theirs = curves(lambda **p: jaxann.MLPClassifier(grad=grad, **p), sk.MLPClassifier, X, y, **params)
    # the same float64 arithmetic in another order (XLA's vs NumPy's matmuls): measured <= 1e-15
    # relative; 1e-6 is the issue's bound and leaves room for other BLAS libraries' rounding
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_ and ours.best_loss_ is None
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-6)


def test_binary_and_string_labels_match_scikit_learn(digits, x64):
    X, y = digits
    labels = np.where(y > 4, "big", "small")
    ours, theirs = curves(jaxann.MLPClassifier, sk.MLPClassifier, X, labels, hidden_layer_sizes=(15,),
                          solver="sgd", learning_rate_init=0.1, max_iter=8, random_state=3)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)
    assert list(ours.classes_) == ["big", "small"] and ours.out_activation_ == "logistic" and ours.n_outputs_ == 1
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_multilabel_matches_scikit_learn(digits, x64):
    X, y = digits
    Y = np.stack([y % 2 == 0, y > 5, y == 3], axis=1).astype(int)
    ours, theirs = curves(jaxann.MLPClassifier, sk.MLPClassifier, X, Y, hidden_layer_sizes=(15,),
                          solver="adam", learning_rate_init=0.01, max_iter=8, random_state=0)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)
    assert ours.predict(X).shape == (len(X), 3) and ours.out_activation_ == "logistic"
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("solver,lr", [("sgd", 0.01), ("adam", 0.01)])
def test_regressor_loss_curve_matches_scikit_learn(digits, solver, lr, x64):
    X, y = digits
    target = X[:, 20] * 2 + X[:, 30] - X[:, 43]
    ours, theirs = curves(jaxann.MLPRegressor, sk.MLPRegressor, X, target, hidden_layer_sizes=(20,),
                          solver=solver, learning_rate_init=lr, max_iter=12, random_state=2)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-9)
    assert ours.score(X, target) == pytest.approx(theirs.score(X, target), rel=1e-9)
    assert ours.out_activation_ == "identity" and ours.predict(X).shape == (len(X),)


def test_float32_accuracy_close_to_scikit_learn(digits):
    # without x64 jaxann trains in float32: the same algorithm, so nearly the same model;
    # measured: both 0.98 on the training rows after 10 epochs
    X, y = digits
    X = X.astype(np.float32)
    ours, theirs = curves(jaxann.MLPClassifier, sk.MLPClassifier, X, y, hidden_layer_sizes=(50,),
                          solver="sgd", learning_rate_init=0.1, max_iter=10, random_state=1)
    assert abs(ours.score(X, y) - theirs.score(X, y)) <= 0.01
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-3)  # float32 rounding, 10 epochs
    assert ours.coefs_[0].dtype == np.float32


def test_fitted_attributes_have_scikit_learns_shapes_and_types(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        clf = jaxann.MLPClassifier(hidden_layer_sizes=(12, 7), max_iter=3, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(64, 12), (12, 7), (7, 10)]
    assert [b.shape for b in clf.intercepts_] == [(12,), (7,), (10,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 10 and clf.n_features_in_ == 64 and clf.n_iter_ == 3
    assert clf.t_ == 3 * len(X) and len(clf.loss_curve_) == 3 and clf.loss_ == clf.loss_curve_[-1]
    assert clf.out_activation_ == "softmax" and list(clf.classes_) == list(range(10))
    proba = clf.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(clf.predict_log_proba(X[:5]), np.log(proba), rtol=1e-6)


def test_verbose_prints_scikit_learns_log(digits, capsys):
    X, y = digits
    jaxann.MLPClassifier(hidden_layer_sizes=(5,), max_iter=2, verbose=True, random_state=0,
                         early_stopping=True).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Iteration 1, loss = ") and lines[1].startswith("Validation score: ")
    assert lines[2].startswith("Iteration 2, loss = ")


def test_partial_fit_continues_like_scikit_learn(digits, x64):
    X, y = digits
    params = dict(hidden_layer_sizes=(10,), solver="sgd", learning_rate_init=0.1, random_state=0)
    ours, theirs = jaxann.MLPClassifier(**params), sk.MLPClassifier(**params)
    for _ in range(3):
        ours.partial_fit(X, y, classes=np.arange(10))
        theirs.partial_fit(X, y, classes=np.arange(10))
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)
    assert ours.n_iter_ == 1 and ours.t_ == 3 * len(X)


WARM = {
    "loss-rule": dict(solver="sgd", learning_rate_init=0.1, tol=0.02, n_iter_no_change=2),
    "adaptive": dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.2, tol=0.05, n_iter_no_change=1),
    "early-stopping": dict(solver="sgd", learning_rate_init=0.1, early_stopping=True, tol=0.01, n_iter_no_change=2),
}


@pytest.mark.parametrize("params", WARM.values(), ids=WARM.keys())
def test_warm_started_fits_carry_the_stopping_rule_like_scikit_learn(digits, params, x64):
    # scikit-learn keeps best_loss_ / best_validation_score_ and the no-improvement count
    # across warm-started fits, so later fits stop sooner than fresh ones; three fits of
    # at most 6 epochs: measured 15 epochs in all (loss rule, early stopping), 18 (adaptive,
    # whose rate falls at other epochs when the count is forgotten)
    X, y = digits
    ours, theirs = (cls(hidden_layer_sizes=(10,), random_state=0, warm_start=True, max_iter=6, **params)
                    for cls in (jaxann.MLPClassifier, sk.MLPClassifier))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(3):
            ours.fit(X, y)
            theirs.fit(X, y)
            assert ours.n_iter_ == theirs.n_iter_
            # early stopping, third fit: no epoch beats the best, and scikit-learn hands back
            # the last weights (its restored best coefs alias the arrays it trains in place);
            # jaxann hands back the best epoch's, as documented
            if not (params.get("early_stopping") and k == 2):
                for a, b in zip(ours.coefs_, theirs.coefs_):
                    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == (18 if "learning_rate" in params else 15)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)  # measured 4e-16
    if params.get("early_stopping"):
        assert ours.best_validation_score_ == theirs.best_validation_score_
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-12)


SAMPLE_WEIGHT = {
    "classifier-sgd": (jaxann.MLPClassifier, sk.MLPClassifier, dict(solver="sgd", learning_rate_init=0.1)),
    "classifier-adam": (jaxann.MLPClassifier, sk.MLPClassifier, dict(solver="adam", learning_rate_init=0.01)),
    "classifier-early-stopping": (jaxann.MLPClassifier, sk.MLPClassifier,
                                  dict(solver="sgd", learning_rate_init=0.1, early_stopping=True)),
    "regressor-early-stopping": (jaxann.MLPRegressor, sk.MLPRegressor,
                                 dict(solver="sgd", learning_rate_init=0.1, early_stopping=True)),
}


@pytest.mark.parametrize("ours, theirs, params", SAMPLE_WEIGHT.values(), ids=SAMPLE_WEIGHT.keys())
def test_sample_weight_matches_scikit_learn(digits, ours, theirs, params, x64):
    X, y = digits
    if ours is jaxann.MLPRegressor:
        y = X[:, 20] * 2 + y / 9
    sw = np.random.default_rng(0).uniform(0, 3, len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = (cls(hidden_layer_sizes=(10,), random_state=0, max_iter=8, **params).fit(X, y, sample_weight=sw)
                        for cls in (ours, theirs))
        unweighted = clone(ours).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)  # measured <= 9e-16
    if params.get("early_stopping"):  # weighted validation scores
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    assert abs(unweighted.loss_curve_[-1] - ours.loss_curve_[-1]) > 1e-3  # the weights changed the run


def test_partial_fit_with_sample_weight_matches_scikit_learn(digits, x64):
    X, y = digits
    sw = np.where(y == 3, 4.0, 1.0)
    params = dict(hidden_layer_sizes=(10,), solver="sgd", learning_rate_init=0.1, random_state=0)
    ours, theirs = jaxann.MLPClassifier(**params), sk.MLPClassifier(**params)
    for _ in range(2):
        ours.partial_fit(X, y, sw, classes=np.arange(10))
        theirs.partial_fit(X, y, sw, classes=np.arange(10))
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-6)


def test_bad_sample_weight_is_refused(digits):
    X, y = digits
    clf = jaxann.MLPClassifier(max_iter=1)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(5,\), expected \(1797,\)"):
        clf.fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="expected finite weights >= 0"):
        clf.fit(X, y, sample_weight=-np.ones(len(X)))


@pytest.mark.parametrize("first, then", [(False, True), (True, False)], ids=["turned-on", "turned-off"])
def test_warm_start_may_turn_early_stopping_on_or_off(digits, first, then):
    # scikit-learn raises a TypeError here; jaxann starts the stopping rule afresh in its new form
    X, y = digits
    clf = jaxann.MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, warm_start=True, random_state=0,
                               early_stopping=first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        clf.set_params(early_stopping=then).fit(X, y)
    assert len(clf.loss_curve_) == 6
    if then:
        assert len(clf.validation_scores_) == 3 and clf.best_validation_score_ == max(clf.validation_scores_)
        assert clf.best_loss_ is None
    else:
        assert clf.validation_scores_ is None and clf.best_loss_ == min(clf.loss_curve_[3:])


def test_partial_fit_needs_classes_first():
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        jaxann.MLPClassifier().partial_fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_warm_start_continues_from_the_fitted_weights(digits):
    X, y = digits
    clf = jaxann.MLPClassifier(hidden_layer_sizes=(10,), max_iter=2, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        first = clf.fit(X, y).loss_curve_[-1]
        clf.fit(X, y)
    assert len(clf.loss_curve_) == 4 and clf.loss_curve_[2] < first


def test_works_with_scikit_learns_tools(digits):
    X, y = digits
    X, y = X[:600], y[:600]
    base = jaxann.MLPClassifier(hidden_layer_sizes=(20,), max_iter=30, solver="sgd", learning_rate_init=0.1,
                                random_state=0)
    assert clone(base).get_params() == base.get_params()
    assert base.set_params(alpha=0.01).alpha == 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), clone(base)).fit(X, y)
        assert pipe.score(X, y) > 0.9
        scores = cross_val_score(clone(base), X, y, cv=3)
        # scikit-learn's own MLPClassifier with these settings scores [0.9, 0.89, 0.825]
        assert scores.shape == (3,) and scores.min() > 0.78
        search = GridSearchCV(clone(base), {"alpha": [1e-4, 1e-1]}, cv=2).fit(X, y)
        # each setting's mean score is what cross-validating it by hand gives (fits are
        # deterministic), and the best setting is the one that scored highest
        by_hand = [cross_val_score(clone(base).set_params(alpha=a), X, y, cv=2).mean() for a in (1e-4, 1e-1)]
        np.testing.assert_array_equal(search.cv_results_["mean_test_score"], by_hand)
        assert search.best_params_["alpha"] == (1e-4, 1e-1)[int(np.argmax(by_hand))]
        fitted = clone(base).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))


def test_feature_names_are_kept():
    import pandas as pd
    X = pd.DataFrame({"a": [0.0, 1.0, 0.0, 1.0], "b": [1.0, 0.0, 1.0, 0.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = jaxann.MLPClassifier(max_iter=2).fit(X, [0, 1, 0, 1])
    assert list(clf.feature_names_in_) == ["a", "b"]


@pytest.mark.parametrize("make,error,message", [
    (lambda X, y: jaxann.MLPClassifier(solver="newton").fit(X, y), InvalidParameterError, "solver"),
    (lambda X, y: jaxann.MLPClassifier(hidden_layer_sizes=(0,)).fit(X, y), ValueError, "hidden_layer_sizes must be > 0"),
    (lambda X, y: jaxann.MLPRegressor(loss="poisson").fit(X, -y), ValueError, "negative"),
    (lambda X, y: jaxann.MLPRegressor(loss="absolute_error").fit(X, y), InvalidParameterError, "loss"),
    (lambda X, y: jaxann.MLPClassifier(learning_rate_init=0).fit(X, y), InvalidParameterError, "learning_rate_init"),
    (lambda X, y: jaxann.MLPClassifier().fit(X[:, :0], y), ValueError, "0 feature"),
    (lambda X, y: jaxann.MLPClassifier().fit(np.where(X > 0.5, np.nan, X), y), ValueError, "NaN"),
    (lambda X, y: jaxann.MLPClassifier().fit(X, y[:-1]), ValueError, "inconsistent numbers of samples"),
    (lambda X, y: jaxann.MLPClassifier().fit(X, y + 0.5), ValueError, "Unknown label type"),
    (lambda X, y: jaxann.MLPClassifier().predict(X), NotFittedError, "not fitted"),
])
def test_bad_input_raises_scikit_learns_exception_types(digits, make, error, message):
    X, y = digits
    with pytest.raises(error, match=message):
        make(X, y)


def test_predict_checks_the_number_of_features(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = jaxann.MLPClassifier(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="X has 10 features, but MLPClassifier is expecting 64"):
        clf.predict(X[:, :10])


@pytest.mark.slow
@pytest.mark.parametrize("estimator", [jaxann.MLPClassifier(max_iter=50), jaxann.MLPRegressor(max_iter=50)],
                         ids=["classifier", "regressor"])
def test_scikit_learns_estimator_checks(estimator):
    from sklearn.utils.estimator_checks import check_estimator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    # all of them, with the defaults: the checks' float64 data train in float64 (weighted
    # rows equal repeated rows to 1e-7 only there; float32 rounding leaves ~1e-6)
    assert failed == set(), failed


@pytest.mark.parametrize("estimator", [jaxann.MLPClassifier(max_iter=50), jaxann.MLPRegressor(max_iter=50)],
                         ids=["classifier", "regressor"])
def test_sample_weights_equal_repeated_rows_in_float64(estimator):
    # float64 input trains in float64 with JAX's global x64 setting left off
    assert not jax.config.jax_enable_x64
    from sklearn.utils.estimator_checks import (check_sample_weight_equivalence_on_dense_data,
                                                check_sample_weight_equivalence_on_sparse_data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)
        check_sample_weight_equivalence_on_sparse_data(type(estimator).__name__, estimator)


@pytest.mark.slow
def test_lecture_code_with_only_the_import_changed_on_mnist(mnist):
    d = mnist
    from jaxann import MLPClassifier
    mlp = MLPClassifier(hidden_layer_sizes=(50,), max_iter=10, alpha=1e-4, solver='sgd',
                        learning_rate_init=.1, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(d.x_train, d.y_train)
    # lecture: loss 0.32009978 after epoch 1, 0.04645355 after epoch 10; scores 0.9868 / 0.9700.
    # float32 here: measured the curve within 1e-2 relative of those figures
    assert mlp.loss_curve_[0] == pytest.approx(0.32009978, rel=0.02)
    assert mlp.loss_curve_[-1] == pytest.approx(0.04645355, rel=0.05)
    assert mlp.score(d.x_train, d.y_train) >= 0.98 and mlp.score(d.x_test, d.y_test) >= 0.965


def test_grid_search_in_threads_equals_the_sequential_one(digits):
    # fits in two threads share the kept compiled epochs (a locked cache); scores must not change
    from joblib import parallel_backend
    X, y = digits
    X, y = X[:500], y[:500]
    grid = {"alpha": [1e-4, 1e-2], "learning_rate_init": [0.1, 0.02]}
    base = jaxann.MLPClassifier(hidden_layer_sizes=(12,), max_iter=5, solver="sgd", random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sequential = GridSearchCV(base, grid, cv=3).fit(X, y)
        with parallel_backend("threading", n_jobs=2):
            threaded = GridSearchCV(base, grid, cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(threaded.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"])
    assert threaded.best_params_ == sequential.best_params_


def test_predict_proba_rows_sum_to_one_in_the_inputs_precision(digits):
    # float64 input trained in float32 (dtype="float32"): the float32 softmax's rows sum to 1
    # only within ~2e-7, which scikit-learn's log_loss warns about; normalised in float64 they don't
    from sklearn.metrics import log_loss
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = jaxann.MLPClassifier(hidden_layer_sizes=(10,), max_iter=3, random_state=0, dtype="float32").fit(X, y)
    assert clf.coefs_[0].dtype == np.float32
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64 and np.abs(proba.sum(axis=1) - 1).max() < 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert log_loss(y, proba) > 0


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_a_diverging_fit_records_nan_validation_scores_as_scikit_learn_does(kind, precision):
    # weights that blow up epoch by epoch: before the loss turns infinite, some validation
    # outputs do; scikit-learn records float('nan') as that epoch's score and goes on
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, 2.0, 3.0]
    params = dict(hidden_layer_sizes=(8,), activation="identity", solver="sgd", max_iter=30, early_stopping=True,
                  random_state=0, n_iter_no_change=100)
    if kind == "classifier":
        est = jaxann.MLPClassifier(learning_rate_init=1e4, dtype=precision, **params)
        target = (y > 0).astype(int) + (y > 1)
        X = X * 100
    else:
        est, target = jaxann.MLPRegressor(learning_rate_init=3.0, dtype=precision, **params), y * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, target)  # no "Input contains NaN"
    scores = est.validation_scores_
    assert np.isnan(scores[-1]) and all(type(s) is float for s in scores)
    assert np.isfinite(scores[0]) and np.isfinite(est.coefs_[0]).all()  # the best weights kept
    if precision == "float64":
        # the same scores as scikit-learn's to rounding before (scikit-learn runs on after the loss
        # turns NaN; jaxann stops there); at the NaN epoch scikit-learn's regressor records NaN too,
        # its classifier the accuracy of argmax over non-finite outputs (on purpose not followed)
        other = (sk.MLPClassifier if kind == "classifier" else sk.MLPRegressor)(
            **params, learning_rate_init=est.learning_rate_init)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            other.fit(X, target)
        np.testing.assert_allclose(scores[:-1], other.validation_scores_[:len(scores) - 1], rtol=1e-9)
        assert np.isnan(other.validation_scores_[len(scores) - 1]) == (kind == "regressor")


def test_the_precision_follows_the_input_as_scikit_learns(digits):
    # float64 input trains in float64 (x64 scoped to jaxann's own programs, the global
    # setting untouched), float32 input in float32; dtype="float32" asks for float32
    from sklearn.neural_network import MLPRegressor as SkRegressor
    X, y = digits
    X = X[:300]
    y = y[:300].astype(float)
    params = dict(hidden_layer_sizes=(15,), solver="sgd", max_iter=8, random_state=3, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = SkRegressor(**params).fit(X, y)
        ours64 = jaxann.MLPRegressor(**params).fit(X, y)
        ours32 = jaxann.MLPRegressor(**params).fit(X.astype(np.float32), y)
        asked32 = jaxann.MLPRegressor(**params, dtype="float32").fit(X, y)
    assert not jax.config.jax_enable_x64
    assert ours64.coefs_[0].dtype == np.float64 and ours64.predict(X).dtype == np.float64
    assert ours32.coefs_[0].dtype == asked32.coefs_[0].dtype == np.float32
    # float64: scikit-learn's curve to float64 rounding (another summation order; measured <= 1e-13)
    np.testing.assert_allclose(ours64.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    # float32: the same algorithm, rounded to float32 (~6e-8 per operation) over 8 epochs
    np.testing.assert_allclose(asked32.loss_curve_, theirs.loss_curve_, rtol=1e-4)
    assert asked32.loss_curve_ != ours64.loss_curve_
    np.testing.assert_array_equal(asked32.predict(X), ours32.predict(X.astype(np.float32)))
    with pytest.raises(InvalidParameterError, match="dtype"):
        jaxann.MLPRegressor(dtype="float16").fit(X, y)


def test_partial_fit_follows_each_calls_precision(digits):
    # float32 rows after float64 ones (and back): the weights and the optimizer's state are
    # carried over in each call's precision
    X, y = digits
    clf = jaxann.MLPClassifier((10,), solver="sgd", random_state=0)
    clf.partial_fit(X[:200].astype(np.float32), y[:200], classes=np.arange(10))
    assert clf.coefs_[0].dtype == np.float32
    clf.partial_fit(X[200:400], y[200:400])
    clf.partial_fit(X[400:600], y[400:600])
    assert clf.coefs_[0].dtype == np.float64 and clf.t_ == 600
    clf.partial_fit(X[600:800].astype(np.float32), y[600:800])
    assert clf.coefs_[0].dtype == np.float32 and len(clf.loss_curve_) == 4

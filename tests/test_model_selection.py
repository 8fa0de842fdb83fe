"""jaxann.model_selection: the searches' results equal scikit-learn's own search over the
same jaxann estimator, which fits one candidate x fold at a time; the fits were batched.

float64 (the x64 fixture), so the two ways of training agree to ~1e-16 in the weights:
accuracies, fractions of a few hundred rows, come out exactly equal; R^2 to 1e-12."""

import warnings

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn import model_selection as sk
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jaxann import MLPClassifier, MLPRegressor
from jaxann import model_selection as jm
from jaxann.estimators.base import _BaseMLP

SCORES = ("mean_test_score", "std_test_score", "mean_train_score", "split0_test_score", "split1_test_score",
          "split2_test_score", "split0_train_score", "rank_test_score")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:360] / 16.0, y[:360]


@pytest.fixture
def one_at_a_time(monkeypatch):
    """Counts the fits that train one estimator alone (`_BaseMLP._fit`)."""
    calls = []
    original = _BaseMLP._fit

    def counted(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_BaseMLP, "_fit", counted)
    return calls


def run_both(search, estimator, space, X, y, calls, tol=0.0, **kwargs):
    """The search by jaxann and by scikit-learn; their cv_results_ scores compared. Returns
    how many estimators jaxann's search fitted alone (calls: the `one_at_a_time` list)."""
    fit_params = kwargs.pop("fit_params", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached: short fits on purpose
        ours = getattr(jm, search)(estimator, space, return_train_score=True, **kwargs).fit(X, y, **fit_params)
        alone = len(calls)
        theirs = getattr(sk, search)(estimator, space, return_train_score=True, **kwargs).fit(X, y, **fit_params)
    for key in SCORES:
        np.testing.assert_allclose(ours.cv_results_[key], theirs.cv_results_[key], rtol=tol, atol=tol, err_msg=key)
    assert [str(p) for p in ours.cv_results_["params"]] == [str(p) for p in theirs.cv_results_["params"]]
    assert ours.best_params_ == theirs.best_params_ and ours.best_index_ == theirs.best_index_
    final = (lambda search: search.best_estimator_[-1]) if hasattr(estimator, "steps") else \
        (lambda search: search.best_estimator_)
    np.testing.assert_allclose(final(ours).coefs_[0], final(theirs).coefs_[0], rtol=0, atol=1e-12)
    return alone


def test_classifier_grid_equals_scikit_learns_one_fit_at_a_time(digits, x64, one_at_a_time):
    X, y = digits
    mlp = MLPClassifier(hidden_layer_sizes=(12,), max_iter=8, solver="sgd", random_state=1, n_iter_no_change=3)
    alone = run_both("GridSearchCV", mlp, {"alpha": [1e-4, 1e-1], "learning_rate_init": [0.2, 0.02]}, X, y,
                     one_at_a_time, cv=3)
    assert alone == 1  # the 12 candidate x fold fits trained together; best_estimator_ alone
    assert len(one_at_a_time) == 1 + 12 + 1  # scikit-learn's loop fitted each model alone


def test_early_stopping_sample_weight_and_stratified_folds(digits, x64, one_at_a_time):
    X, y = digits
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    mlp = MLPClassifier(hidden_layer_sizes=(12,), max_iter=15, solver="sgd", random_state=3, early_stopping=True,
                        n_iter_no_change=2, learning_rate="adaptive")
    alone = run_both("GridSearchCV", mlp, {"learning_rate_init": [0.5, 0.05], "momentum": [0.9, 0.5]}, X, y,
                     one_at_a_time, cv=sk.StratifiedKFold(3, shuffle=True, random_state=0),
                     fit_params={"sample_weight": w})
    assert alone == 1


def test_pipeline_with_a_scaler_and_shuffle_split(digits, x64, one_at_a_time):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(12,), max_iter=6, random_state=0))
    alone = run_both("GridSearchCV", pipe, {"standardscaler__with_mean": [True, False],
                                            "mlpclassifier__alpha": [1e-4, 1.0]},
                     X, y, one_at_a_time, cv=sk.ShuffleSplit(3, test_size=0.25, random_state=0))
    assert alone == 1


def test_regressor_randomized_search(x64, one_at_a_time):
    X, y = make_regression(240, 6, noise=0.5, random_state=0)
    mlp = MLPRegressor(hidden_layer_sizes=(8,), max_iter=10, random_state=0, early_stopping=True,
                       learning_rate_init=0.01)
    alone = run_both("RandomizedSearchCV", mlp, {"alpha": loguniform(1e-5, 1e-1), "beta_1": [0.8, 0.9]}, X, y / 100,
                     one_at_a_time, tol=1e-12, n_iter=3, cv=3, random_state=0)
    assert alone == 1


def test_what_cannot_be_batched_is_fitted_one_at_a_time(digits, x64, one_at_a_time):
    X, y = digits
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=6, random_state=0)
    alone = run_both("GridSearchCV", mlp, {"solver": ["adam", "lbfgs"]}, X, y, one_at_a_time, cv=3, n_jobs=2)
    assert alone == 3 + 1  # the lbfgs candidate's 3 folds in the loop (threads, n_jobs=2), then the refit


@pytest.mark.parametrize("sizes, settings, weighted", [
    ((239, 240, 241), {"learning_rate": "invscaling"}, False),
    # 24 rows held out of each, 208..216 trained on, weighted rows
    ((232, 236, 240), {"early_stopping": True, "n_iter_no_change": 2}, True),
], ids=["invscaling", "early-stopping-weighted"])
def test_folds_of_nearby_sizes_train_in_one_program(digits, x64, fresh_programs, sizes, settings, weighted):
    """Fits on a few rows more or fewer (batches of 100: 3 each) share one vmapped epoch,
    the smaller ones leaving their last slots empty; each equals its fit alone: the loss
    curve (and validation scores) to 1e-12 (float64 rounding in the batched program's
    fusions), and the invscaling clock t_ counts its own rows (the learning rate of epoch
    k depends on it)."""
    from jaxann import compiling
    from jaxann.estimators.batch import fit_together

    X, y = digits
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    mlp = MLPClassifier(hidden_layer_sizes=(12,), max_iter=5, solver="sgd", learning_rate_init=0.5, batch_size=100,
                        random_state=2, **settings)
    requests = [(clone(mlp).set_params(random_state=i), X[:n], y[:n], w[:n] if weighted else None)
                for i, n in enumerate(sizes)]
    with compiling.counting() as ledger:
        outcomes = fit_together(requests)
    assert ledger.names.count("epoch") == 1
    for outcome, (estimator, Xn, yn, wn) in zip(outcomes, requests):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter reached
            alone = clone(estimator).fit(Xn, yn, sample_weight=wn)
        assert outcome.error is None
        trained = len(yn) - (24 if estimator.early_stopping else 0)
        assert outcome.estimator.t_ == alone.t_ == alone.n_iter_ * trained
        np.testing.assert_allclose(outcome.estimator.loss_curve_, alone.loss_curve_, rtol=1e-12)
        if estimator.early_stopping:
            np.testing.assert_allclose(outcome.estimator.validation_scores_, alone.validation_scores_, rtol=1e-12)
        np.testing.assert_allclose(outcome.estimator.coefs_[0], alone.coefs_[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("compact_at", [4, 10 ** 9])
def test_a_program_whose_models_mostly_stopped_is_compacted(digits, x64, fresh_programs, monkeypatch, compact_at):
    """Six of eight fits stop after 2 epochs, two go on (to 25 at most): from then on they
    train in a program of two models (compiled beside the first: 'epoch' twice in the
    ledger; once with compaction off), and every fit still equals its fit alone: loss
    curve and validation scores to 1e-12, weights to 1e-12 (float64 rounding in the
    batched program's fusions), epochs and the invscaling clock t_ (each fit's own rows:
    they differ by a few) exactly."""
    from jaxann import compiling, stack
    from jaxann.estimators.batch import fit_together

    monkeypatch.setattr(stack, "COMPACT_AT", compact_at)
    X, y = digits
    mlp = MLPClassifier(hidden_layer_sizes=(12,), solver="sgd", learning_rate="invscaling", learning_rate_init=0.5,
                        batch_size=200, early_stopping=True, tol=0.0, n_iter_no_change=5, random_state=0)
    requests = [(clone(mlp).set_params(random_state=i, max_iter=25 if i in (2, 5) else 2), X[:1700 - 3 * i],
                 y[:1700 - 3 * i], None) for i in range(8)]
    with compiling.counting() as ledger:
        outcomes = fit_together(requests)
    assert ledger.names.count("epoch") == (2 if compact_at == 4 else 1), ledger.names
    for outcome, (estimator, Xn, yn, _) in zip(outcomes, requests):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter reached
            alone = clone(estimator).fit(Xn, yn)
        assert outcome.error is None and outcome.estimator.n_iter_ == alone.n_iter_
        assert outcome.estimator.t_ == alone.t_
        np.testing.assert_allclose(outcome.estimator.loss_curve_, alone.loss_curve_, rtol=1e-12)
        np.testing.assert_allclose(outcome.estimator.validation_scores_, alone.validation_scores_, rtol=1e-12)
        for ours, theirs in zip(outcome.estimator.coefs_, alone.coefs_):
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    epochs = sorted(o.estimator.n_iter_ for o in outcomes)
    assert epochs[:6] == [2] * 6 and min(epochs[6:]) >= 12, epochs  # compacted after the second

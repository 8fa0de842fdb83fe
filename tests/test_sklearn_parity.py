"""The rest of scikit-learn's MLP, compared with the installed scikit-learn side by side:
L-BFGS, Poisson regression, multi-output losses, divergence under early stopping, and the
inputs and attributes a scikit-learn user meets. Float64 with x64 on throughout, so that
differences are the two libraries' rounding, not float32's."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import PoissonRegressor
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

import jaxann

pytestmark = pytest.mark.usefixtures("x64")


def _digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16, y[:600]


def _iris():
    return load_iris(return_X_y=True)


def _regression():
    X, y = make_regression(200, 8, noise=1.0, random_state=0)
    return X, y / 100


DATA = {"digits": (_digits, SkClassifier, "MLPClassifier"), "iris": (_iris, SkClassifier, "MLPClassifier"),
        "regression": (_regression, SkRegressor, "MLPRegressor")}


def both(name, **params):
    """The fitted scikit-learn and jaxann estimators of data set `name`, and the warnings
    each raised."""
    load, sk, ours = DATA[name]
    X, y = load()
    fitted = []
    for cls in (sk, getattr(jaxann, ours)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = cls(**params).fit(X, y)
        fitted.append((model, [w for w in caught if issubclass(w.category, ConvergenceWarning)]))
    return fitted


def fit_pair(sk_cls, our_cls, params, X, y):
    """scikit-learn's and jaxann's estimators with the same params fitted on (X, y), their
    ConvergenceWarnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sk_cls(**params).fit(X, y), our_cls(**params).fit(X, y)


def max_relative(a_list, b_list):
    return max(float(np.max(np.abs(a - b)) / np.max(np.abs(a))) for a, b in zip(a_list, b_list))


# --- L-BFGS ----------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
@pytest.mark.parametrize("name", ["digits", "iris", "regression"])
def test_lbfgs_follows_scikit_learn(name, activation):
    """At most 25 iterations (a limit that stops most of these runs): loss_ and every weight to 1e-6
    relative. Measured: 1e-14 .. 3e-12. L-BFGS's line searches amplify rounding as
    iterations accumulate (on iris, 50 iterations leave 1e-7 .. 5e-5 between the two),
    so the comparison stops where the two are still one run."""
    (sk, sk_warned), (ours, our_warned) = both(name, hidden_layer_sizes=(20,), activation=activation,
                                               solver="lbfgs", max_iter=25, random_state=0)
    assert ours.n_iter_ == sk.n_iter_ <= 25
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-6)
    assert max_relative(sk.coefs_ + sk.intercepts_, ours.coefs_ + ours.intercepts_) < 1e-6
    # "lbfgs failed to converge after 25 iteration(s) (status=1) ..." where the limit stopped them
    assert [str(w.message) for w in our_warned] == [str(w.message) for w in sk_warned]
    assert len(sk_warned) == (sk.n_iter_ == 25)


@pytest.mark.parametrize("name,activation", [("digits", "tanh"), ("iris", "relu")])
def test_lbfgs_converges_where_scikit_learn_does(name, activation):
    """Runs that converge before max_iter (measured: 41 and 46 iterations): the same
    iteration count, no warning, loss_ and weights to 1e-6 (measured <= 2e-11)."""
    (sk, sk_warned), (ours, our_warned) = both(name, hidden_layer_sizes=(20,), activation=activation,
                                               solver="lbfgs", max_iter=200, random_state=0)
    assert ours.n_iter_ == sk.n_iter_ < 200
    assert sk_warned == [] and our_warned == []
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-6)
    assert max_relative(sk.coefs_ + sk.intercepts_, ours.coefs_ + ours.intercepts_) < 1e-6


def test_lbfgs_with_sample_weight_warm_start_and_max_fun():
    X, y = _digits()
    w = np.random.RandomState(0).uniform(0.2, 2.0, len(X))
    params = dict(hidden_layer_sizes=(15,), solver="lbfgs", max_iter=10, random_state=0, warm_start=True)
    sk, ours = SkClassifier(**params), jaxann.MLPClassifier(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for model in (sk, ours):
            model.fit(X, y, sample_weight=w).fit(X, y, sample_weight=w)  # the second continues the first
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-6)
    assert max_relative(sk.coefs_ + sk.intercepts_, ours.coefs_ + ours.intercepts_) < 1e-6
    # the evaluation limit: scikit-learn's warning, with status 1
    for cls in (SkClassifier, jaxann.MLPClassifier):
        with pytest.warns(ConvergenceWarning, match=r"lbfgs failed to converge .*\(status=1\)"):
            cls(hidden_layer_sizes=(15,), solver="lbfgs", max_fun=5, random_state=0).fit(X, y)


def test_lbfgs_has_no_partial_fit_and_no_stochastic_attributes():
    X, y = _iris()
    # scikit-learn 1.9's MLPRegressor guards partial_fit with `est._check_solver` uncalled
    # (always true), so its lbfgs regressor keeps the method; its classifier and both of
    # jaxann's estimators hide it
    for cls in (SkClassifier, jaxann.MLPClassifier, jaxann.MLPRegressor):
        model = cls(solver="lbfgs")
        assert not hasattr(model, "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
            model.partial_fit  # noqa: B018
        assert hasattr(cls(solver="sgd"), "partial_fit")
    for cls in (SkClassifier, jaxann.MLPClassifier):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = cls(solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
        assert model.t_ == 0
        for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
            assert not hasattr(model, name), (cls, name)


def test_lbfgs_on_sparse_multilabel_and_string_labels():
    X, y = _digits()
    Y = np.c_[y % 2, y > 4, y == 3]
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[y]
    params = dict(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=15, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for X_fit, target in ((sp.csr_matrix(X), Y), (X, names)):
            sk = SkClassifier(**params).fit(X_fit, target)
            ours = jaxann.MLPClassifier(**params).fit(X_fit, target)
            assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-6)
            np.testing.assert_array_equal(ours.predict(X_fit), sk.predict(X_fit))
            np.testing.assert_allclose(ours.predict_proba(X_fit), sk.predict_proba(X_fit), rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(ours.predict_log_proba(X[:50]), sk.predict_log_proba(X[:50]), rtol=1e-6)
        np.testing.assert_array_equal(ours.classes_, sk.classes_)


def test_lbfgs_keeps_pandas_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = _iris()
    frame = pd.DataFrame(X, columns=["sepal length", "sepal width", "petal length", "petal width"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = jaxann.MLPClassifier(solver="lbfgs", max_iter=5, random_state=0).fit(frame, y)
    assert list(model.feature_names_in_) == list(frame.columns)
    with pytest.warns(UserWarning, match="feature names"):
        model.predict(X)  # fitted with names, asked without: scikit-learn's warning


def test_lbfgs_from_the_library_and_the_command_line(tmp_path, fresh_programs):
    from jaxann.cli import main
    from jaxann.data import load
    from jaxann.train import TrainConfig, fit

    digits = load("digits")
    result = fit(TrainConfig(optimizer="lbfgs", epochs=30, dtype="float64"), digits.x_train.astype(np.float64),
                 digits.y_train)
    assert len(result.history.loss) == 30 and result.history.loss[-1] < result.history.loss[0] / 10
    assert result.compiled == ["lbfgs"] and result.lbfgs.status == 1
    metrics = tmp_path / "m.json"
    assert main(["train", "--optimizer", "lbfgs", "--epochs", "20", "--quiet", "--metrics", str(metrics)]) == 0
    import json
    assert len(json.loads(metrics.read_text())["history"]["loss"]) == 20


# --- Poisson regression ---------------------------------------------------------------------------

def _counts():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 4)
    return X, rng.poisson(np.exp(X @ [0.3, -0.2, 0.1, 0.0]))


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_poisson_loss_follows_scikit_learn(solver):
    """Measured: loss curves to 4e-16, lbfgs's loss_ to 1e-15 (after 20 iterations)."""
    X, y = _counts()
    params = dict(loss="poisson", hidden_layer_sizes=(10,), max_iter=20, random_state=0, solver=solver,
                  learning_rate_init=0.01)
    sk, ours = fit_pair(SkRegressor, jaxann.MLPRegressor, params, X, y)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-6)
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-6)
    assert ours.out_activation_ == sk.out_activation_ == "exp"
    np.testing.assert_allclose(ours.predict(X), sk.predict(X), rtol=1e-6)
    assert np.all(ours.predict(X) > 0)


def test_poisson_network_without_hidden_nonlinearity_is_poisson_regression():
    """scikit-learn's own check: one identity hidden unit, alpha 0, L-BFGS, predicts as
    PoissonRegressor (rtol 1e-4, its tolerance: both stop at tol=1e-7)."""
    rng = np.random.RandomState(42)
    X = np.linspace(0, 1, 200).reshape(-1, 1)
    y = rng.poisson(np.exp(X[:, 0] + 1))
    glm = PoissonRegressor(alpha=0, tol=1e-7).fit(X, y)
    mlp = jaxann.MLPRegressor(loss="poisson", hidden_layer_sizes=(1,), activation="identity", alpha=0,
                              solver="lbfgs", tol=1e-7, random_state=1).fit(X, y)
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=1e-4)


def test_regressor_takes_loss_first_as_scikit_learn_does():
    import inspect
    assert list(inspect.signature(jaxann.MLPRegressor).parameters)[:3] == \
        list(inspect.signature(SkRegressor).parameters)[:3] == ["loss", "hidden_layer_sizes", "activation"]
    assert jaxann.MLPRegressor("poisson", (5,)).get_params()["loss"] == "poisson"


def test_negative_poisson_targets_are_refused():
    """scikit-learn 1.9's MLPRegressor takes them and reports NaN losses; jaxann refuses
    them as its PoissonRegressor does (the deviance is undefined below 0)."""
    X, y = _counts()
    with pytest.raises(ValueError, match="negative"):
        jaxann.MLPRegressor(loss="poisson", max_iter=2).fit(X, y - 1.0)


# --- losses as scikit-learn reports them ----------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_multi_output_regression_is_scikit_learns(solver):
    """scikit-learn reports the squared error averaged over outputs while descending the
    sum's gradient (L-BFGS minimises that pair too); jaxann does the same (measured: loss
    curves to 2e-16, lbfgs's loss_ to 1e-15)."""
    rng = np.random.RandomState(0)
    X = rng.randn(100, 5)
    Y = np.c_[X[:, 0] + X[:, 1], 2 * X[:, 2]]
    params = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0, solver=solver)
    sk, ours = fit_pair(SkRegressor, jaxann.MLPRegressor, params, X, Y)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-12)
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-9)
    np.testing.assert_allclose(ours.predict(X), sk.predict(X), rtol=1e-9, atol=1e-12)


def test_saturated_probabilities_report_scikit_learns_clipped_loss():
    """Once a softmax probability rounds to 1, scikit-learn's log loss clips it to
    1 - eps; the reported loss_ follows it (the gradient is unchanged)."""
    X, y = _iris()
    params = dict(hidden_layer_sizes=(20,), solver="adam", learning_rate_init=0.05, max_iter=60, random_state=0,
                  alpha=0.0, tol=0.0, n_iter_no_change=100)
    sk, ours = fit_pair(SkClassifier, jaxann.MLPClassifier, params, X * 10, y)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=1e-9)


# --- divergence under early stopping ------------------------------------------------------------

def test_divergence_with_early_stopping_keeps_the_best_weights():
    """A loss that turns NaN: without early stopping both raise; with it neither does, and
    both keep the best weights seen (here the initial ones: no epoch scored). scikit-learn
    trains on through max_iter NaN epochs; jaxann stops at the first."""
    X, y = load_digits(return_X_y=True)
    X, y = X / 16, y * 1e160
    params = dict(solver="sgd", learning_rate_init=0.5, max_iter=30, random_state=0, hidden_layer_sizes=(20,))
    for cls in (SkRegressor, jaxann.MLPRegressor):
        with pytest.raises(ValueError, match="non-finite parameter weights"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls(**params).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = SkRegressor(early_stopping=True, **params).fit(X, y)
        ours = jaxann.MLPRegressor(early_stopping=True, **params).fit(X, y)
    assert np.isnan(ours.loss_curve_[-1]) and ours.n_iter_ == 1 and sk.n_iter_ == 30
    for a, b in zip(sk.coefs_ + sk.intercepts_, ours.coefs_ + ours.intercepts_):
        np.testing.assert_array_equal(a, b)

"""class_weight, scikit-learn's meaning (`compute_sample_weight`): each row's weight is its
sample weight times its class's weight, "balanced" n / (k n_c) counted on all the rows
given to fit, before the early-stopping share is held out. Checked against fits given
those row weights by hand, on the estimators, batched estimator fits, `TrainConfig` fits,
sweeps and the command line. float64 (x64): the same weights give the same fit exactly."""

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits

from jaxann import MLPClassifier, TrainConfig, fit
from jaxann.estimators.batch import fit_together
from jaxann.sweep import fit_many


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(n_class=4, return_X_y=True)
    X, y = X[:120] / 16.0, y[:120]
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    return X, y, w


def by_hand(y, class_weight):
    """Each row's class weight, written out: balanced n / (k n_c); a dict's, others 1."""
    if class_weight == "balanced":
        counts = np.bincount(y)
        return len(y) / (np.count_nonzero(counts) * counts[y])
    return np.array([class_weight.get(label, 1.0) for label in y])


CLASS_WEIGHTS = {"balanced": "balanced", "dict": {0: 3.0, 2: 0.25}}
ESTIMATOR = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.2, max_iter=6, random_state=0,
                          early_stopping=True, validation_fraction=0.25, n_iter_no_change=50)


def fitted(est, X, y, w):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter reached: short fits on purpose
        return est.fit(X, y, sample_weight=w)


@pytest.mark.parametrize("class_weight", CLASS_WEIGHTS.values(), ids=CLASS_WEIGHTS.keys())
def test_estimator_class_weight_times_sample_weight_is_the_fit_weighted_by_hand(data, class_weight, x64):
    X, y, w = data
    ours = fitted(clone(ESTIMATOR).set_params(class_weight=class_weight), X, y, w)
    hand = fitted(clone(ESTIMATOR), X, y, w * by_hand(y, class_weight))
    plain = fitted(clone(ESTIMATOR), X, y, w)
    assert ours.loss_curve_ == hand.loss_curve_ != plain.loss_curve_
    assert ours.validation_scores_ == hand.validation_scores_  # the held-out rows weighted alike
    assert ours.to_sklearn().get_params()["solver"] == "sgd"  # scikit-learn's MLP has no class_weight


def test_batched_fits_with_class_weights_equal_fits_alone(data, x64):
    X, y, w = data
    estimators = [clone(ESTIMATOR).set_params(class_weight=cw) for cw in (None, *CLASS_WEIGHTS.values())]
    outcomes = fit_together([(est, X, y, w) for est in estimators])  # one program, the same arrays
    for outcome, est in zip(outcomes, estimators):
        alone = fitted(clone(est), X, y, w)
        assert outcome.error is None
        np.testing.assert_allclose(outcome.estimator.loss_curve_, alone.loss_curve_, rtol=1e-12)
        np.testing.assert_allclose(outcome.estimator.validation_scores_, alone.validation_scores_, rtol=1e-12)
        np.testing.assert_allclose(outcome.estimator.validation_loss_curve_, alone.validation_loss_curve_,
                                   rtol=1e-12)


def test_balanced_is_refused_in_partial_fit_as_sgdclassifier_refuses_it(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        MLPClassifier(class_weight="balanced", solver="sgd").partial_fit(X, y, classes=np.unique(y))


@pytest.mark.parametrize("class_weight", CLASS_WEIGHTS.values(), ids=CLASS_WEIGHTS.keys())
def test_train_config_and_sweeps_weigh_rows_by_class(data, class_weight, x64):
    X, y, w = data
    # the estimators' program above (full batches of the 90 rows trained on): compiled once
    config = TrainConfig(hidden=(8,), epochs=4, batch_size=90, lr=0.2, validation_fraction=0.25, dtype="float64",
                         class_weight=class_weight)
    ours = fit(config, X, y, sample_weight=w)
    hand = fit(replace(config, class_weight=None), X, y, sample_weight=w * by_hand(y, class_weight))
    assert ours.history.loss == hand.history.loss
    assert ours.history.validation_score == hand.history.validation_score
    assert ours.history.validation_loss == hand.history.validation_loss
    # a sweep's member with these class weights equals the fit alone (beside one without)
    sweep = fit_many([replace(config, class_weight=None), config], X, y, sample_weight=w)
    np.testing.assert_allclose(sweep.histories[1].loss, ours.history.loss, rtol=1e-12)
    np.testing.assert_allclose(sweep.histories[1].validation_loss, ours.history.validation_loss, rtol=1e-12)
    assert sweep.histories[0].loss != ours.history.loss
    # the setting survives JSON (metrics, checkpoints: labels become strings there)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_the_command_line_takes_class_weights():
    from jaxann.cli import build_parser
    from jaxann.cli.args import config_from
    from jaxann.cli.sweep import members_from
    from jaxann.errors import JaxannError

    args = build_parser("train").parse_args(["train", "--class-weight", "0=2,3=0.5"])
    assert config_from(args).class_weight == {0: 2.0, 3: 0.5}
    args = build_parser("sweep").parse_args(["sweep", "--class-weight", "none", "balanced", "--lr", "0.1,0.2"])
    assert [(m.lr, m.class_weight) for m in members_from(args)] == [
        (0.1, None), (0.1, "balanced"), (0.2, None), (0.2, "balanced")]
    with pytest.raises(SystemExit):
        build_parser("train").parse_args(["train", "--class-weight", "heavy"])
    with pytest.raises(JaxannError, match="class_weight"):
        TrainConfig(class_weight={0: -1.0}).validate()

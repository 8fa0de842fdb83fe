"""A fitted estimator to and from the other forms of a model: jaxann's saved model
(`jaxann.model.Model`) and scikit-learn's own MLPClassifier / MLPRegressor. The
estimators' methods `to_model`, `from_model`, `to_sklearn` and `from_sklearn` call these.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from jaxann.activations import registered
from jaxann.estimators.base import ACTIVATION_NAMES
from jaxann.loop import History, Progress
from jaxann.rules import Stopping


def to_model(est):
    """est, a fitted estimator, as a `jaxann.model.Model` (inputs: its features), which
    `jaxann.save_model` writes and `from_model` turns back into an estimator."""
    from jaxann.model import Model

    check_is_fitted(est)
    params = tuple({"W": np.asarray(W), "b": np.asarray(b)} for W, b in zip(est.coefs_, est.intercepts_))
    if isinstance(est, ClassifierMixin):
        kind = est._label_binarizer.y_type_
        task, classes = ("multilabel" if kind.startswith("multilabel") else kind), est.classes_
    else:
        task, classes = "regression", None
    return Model(params, est._activation(), est._loss_name(), est.out_activation_, task,
                 classes, None, est.grad)


def from_model(cls, model, **params):
    """A fitted estimator predicting as `model` (a `jaxann.model.Model`, or a path that
    `jaxann.load_model` reads) does, on features x / model.input_divisor; params: other
    constructor parameters (for later warm-started fits). JaxannError for a model this
    estimator cannot hold (another task, or an activation or loss scikit-learn lacks)."""
    from sklearn.preprocessing import LabelBinarizer

    from jaxann.errors import JaxannError
    from jaxann.model import load_model

    model = model if hasattr(model, "params") else load_model(model)
    names = {ours: theirs for theirs, ours in ACTIVATION_NAMES.items()}
    names.update((name, name) for name in registered())
    classifier = issubclass(cls, ClassifierMixin)
    if (model.task != "regression") != classifier:
        raise JaxannError(f"a {model.task} model cannot be a {cls.__name__}")
    layers = (model.activation,) if isinstance(model.activation, str) else model.activation
    for name in layers:
        if name not in names:
            raise JaxannError(f"{cls.__name__} has no activation {name!r}; expected one of: {', '.join(names)}")
    activation = names[model.activation] if isinstance(model.activation, str) else \
        tuple(names[name] for name in model.activation)
    losses = ("cross_entropy", "binary_cross_entropy") if classifier else ("squared_error", "poisson")
    if model.loss not in losses:
        raise JaxannError(f"{cls.__name__} trains on {' or '.join(losses)}, not {model.loss!r}")
    if not classifier:
        params.setdefault("loss", model.loss)
    sizes = model.sizes
    estimator = cls(hidden_layer_sizes=tuple(sizes[1:-1]), activation=activation, grad=model.grad,
                    **params)
    if classifier:
        binarizer = LabelBinarizer()
        binarizer.fit(np.eye(sizes[-1], dtype=int) if model.task == "multilabel" else model.classes)
        estimator._label_binarizer, estimator.classes_ = binarizer, binarizer.classes_
    estimator.n_features_in_, estimator.n_outputs_, estimator.n_layers_ = sizes[0], sizes[-1], len(sizes)
    estimator.out_activation_ = model.output
    estimator.n_iter_, estimator._progress = 0, None
    estimator._set_weights(model.params, np.asarray(model.params[0]["W"]).dtype)
    return estimator


# the fitted attributes scikit-learn's estimator has, besides the weights, as they are
SKLEARN_FITTED = ("n_features_in_", "feature_names_in_", "n_outputs_", "n_layers_", "out_activation_",
                   "n_iter_", "loss_", "classes_", "_label_binarizer")


def to_sklearn(est):
    """A fitted `sklearn.neural_network` MLPClassifier / MLPRegressor with this one's
    parameters and weights (copies, in their dtype): its predict and predict_proba
    equal this estimator's to float rounding, and scikit-learn's own tools (pickling,
    ONNX converters) take it from there; the stochastic solvers' record (loss_curve_,
    validation_scores_, best_loss_, best_validation_score_, t_) comes along.
    grad, class_weight, dropout and dtype are jaxann's alone: a model trained by another
    rule, or with dropout (off in prediction), predicts as any other, and a warm-started
    fit in scikit-learn continues by backpropagation, its rows unweighted by class,
    without dropout, in its input's precision. (A `jaxann.model.
    Model` whose activation or loss scikit-learn lacks is refused by `from_model`
    before it gets here.) scikit-learn has one activation for every hidden layer, of
    its four: an activation per layer (unless all the same) or one registered with
    `jaxann.activations.register` is refused, JaxannError saying why."""
    from sklearn import neural_network

    from jaxann.errors import JaxannError

    check_is_fitted(est)
    jaxann_only = ("grad", "class_weight", "dropout", "dtype")
    params = {k: v for k, v in est.get_params(deep=False).items() if k not in jaxann_only}
    activation = est.activation
    if not isinstance(activation, str):
        if len(set(activation)) > 1:
            raise JaxannError(f"scikit-learn's {type(est).__name__} has one activation for every hidden layer; "
                              f"this one has one per layer, {list(activation)}, which it cannot represent")
        activation = activation[0]
    if activation not in ACTIVATION_NAMES:
        raise JaxannError(f"scikit-learn's {type(est).__name__} has no activation {activation!r} (registered "
                          f"with jaxann.activations.register); it has only: {', '.join(ACTIVATION_NAMES)}")
    params["activation"] = activation
    theirs = getattr(neural_network, type(est).__name__)(**params)
    theirs.coefs_ = [np.array(W) for W in est.coefs_]
    theirs.intercepts_ = [np.array(b) for b in est.intercepts_]
    for name in SKLEARN_FITTED:
        if name in vars(est):
            setattr(theirs, name, copy.deepcopy(getattr(est, name)))
    if "loss_curve_" in vars(est):  # a stochastic solver's: the stopping rule's record
        theirs.loss_curve_ = list(est.loss_curve_)
        theirs.validation_scores_ = None if est.validation_scores_ is None else list(est.validation_scores_)
        theirs.best_loss_, theirs.best_validation_score_ = est.best_loss_, est.best_validation_score_
        theirs.t_ = est.t_
        theirs._no_improvement_count = est._progress.stopping.no_improvement if est._progress else 0
    return theirs


def from_sklearn(cls, model, **params):
    """A jaxann estimator started from a fitted scikit-learn MLPClassifier /
    MLPRegressor: its parameters (params override them; warm_start=True unless given,
    so fit continues from its weights), its weights (copies) and fitted attributes, and
    its stopping rule's memory (best loss or validation score, the no-improvement
    count, samples seen), so that a fit continues as scikit-learn's warm-started fit
    would. The optimizer starts afresh (as every fit's does; partial_fit too, where
    scikit-learn's would keep its momentum or Adam moments). TypeError for another
    kind of model."""
    from sklearn import neural_network

    expected = getattr(neural_network, cls.__name__)
    if not isinstance(model, expected):
        raise TypeError(f"{cls.__name__}.from_sklearn takes a fitted sklearn.neural_network.{cls.__name__}, "
                        f"not {type(model).__name__}")
    check_is_fitted(model)
    ours = cls(**{**model.get_params(deep=False), "warm_start": True, **params})
    ours.coefs_ = [np.array(W) for W in model.coefs_]
    ours.intercepts_ = [np.array(b) for b in model.intercepts_]
    for name in SKLEARN_FITTED:
        if name in vars(model):
            setattr(ours, name, copy.deepcopy(getattr(model, name)))
    ours._progress = None
    if hasattr(model, "loss_curve_"):
        ours.loss_curve_ = list(model.loss_curve_)
        ours.validation_scores_ = None if model.validation_scores_ is None else list(model.validation_scores_)
        # scikit-learn records no validation loss: NaN for its epochs
        ours.validation_loss_curve_ = None if model.validation_scores_ is None else \
            [float("nan")] * len(model.validation_scores_)
        best_loss, best_score = model.best_loss_, model.best_validation_score_
        stopping = Stopping(best_loss=np.inf if best_loss is None else float(best_loss),
                            best_score=-np.inf if best_score is None else float(best_score),
                            no_improvement=int(getattr(model, "_no_improvement_count", 0)))
        # no optimizer state (None): a fit or partial_fit starts a new optimizer
        ours._progress = Progress(0, None, History(), int(model.t_), stopping)
    return ours

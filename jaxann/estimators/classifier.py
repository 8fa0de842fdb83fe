"""`MLPClassifier`: scikit-learn's multi-layer perceptron classifier, trained by jaxann."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import compute_sample_weight
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import (_check_partial_fit_first_call, check_classification_targets,
                                      type_of_target, unique_labels)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d, validate_data

from jaxann.estimators.base import _BaseMLP


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's interface, trained by jaxann.

    Multiclass targets get a softmax output and cross-entropy; binary and multilabel
    targets logistic outputs and binary cross-entropy. See the module docstring for the
    parameters (scikit-learn's) and the parity with `sklearn.neural_network.MLPClassifier`.
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [dict, list, StrOptions({"balanced"}), None],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, grad="autodiff", dropout=0.0, dtype=None, class_weight=None):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun, grad=grad,
            dropout=dropout, dtype=dtype)
        self.class_weight = class_weight

    def _class_weighted(self, t, sample_weight, incremental):
        """sample_weight times each row's class weight (class_weight as scikit-learn's
        classifiers take it: None, "balanced" or {label: weight}; a list of dicts for
        multilabel), as `compute_sample_weight(class_weight, y)` on all the rows given to
        fit, before the early-stopping rows are held out (as HistGradientBoostingClassifier
        does: the validation score is weighted alike). "balanced" is refused in
        partial_fit, as SGDClassifier refuses it: one call's rows do not give the classes'
        frequencies."""
        if self.class_weight is None:
            return sample_weight
        if incremental and self.class_weight == "balanced":
            raise ValueError("class_weight 'balanced' is not supported for partial_fit: pass the weights of "
                             "compute_class_weight('balanced', classes=classes, y=y) as a dict instead.")
        weights = compute_sample_weight(self.class_weight, self._label_binarizer.inverse_transform(t))
        return weights if sample_weight is None else sample_weight * weights

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _out_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _loss_name(self):
        return "cross_entropy" if self.out_activation_ == "softmax" else "binary_cross_entropy"

    def _labels(self, t):
        return self._label_binarizer.inverse_transform(t)

    def _score_finite(self, a_L, y, sample_weight=None):
        """Accuracy of finite a^L's classes against labels y, as `accuracy_score` computes it (the
        weighted share of rows right; a multilabel row is right when all its labels are),
        without its input checks, which cost more than the score (a search scores every
        model every epoch)."""
        if self.out_activation_ == "softmax":
            right = self.classes_[np.argmax(a_L, axis=1)] == y
        elif self.n_outputs_ == 1:  # binary: sigmoid(a) > 1/2
            right = self.classes_[(a_L[:, 0] > 0).astype(int)] == y
        else:  # multilabel: indicator rows
            right = np.all((a_L > 0) == (np.asarray(y) > 0), axis=1)
        return float(np.average(right, weights=sample_weight))

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in "
                                     f"the previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    def predict(self, X):
        """Class labels (n_samples,), or indicator rows (n_samples, n_classes) for multilabel."""
        p = self._output(X)
        return self._label_binarizer.inverse_transform(p.ravel() if self.n_outputs_ == 1 else p)

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes), in the order of `classes_`."""
        p = self._output(X)
        if self.n_outputs_ == 1:  # binary: one logistic output is P(classes_[1])
            p = p.ravel()
            return np.vstack([1 - p, p]).T
        if self.out_activation_ == "softmax":
            # a float32 softmax sums to 1 within ~2e-7: normalised again in the output's dtype
            # (float64 for float64 input), its rows sum to 1 as scikit-learn's log_loss expects
            p = p / p.sum(axis=1, keepdims=True)
        return p

    def predict_log_proba(self, X):
        """log of `predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @available_if(_BaseMLP._check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), continuing from the current state; `classes` on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

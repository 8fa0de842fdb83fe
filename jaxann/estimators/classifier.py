"""`MLPClassifier`: scikit-learn's multi-layer perceptron classifier, trained by jaxann."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelBinarizer
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

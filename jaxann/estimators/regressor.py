"""`MLPRegressor`: scikit-learn's multi-layer perceptron regressor, trained by jaxann."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils.validation import column_or_1d, validate_data

from jaxann.estimators.base import ACTIVATION_NAMES, _BaseMLP
from jaxann.predict import outputs


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's interface, trained by jaxann.

    Identity output and the half squared error (1/2m) sum_i ||a^L_i - y_i||^2 + L2; see the
    module docstring for the parameters and the parity with scikit-learn's MLPRegressor.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def _out_activation(self):
        return "identity"

    def _loss_name(self):
        return "squared_error"

    def _validation_score(self, params, X, y, sample_weight=None):
        pred = outputs(params, X, ACTIVATION_NAMES[self.activation])
        return r2_score(y, pred.ravel() if pred.shape[1] == 1 else pred, sample_weight=sample_weight)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def predict(self, X):
        """Predictions (n_samples,) for one output, else (n_samples, n_outputs)."""
        p = self._output(X)
        return p.ravel() if p.shape[1] == 1 else p

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current state."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return self._fit(X, y, sample_weight, incremental=True)

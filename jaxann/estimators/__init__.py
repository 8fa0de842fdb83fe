"""scikit-learn-compatible `MLPClassifier` and `MLPRegressor`, trained by `jaxann.loop.fit`.

The lecture's code runs with one change, its import:

    from jaxann import MLPClassifier
    mlp = MLPClassifier(hidden_layer_sizes=(50,), max_iter=10, alpha=1e-4, solver='sgd',
                        learning_rate_init=.1, random_state=1)

Parameters, defaults, fitted attributes and input validation are scikit-learn's (same
exception types for the same mistakes), plus jaxann's `grad` ('autodiff' | 'backprop' |
a learning rule of `jaxann.deltas`: 'feedback_alignment', 'direct_feedback_alignment',
'sign_symmetry', 'sign_symmetry_frm', 'sign_symmetry_brm') and `dropout` (0: none; a rate,
or one per hidden layer, of inverted dropout while training with sgd or adam,
`jaxann.dropout`). The training itself is
jaxann's: one compiled `lax.scan` per epoch
(solver='lbfgs': SciPy's L-BFGS-B over one compiled cost-and-gradient program), on the CPU
or a GPU.

Parity with scikit-learn, step for step, for the same `random_state`:
- initial weights and biases: scikit-learn's Glorot-uniform draws (bound sqrt(6 / (fan_in +
  fan_out)), sqrt(2 / ...) for 'logistic'), W then b, layer by layer, from its RandomState;
- batch order: the same RandomState reshuffles the row order every epoch, after the
  early-stopping split (`train_test_split`) has drawn from it;
- updates: scikit-learn's momentum and Adam forms (`jaxann.optimizers`) and learning-rate
  schedules; costs: softmax + cross-entropy (multiclass), logistic + binary cross-entropy
  (binary, multilabel), half squared error or half Poisson deviance with an exponential
  output (regression), L2 alpha / (2 m) ||W||^2; the reported loss is scikit-learn's
  formula (clipped probabilities, squared error averaged over outputs);
- the stopping rule's memory (best loss or validation score, the no-improvement count)
  carries over warm-started fits and partial_fit calls; each fit starts a new optimizer.
The precision follows the input, as scikit-learn's: float64 X trains (and predicts) in
float64, within jaxann's own programs (`jaxann.compiling.precision`; JAX's global x64
setting is left alone), and `loss_curve_` follows scikit-learn's to rounding; float32 X
trains in float32, and `dtype="float32"` asks for it on float64 X.

Beyond scikit-learn's MLPs: MLPClassifier's class_weight (None, "balanced", {label:
weight}), multiplying sample_weight row by row as `compute_sample_weight` does, on all rows
given to fit before the early-stopping rows are held out (as HistGradientBoostingClassifier;
the validation score and loss are weighted alike); `validation_loss_curve_` beside
`validation_scores_` (the weighted mean over the held-out rows of the reported loss's
per-row formula, without the L2 term); `to_sklearn()` / `from_sklearn(model)`, to hand a
fitted model to scikit-learn and to start from one of its fitted models (warm start).

Differences, on purpose: loss='poisson' refuses negative targets (scikit-learn 1.9 takes
them and reports NaN losses); a loss that turns NaN under early stopping ends the fit at
once (scikit-learn runs on to max_iter; both keep the best weights); an epoch whose
validation outputs are infinite or NaN scores float('nan') for both estimators (as
scikit-learn's regressor; its classifier scores the argmax of such outputs); the regressor hides
partial_fit for solver='lbfgs' as the classifier does; with early stopping, a warm-started
fit in which no epoch beats the best validation score hands back the best weights, where
scikit-learn hands back the last (its restored best weights alias the arrays it goes on
training in place).
"""

from jaxann.estimators.base import ACTIVATION_NAMES
from jaxann.estimators.classifier import MLPClassifier
from jaxann.estimators.regressor import MLPRegressor

__all__ = ["ACTIVATION_NAMES", "MLPClassifier", "MLPRegressor"]

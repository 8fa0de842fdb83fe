"""What the two estimators share: scikit-learn's parameters, validated by its constraint
machinery, translated to a `TrainConfig`; its random streams (initial weights, the
early-stopping split, the batch order) translated to jaxann's; and the fitted state,
one `Progress` that later fits and partial_fit continue from."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from numbers import Integral, Real

import jax
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from jaxann.activations import check_activation, registered
from jaxann.deltas import FEEDBACK_RULES
from jaxann.config import GRADS, TrainConfig
from jaxann.inputs import validation_rows
from jaxann.loop import History, Validation, fit, iteration_line, start
from jaxann.network import init_mlp_from_random_state
from jaxann.predict import outputs, validation_outputs
from jaxann.rules import Stopping

# scikit-learn's error for weights that turned infinite or NaN
NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and need "
              "to be preprocessed.")

# scikit-learn's activation names -> jaxann's
ACTIVATION_NAMES = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


class _Activations(StrOptions):
    """The activation parameter's constraint: one of scikit-learn's names or a registered
    one (`jaxann.activations.register`), or a tuple or list of them, one per hidden layer
    (its length is checked at fit, against hidden_layer_sizes)."""

    def __init__(self):
        super().__init__(set(ACTIVATION_NAMES))

    def _name(self, value) -> bool:
        return isinstance(value, str) and (value in self.options or value in registered())

    def is_satisfied_by(self, val):
        if isinstance(val, (tuple, list)):
            return len(val) > 0 and all(self._name(v) for v in val)
        return self._name(val)

    def __str__(self):
        return (f"a str among {sorted(self.options)} or registered with jaxann.activations.register, or a tuple of "
                "them, one per hidden layer")


class _BaseMLP(BaseEstimator):
    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [_Activations()],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "grad": [StrOptions(set(GRADS))],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "dtype": [None, StrOptions({"float32", "float64"}), Options(type, {np.float32, np.float64})],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, grad="autodiff", dropout=0.0, dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.grad = grad
        self.dropout = dropout
        self.dtype = dtype

    # --- the pieces subclasses supply -------------------------------------------------------
    # _validate_input(X, y, incremental, reset) -> X, y (2-D float targets)
    # _out_activation() -> "softmax" | "logistic" | "identity";  _loss_name() -> jaxann loss
    # _labels(t) -> held-out targets as the score compares them; _validation_link() -> a^L's link
    # for the score; _score_finite(a, y, sample_weight) -> the early-stopping score of finite outputs a

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # --- fitted state: coefs_ / intercepts_ own the weights (the current ones, which after
    # early stopping are the best validation epoch's), _progress everything else a
    # later fit or partial_fit continues from (optimizer state, samples seen, the stopping
    # rule's memory); the attributes below are read off it

    @property
    def t_(self):
        """Samples seen over all fits (invscaling's clock)."""
        return self._progress.samples_seen if self._progress_or_raise("t_") else 0

    @property
    def best_loss_(self):
        """The stopping rule's best training loss (None with early stopping)."""
        progress = self._stochastic_or_raise("best_loss_")
        if self.validation_scores_ is not None:
            return None
        return progress.stopping.best_loss if progress else np.inf

    @property
    def best_validation_score_(self):
        """The best validation score with early stopping (None without)."""
        progress = self._stochastic_or_raise("best_validation_score_")
        if self.validation_scores_ is None:
            return None
        return progress.stopping.best_score if progress else -np.inf

    def _check_solver(self):
        """partial_fit exists only for the stochastic solvers (as scikit-learn's:
        `hasattr(est, "partial_fit")` is False for solver='lbfgs')."""
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def _progress_or_raise(self, name):
        if "_progress" not in vars(self):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return self._progress

    def _stochastic_or_raise(self, name):
        """The stopping rule's attributes exist, as scikit-learn's do, once a stochastic
        solver has started (solver='lbfgs' alone never sets them)."""
        if "loss_curve_" not in vars(self):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return self._progress

    def _weights(self, dtype=None):
        """coefs_ / intercepts_ as the parameter tree in dtype (default: the precision the
        estimator predicts in, `_precision`); cast on the host, so no device program runs."""
        dtype = dtype or self._precision()
        return tuple({"W": np.asarray(W, dtype), "b": np.asarray(b, dtype)}
                     for W, b in zip(self.coefs_, self.intercepts_))

    def _precision(self, X=None) -> str:
        """The float type of the estimator's arithmetic: the dtype parameter, else the
        input's (float64 input trains in float64, float32 in float32, as scikit-learn's);
        for a fitted estimator asked without X, that of its weights. The programs it runs
        scope float64 themselves (`jaxann.compiling.precision`), so JAX's global x64
        setting is never needed."""
        if self.dtype is not None:
            return np.dtype(self.dtype).name
        return np.dtype(X.dtype if X is not None else np.asarray(self.coefs_[0]).dtype).name

    def _hidden(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if any(s <= 0 for s in np.asarray(sizes)):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _initialize(self, y, layer_units, dtype, rng):
        """scikit-learn's Glorot-uniform draws from its RandomState, W then b per layer."""
        self.n_iter_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        params = init_mlp_from_random_state(rng, layer_units, self._gains(len(layer_units) - 1), dtype)
        self.coefs_ = [layer["W"] for layer in params]
        self.intercepts_ = [layer["b"] for layer in params]
        self._progress = None
        if self.solver != "lbfgs":  # the stochastic solvers' record (scikit-learn's attributes)
            self.loss_curve_ = []
            self.validation_scores_ = [] if self.early_stopping else None
            self.validation_loss_curve_ = [] if self.early_stopping else None

    def _activation(self):
        """The activation as jaxann names it: scikit-learn's names translated ("logistic" is
        "sigmoid"), registered ones as they are; a tuple (one per hidden layer) for a
        tuple or list."""
        if isinstance(self.activation, str):
            return ACTIVATION_NAMES.get(self.activation, self.activation)
        return tuple(ACTIVATION_NAMES.get(name, name) for name in self.activation)

    def _gains(self, L: int) -> list[float]:
        """The Glorot gain of each layer's weights W^1..W^L: scikit-learn's, 2 for logistic
        units and 6 otherwise, for the whole network when one activation is named; with one
        per hidden layer, W^l takes the gain of layer l's activation (the units it feeds),
        and W^L, feeding the linear output, the last hidden layer's, so that a tuple of one
        name repeated draws what that name alone draws."""
        names = [self.activation] * L if isinstance(self.activation, str) else [*self.activation,
                                                                                 self.activation[-1]]
        return [2.0 if name == "logistic" else 6.0 for name in names]

    def _config(self, hidden, n_samples: int, epochs: int, dtype: str) -> TrainConfig:
        """jaxann's settings for scikit-learn's parameters."""
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples and self.solver != "lbfgs":
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                              "It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        return TrainConfig(
            hidden=tuple(hidden), activation=self._activation(), loss=self._loss_name(),
            optimizer=self.solver, lr=float(self.learning_rate_init), lr_schedule=self.learning_rate,
            power_t=float(self.power_t), momentum=float(self.momentum), nesterov=bool(self.nesterovs_momentum),
            beta1=float(self.beta_1), beta2=float(self.beta_2), epsilon=float(self.epsilon),
            alpha=float(self.alpha), batch_size=batch_size, epochs=epochs, grad=self.grad, tol=float(self.tol),
            n_iter_no_change=self.n_iter_no_change, shuffle=bool(self.shuffle), dtype=dtype,
            dropout=self._dropout(), seed=self._stream_seed())

    def _dropout(self):
        """dropout as TrainConfig takes it: one rate, or a tuple of one per hidden layer."""
        if np.ndim(self.dropout) == 0:
            return float(self.dropout)
        return tuple(float(p) for p in self.dropout)

    def _stream_seed(self) -> int:
        """The seed of jaxann's own random streams, a learning rule's random feedback and
        dropout's masks: an int random_state itself; a RandomState's first state word (read,
        not drawn, so the weights' and batch order's stream is undisturbed); for None,
        NumPy's global stream, as scikit-learn uses it (drawn only for those rules and for
        dropout)."""
        if self.grad not in FEEDBACK_RULES and not np.any(np.asarray(self.dropout) > 0):
            return TrainConfig.seed
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        if isinstance(self.random_state, np.random.RandomState):
            return int(self.random_state.get_state()[1][0])
        return int(np.random.randint(2**31 - 1))

    def _hold_out(self, y, rng):
        """scikit-learn's early-stopping split, drawn from its RandomState: (the rows left for
        training, the rows held out), as row numbers of the fit's X."""
        stratify = y if isinstance(self, ClassifierMixin) and self.n_outputs_ == 1 else None
        train, val = validation_rows(y.shape[0], self.validation_fraction, rng, stratify)
        if val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return train, val

    def _resume(self, config: TrainConfig, incremental: bool):
        """The Progress this fit starts from: the weights in coefs_ / intercepts_, the
        optimizer state too for partial_fit (fit, warm or not, starts a new optimizer, as
        scikit-learn does), and the stopping rule's memory of earlier fits."""
        before = self._progress
        dtype = np.dtype(config.dtype)
        params = self._weights(dtype)
        if incremental and before is not None and before.state is not None:
            # in this call's precision (a partial_fit may bring float32 rows after float64 ones)
            state = jax.tree.map(lambda a: np.asarray(a, dtype) if np.issubdtype(np.asarray(a).dtype, np.floating)
                                 else a, before.state)
            progress = replace(before, state=state._replace(params=params))
        else:
            progress = start(config, params, before.samples_seen if before else 0)
            progress = replace(progress, stopping=before.stopping if before else Stopping())
        if progress.stopping.best_score > -np.inf:
            # the best validation weights so far: after an early-stopping fit, coefs_ hold them
            progress = replace(progress, stopping=replace(progress.stopping, best_params=params))
        if (self.validation_scores_ is None) == self.early_stopping:
            # a warm start that turns early stopping on or off: the rule starts afresh in its new form
            self.validation_scores_ = [] if self.early_stopping else None
            self.validation_loss_curve_ = [] if self.early_stopping else None
            progress = replace(progress, stopping=Stopping())
        return progress

    def _log(self, progress):
        print(iteration_line(progress.epoch, progress.history.loss[-1]))
        if progress.history.validation_score:
            print(f"Validation score: {progress.history.validation_score[-1]:f}")

    def _plan(self, X, y, sample_weight=None, incremental=False) -> "Plan":
        """Everything before training: the input checked, the network initialised (or
        continued), the early-stopping rows held out, jaxann's settings and the state to
        start from. Fitting one estimator (`_fit`) and many at once (`jaxann.estimators.
        batch`) share it, and `_finish` after either."""
        hidden = self._hidden()
        check_activation(self._activation(), len(hidden))  # one name, or one per hidden layer
        # dropout's rates checked (TrainConfig's rules) before anything is fitted
        TrainConfig(hidden=tuple(hidden), optimizer=self.solver, dropout=self._dropout()).validate()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        sample_weight = self._class_weighted(y, sample_weight, incremental)
        if hasattr(X, "toarray"):  # sparse input: jaxann trains on dense arrays
            X = X.toarray()
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        layer_units = [X.shape[1], *hidden, y.shape[1]]
        rng = check_random_state(self.random_state)
        dtype = self._precision(X)
        if first_pass:
            self._initialize(y, layer_units, dtype, rng)
        elif [W.shape for W in self.coefs_] != list(zip(layer_units[:-1], layer_units[1:])):
            raise ValueError(f"the network {[c.shape for c in self.coefs_]} fitted before does not "
                             f"match layer sizes {layer_units}; fit it anew (warm_start=False)")
        if self.solver == "lbfgs":
            config = replace(self._config(hidden, X.shape[0], int(self.max_iter), dtype), max_fun=int(self.max_fun))
            return Plan(config, X, y, sample_weight, None, None, None, None)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        train = val = None
        if self.early_stopping:
            train, val = self._hold_out(y, rng)
        n_train = X.shape[0] if train is None else train.shape[0]
        config = self._config(hidden, n_train, 1 if incremental else int(self.max_iter), dtype)
        return Plan(config, X, y, sample_weight, train, val, self._resume(config, incremental),
                    _ReshuffledOrder(rng, n_train, self.shuffle), incremental)

    def _fit(self, X, y, sample_weight=None, incremental=False):
        plan = self._plan(X, y, sample_weight, incremental)
        if plan.config.optimizer == "lbfgs":
            return self._fit_lbfgs(plan)
        x, t, w = plan.training()
        validation = None
        if plan.val is not None:
            x_val, t_val, w_val = plan.held_out()
            dtype = plan.config.dtype

            def score(params, x, y, w):
                return self._validation_score(params, x, y, t_val.astype(dtype), w)

            validation = Validation(np.asarray(x_val, dtype), self._labels(t_val), w_val, score)
        result = fit(plan.config, x, t.astype(plan.config.dtype), sample_weight=w, validation=validation,
                     resume=plan.resume, order=plan.order,
                     callback=self._log if self.verbose else None)  # a Progress an epoch costs time
        return self._finish(plan, result)

    def _class_weighted(self, t, sample_weight, incremental):
        """The rows' weights with their class weights (the classifier's class_weight)."""
        return sample_weight

    def _labels(self, t):
        """The held-out targets in the form the validation score compares predictions with."""
        return t

    def _validation_link(self):
        return "identity"

    def _validation_score(self, params, X, y, t, sample_weight=None):
        """(the early-stopping score, the validation loss) of params on held-out rows X,
        labels y (as the score compares them), target rows t: one compiled call gives the
        outputs and the loss (`jaxann.predict.validation_outputs`; the loss is loss_curve_'s
        per-row formula, weighted by sample_weight, without the L2 term)."""
        w = None if sample_weight is None else np.asarray(sample_weight, X.dtype)
        a, loss = validation_outputs(params, X, t, w, self._activation(), self._validation_link(),
                                     self._loss_name())
        return self._score_outputs(a, y, sample_weight), loss

    def _score_outputs(self, a, y, sample_weight=None) -> float:
        """The early-stopping score of outputs a (n, n_outputs) against y: NaN when some
        output is infinite or NaN (a diverging fit), as scikit-learn's regressor records it
        (a Python float; the stopping rule, as scikit-learn's, never takes it for the best
        and restarts its no-improvement count, NaN comparing False), else the subclass's
        score (`_score_finite`)."""
        if not np.isfinite(a).all():
            return float("nan")
        return self._score_finite(a, y, sample_weight)

    def _finish(self, plan: "Plan", result):
        """The fitted attributes from a training result, and scikit-learn's messages."""
        self._store(result, plan.config.dtype)
        history = result.history
        if self.verbose and history.stopped:
            print(history.stopped[0].upper() + history.stopped[1:] + ". Stopping.")
        if result.diverged and not self.early_stopping:
            # with early stopping, a loss turned infinite or NaN ends training like the
            # stopping rule, keeping the best weights seen (scikit-learn >= 1.6)
            raise ValueError(NON_FINITE)
        if not plan.incremental and self.n_iter_ == self.max_iter and not history.stopped:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)
        return self

    def _fit_lbfgs(self, plan: "Plan"):
        """solver='lbfgs': full-batch L-BFGS from coefs_ / intercepts_ (a warm start
        continues from them), as scikit-learn runs it (`jaxann.lbfgs`)."""
        log = (lambda p: print(iteration_line(p.epoch, p.history.loss[-1]))) if self.verbose else None  # noqa: E731
        result = fit(plan.config, plan.x, plan.t.astype(plan.config.dtype), sample_weight=plan.sample_weight,
                     params=self._weights(plan.config.dtype), callback=log)
        self.n_iter_ = _check_optimize_result("lbfgs", result.lbfgs.scipy, self.max_iter)
        self.loss_ = result.lbfgs.loss
        self._set_weights(result.params, plan.config.dtype)
        if not all(np.isfinite(a).all() for a in (*self.coefs_, *self.intercepts_)):
            raise ValueError(NON_FINITE)
        return self

    def _set_weights(self, params, dtype):
        """coefs_ and intercepts_ from a parameter tree, as NumPy in the dtype trained in."""
        self.coefs_ = [np.asarray(layer["W"]).astype(dtype, copy=False) for layer in params]
        self.intercepts_ = [np.asarray(layer["b"]).astype(dtype, copy=False) for layer in params]

    def _store(self, result, dtype):
        """The fitted attributes, and the Progress a later fit continues from (as NumPy)."""
        history, p = result.history, result.progress
        # the weights live in coefs_ / intercepts_ alone: the kept Progress holds the rest
        state = jax.tree.map(np.asarray, p.state._replace(params=()))
        self._progress = replace(p, epoch=0, history=History(), state=state,
                                 stopping=replace(p.stopping, best_params=None))
        self._set_weights(result.params, dtype)
        self.n_iter_ = len(history.loss)
        self.loss_curve_ = list(self.loss_curve_) + history.loss
        self.loss_ = history.loss[-1]
        if self.validation_scores_ is not None:
            self.validation_scores_ = list(self.validation_scores_) + history.validation_score
            # (an estimator pickled before jaxann recorded validation losses has none)
            self.validation_loss_curve_ = list(getattr(self, "validation_loss_curve_", None) or []) + \
                history.validation_loss

    def to_model(self):
        """This fitted estimator as a `jaxann.model.Model` (inputs: its features), which
        `jaxann.save_model` writes and `from_model` turns back into an estimator."""
        from jaxann.estimators.interchange import to_model

        return to_model(self)

    @classmethod
    def from_model(cls, model, **params):
        """A fitted estimator predicting as `model` (a `jaxann.model.Model`, or a path that
        `jaxann.load_model` reads) does (`jaxann.estimators.interchange.from_model`)."""
        from jaxann.estimators.interchange import from_model

        return from_model(cls, model, **params)

    def to_sklearn(self):
        """A fitted `sklearn.neural_network` MLPClassifier / MLPRegressor predicting as this
        one does (`jaxann.estimators.interchange.to_sklearn`)."""
        from jaxann.estimators.interchange import to_sklearn

        return to_sklearn(self)

    @classmethod
    def from_sklearn(cls, model, **params):
        """A jaxann estimator started from a fitted scikit-learn MLPClassifier /
        MLPRegressor, its next fit continuing as scikit-learn's warm start would
        (`jaxann.estimators.interchange.from_sklearn`)."""
        from jaxann.estimators.interchange import from_sklearn

        return from_sklearn(cls, model, **params)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data X (n_samples, n_features) and targets y; returns self.

        sample_weight (n_samples,): each row's weight in every batch's cost (a weighted mean,
        the L2 term divided by the batch's weight sum), as scikit-learn weighs them.
        """
        from jaxann.estimators.batch import Ahead  # it builds on this module

        ahead = Ahead.active()
        if ahead is not None and ahead.fit(self, X, y, sample_weight):
            return self  # trained beside other fits (a search's; `jaxann.estimators.batch`)
        return self._fit(X, y, sample_weight, incremental=False)

    def _output(self, X):
        """a^L through the output activation (softmax, logistic or identity), (n, n_outputs)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False)
        if hasattr(X, "toarray"):
            X = X.toarray()
        a_L = outputs(self._weights(), X, self._activation(), link=self.out_activation_)
        return a_L.astype(X.dtype, copy=False)  # in the input's precision, as scikit-learn


@dataclass(frozen=True)
class Plan:
    """One estimator's fit, planned (`_BaseMLP._plan`): the settings; the fit's rows x,
    their targets t (n, n_out) and weights; the rows it trains on and the rows held out
    for early stopping (row numbers of x, None: all rows / no validation set); the
    Progress it starts from and its batch order (None for L-BFGS)."""

    config: TrainConfig
    x: np.ndarray
    t: np.ndarray
    sample_weight: np.ndarray | None
    train: np.ndarray | None
    val: np.ndarray | None
    resume: object
    order: object
    incremental: bool = False

    def _rows(self, rows):
        if rows is None:
            return self.x, self.t, self.sample_weight
        return self.x[rows], self.t[rows], None if self.sample_weight is None else self.sample_weight[rows]

    def training(self):
        """(x, t, sample_weight) of the rows trained on."""
        return self._rows(self.train)

    def held_out(self):
        """(x, t, sample_weight) of the validation rows."""
        return self._rows(self.val)


class _ReshuffledOrder:
    """scikit-learn's batch order: each epoch, the previous epoch's row order reshuffled by
    the estimator's RandomState (the stream its initial weights came from)."""

    def __init__(self, rng, n: int, shuffle: bool):
        self.rng, self.rows, self.shuffle = rng, np.arange(n), shuffle

    def __call__(self, epoch: int) -> np.ndarray:
        if self.shuffle:
            # what sklearn.utils.shuffle(rows, random_state=rng) does, without its input checks
            # (they run every epoch): shuffle an arange in place, then index by it
            order = np.arange(len(self.rows))
            self.rng.shuffle(order)
            self.rows = self.rows[order]
        return self.rows.astype(np.int32)

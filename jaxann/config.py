"""`TrainConfig`: everything that defines a training run, its validation and its dict form.

Each field says, in its metadata, which part of training reads it:

    program  the compiled epoch is built from it (architecture, optimizer kind, gradient
             source, batch size, dtype): a new value needs a new program
    input    a number the compiled epoch reads from its arguments (learning rate, momentum,
             Adam's betas and eps, alpha, dropout rates): a new value reuses the program
    loop     read only by the host loop between epochs (epochs, seed, stopping rule,
             schedule, shuffling, initialisation)

`program_config()` keeps the program fields and resets the others to their defaults; the
cache of compiled epochs is keyed by it, so a field is part of the key unless it says
otherwise, and nothing can be left out of the key by hand.

Importing this module imports no JAX (the tables `validate` checks against load when it
runs), so the command line can build its flags from `TrainConfig`'s defaults at once.
"""

from __future__ import annotations

import math
from numbers import Real
from dataclasses import asdict, dataclass, field, fields, replace

from jaxann.errors import JaxannError

OPTIMIZERS = ("sgd", "adam", "lbfgs")
LR_SCHEDULES = ("constant", "invscaling", "adaptive")
DTYPES = ("float32", "float64")


def differing(settings: list) -> list:
    """The keys whose values differ between the dicts `settings` (e.g. `TrainConfig.to_dict()`s,
    a run's metrics' "config"), in the order they first appear."""
    import json

    keys = list(dict.fromkeys(k for s in settings for k in s))
    return [k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in settings}) > 1]


def __getattr__(name):
    if name == "GRADS":  # the learning rules' names, from their home (loaded on first use)
        from jaxann.deltas import GRADS

        return GRADS
    raise AttributeError(f"module 'jaxann.config' has no attribute {name!r}")


def parse_class_weight(text: str):
    """A class_weight from its text form (the command line's, a settings file's): 'balanced',
    'none' (or '') -> None, or 'LABEL=WEIGHT,...' (e.g. '0=2,1=0.5') -> {0: 2.0, 1: 0.5}.
    ValueError for anything else."""
    text = text.strip()
    if text in ("balanced",):
        return text
    if text.lower() in ("", "none"):
        return None
    try:
        pairs = [part.split("=") for part in text.split(",")]
        return {int(k): float(v) for k, v in pairs}
    except ValueError:
        raise ValueError(f"{text!r} is not 'balanced', 'none' or LABEL=WEIGHT pairs (e.g. 0=2,1=0.5)") from None


def parse_dropout(text: str):
    """A dropout from its text form (the command line's, a settings file's): '0.2' -> 0.2
    (every hidden layer), '0.2,0.1' -> (0.2, 0.1) (one rate per hidden layer). ValueError
    for anything else (the rates' range is `TrainConfig.validate`'s to check)."""
    try:
        rates = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{text!r} is not a rate or comma-separated rates, one per hidden layer "
                         "(e.g. 0.2 or 0.2,0.1)") from None
    return rates[0] if len(rates) == 1 else tuple(rates)


def _input(default):
    return field(default=default, metadata={"read_by": "input"})


def _loop(default):
    return field(default=default, metadata={"read_by": "loop"})


@dataclass(frozen=True)
class TrainConfig:
    """A training run; the defaults are the lecture's configuration (784-50-10 on MNIST).

    hidden: the hidden layers' sizes n_1 .. n_{L-1}.
    activation: a name for every hidden layer, or a tuple of names, one per hidden layer
        (e.g. ("relu", "tanh")); your own once registered (`jaxann.activations.register`).
    batch_size: rows per mini-batch; 1 = online, None = full batch (all n rows).
    lr_schedule (sgd only), scikit-learn's: "constant"; "invscaling", lr / (samples seen + 1)
        ** power_t after each epoch; "adaptive", lr / 5 each time the stopping rule
        trips, stopping only once lr <= 1e-6.
    tol, n_iter_no_change: scikit-learn's stopping rule. Without a validation set: stop once
        the epoch loss has failed to fall below (best loss - tol) more than n_iter_no_change
        epochs running. With one (validation_fraction > 0, or given to `fit`): the same on
        the validation score (not above best + tol), and the best parameters are kept.
    grad: the update direction: "autodiff" (jax.grad), "backprop" (the lecture's recursion),
        or a learning rule that sends the error back through other matrices
        ("feedback_alignment", "direct_feedback_alignment", "sign_symmetry",
        "sign_symmetry_frm", "sign_symmetry_brm"; `jaxann.deltas`), whose feedback (random
        matrices drawn from the seed, or the sign rules' magnitudes) is scaled by feedback_scale.
    class_weight: each class's weight in the cost, multiplying sample_weight row by row
        (scikit-learn's `compute_sample_weight`, needs class labels y): None (1 each);
        "balanced", n / (k * n_c) for the k classes present, n_c rows of class c, counted
        on all the rows given to fit, before a validation share is held out (whose score
        and loss are weighted alike); or {label: weight}, the others 1.
    dropout: inverted dropout on the hidden activations while training (sgd, adam): one rate p
        in [0, 1) for every hidden layer, or a tuple of rates p_l, one per hidden layer; in a
        training step a^l becomes a^l * m^l / (1 - p_l), m^l_j ~ Bernoulli(1 - p_l) drawn per
        row and unit from the run's own random stream (`jaxann.dropout`, keyed by seed and
        the step, so a resumed run draws what the uninterrupted one would). Off when
        predicting, scoring and validating; the loss recorded per epoch is that of the batches
        as trained, with their units dropped. The rates are inputs of the compiled step (models
        of a sweep with different rates share one program, vmapped); whether any layer drops
        units at all shapes the program (its mask operations), so program_config keeps that
        (True / False) and with 0 everywhere the program is exactly the one without dropout.
    alignment: record, per epoch, each layer's angle in degrees between the update of
        `grad` and the true gradient (autodiff) on the same batches (History.alignment).
    optimizer "lbfgs": full-batch L-BFGS (`jaxann.lbfgs`), scikit-learn's solver='lbfgs':
        epochs is the most iterations, max_fun the most cost evaluations, tol the gradient
        tolerance; batch size, learning rate, momentum and the stopping rule do not apply.
    """

    hidden: tuple = (50,)
    activation: str | tuple = "relu"
    loss: str = "cross_entropy"
    optimizer: str = "sgd"
    lr: float = _input(0.1)
    lr_schedule: str = _loop("constant")
    power_t: float = _loop(0.5)
    momentum: float = _input(0.9)
    nesterov: bool = _input(True)
    beta1: float = _input(0.9)
    beta2: float = _input(0.999)
    epsilon: float = _input(1e-8)
    alpha: float = _input(1e-4)
    batch_size: int | None = 200
    epochs: int = _loop(10)
    seed: int = _loop(1)
    grad: str = "autodiff"
    tol: float = _loop(1e-4)
    n_iter_no_change: int = _loop(10)
    validation_fraction: float = _loop(0.0)
    shuffle: bool = _loop(True)
    init: str = _loop("glorot_uniform")
    dtype: str = "float32"
    max_fun: int = _loop(15000)
    feedback_scale: float = _input(1.0)
    alignment: bool = False
    dropout: float | tuple = _input(0.0)
    # a dict is unhashable: left out of the hash (program_config resets it, as every loop field)
    class_weight: object = field(default=None, hash=False, metadata={"read_by": "loop"})

    def __post_init__(self):
        # one form whatever the source: a list of activations (JSON's) as a hashable tuple
        if isinstance(self.activation, list):
            object.__setattr__(self, "activation", tuple(self.activation))
        # JSON's string labels back to ints, a text form parsed
        weights = self.class_weight
        if isinstance(weights, str) and weights != "balanced":
            try:
                weights = parse_class_weight(weights)
            except ValueError as e:
                raise JaxannError(f"class_weight {e}") from None
        if isinstance(weights, dict):
            try:
                weights = {int(k): float(v) for k, v in weights.items()}
            except (TypeError, ValueError):
                raise JaxannError(f"class_weight {weights} must map class labels to numbers") from None
        object.__setattr__(self, "class_weight", weights)
        if isinstance(self.dropout, (list, tuple)):  # JSON's list, one rate per hidden layer
            object.__setattr__(self, "dropout", tuple(self.dropout))

    def validate(self) -> "TrainConfig":
        """self, or JaxannError naming the first setting out of range. The numbers are
        checked first, before the name tables load JAX: a command line's mistyped number is
        refused at once."""
        def need(ok, what):
            if not ok:
                raise JaxannError(what)

        need(all(isinstance(h, int) and h > 0 for h in self.hidden),
             f"hidden layer sizes {list(self.hidden)} must be positive integers")
        need(math.isfinite(self.lr) and self.lr > 0, f"learning rate {self.lr} must be a positive number")
        need(math.isfinite(self.power_t) and self.power_t >= 0, f"power_t {self.power_t} must be a number >= 0")
        need(0 <= self.momentum <= 1, f"momentum {self.momentum} must be in [0, 1]")
        need(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, f"beta1, beta2 = {self.beta1}, {self.beta2} must be in [0, 1)")
        need(self.epsilon > 0, f"epsilon {self.epsilon} must be positive")
        need(math.isfinite(self.alpha) and self.alpha >= 0, f"alpha {self.alpha} must be a number >= 0")
        need(self.batch_size is None or (isinstance(self.batch_size, int) and self.batch_size > 0),
             f"batch size {self.batch_size} must be a positive integer (or full)")
        need(isinstance(self.epochs, int) and self.epochs > 0, f"epochs {self.epochs} must be a positive integer")
        need(self.tol >= 0, f"tol {self.tol} must be >= 0")
        need(self.n_iter_no_change > 0, f"n_iter_no_change {self.n_iter_no_change} must be a positive integer")
        need(0 <= self.validation_fraction < 1, f"validation fraction {self.validation_fraction} must be in [0, 1)")
        need(isinstance(self.max_fun, int) and self.max_fun > 0, f"max_fun {self.max_fun} must be a positive integer")
        need(math.isfinite(self.feedback_scale) and self.feedback_scale > 0,
             f"feedback_scale {self.feedback_scale} must be a positive number")
        rates = self.dropout if isinstance(self.dropout, tuple) else (self.dropout,)
        need((not isinstance(self.dropout, tuple) or len(rates) == len(self.hidden)) and all(
            isinstance(p, Real) and not isinstance(p, bool) and 0 <= p < 1 for p in rates),
             f"dropout {self.dropout!r} must be a rate in [0, 1), or one such rate per hidden layer "
             f"({len(self.hidden)} for hidden {list(self.hidden)})")
        weights = self.class_weight
        need(weights in (None, "balanced") or (isinstance(weights, dict) and all(
            k >= 0 and math.isfinite(v) and v >= 0 for k, v in weights.items())),
             f"class_weight {weights!r} must be None, 'balanced' or {{label >= 0: weight >= 0}}")
        from jaxann.activations import check_activation
        from jaxann.deltas import GRADS
        from jaxann.losses import LOSSES
        from jaxann.network import INITS

        check_activation(self.activation, len(self.hidden))
        for name, value, table in (("loss", self.loss, LOSSES),
                                   ("optimizer", self.optimizer, OPTIMIZERS), ("grad", self.grad, GRADS),
                                   ("lr_schedule", self.lr_schedule, LR_SCHEDULES),
                                   ("init", self.init, INITS), ("dtype", self.dtype, DTYPES)):
            need(value in table, f"unknown {name} {value!r}; expected one of: {', '.join(table)}")
        need(self.optimizer != "lbfgs" or self.grad in ("autodiff", "backprop"),
             f"L-BFGS needs a true gradient: grad 'autodiff' or 'backprop', not {self.grad!r}")
        need(self.optimizer != "lbfgs" or not self.dropping(),
             "L-BFGS needs a deterministic cost: dropout must be 0 with optimizer 'lbfgs'")
        need(self.optimizer != "lbfgs" or self.validation_fraction == 0,
             "L-BFGS trains on all the data to the end: validation_fraction must be 0 with optimizer 'lbfgs'")
        return self

    def sizes(self, n_in: int, n_out: int) -> list[int]:
        """The layer sizes [n_0, n_1, ..., n_L] for n_in inputs and n_out outputs."""
        return [n_in, *self.hidden, n_out]

    def batch_rows(self, n: int) -> int:
        """Rows per batch on n rows: batch_size, at most n (None: all n)."""
        return min(self.batch_size or n, n)

    def dropout_rates(self) -> tuple:
        """The dropout rates p_l of the hidden layers l = 1..L-1, one each."""
        return self.dropout if isinstance(self.dropout, tuple) else (self.dropout,) * len(self.hidden)

    def dropping(self) -> bool:
        """Whether a training step drops units in any hidden layer."""
        return any(p > 0 for p in self.dropout_rates())

    def to_dict(self) -> dict:
        """A JSON-ready dict (hidden, activations per layer and dropout's per-layer rates, as
        lists): the form metrics and checkpoints store."""
        activation = self.activation if isinstance(self.activation, str) else list(self.activation)
        return asdict(self) | {"hidden": list(self.hidden), "activation": activation} | (
            {"dropout": list(self.dropout)} if isinstance(self.dropout, tuple) else {})

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """The config `to_dict` wrote (unknown keys refused by the constructor; a list of
        activations becomes a tuple in `__post_init__`)."""
        return cls(**{**values, "hidden": tuple(values.get("hidden", cls.hidden))})

    def program_config(self) -> "TrainConfig":
        """This config with every field that is not a program field reset to its default,
        but of dropout, whose rates are inputs, whether any layer drops units (True or
        False: the program's mask operations)."""
        return replace(self, **{f.name: f.default for f in fields(self) if f.metadata.get("read_by")}
                       | {"dropout": self.dropping()})

"""Training by gradient descent over optax: online, mini-batch and full-batch.

The pieces, each built once per run and reused (never rebuilt inside a loop):

    optimizer = make_optimizer(config)               optax, hyperparameters as inputs
    step      = make_step(optimizer, config)         (state, batch) -> (state, metrics)
    epoch     = make_epoch(step, batch_size, n)      one `jax.lax.scan` over the batches
    compiled_epoch(config, n, args)                  that epoch compiled, kept for the next
                                                     fit with the same program

`step` is a pure function of a `TrainState` and one batch (x rows, target rows, row
weights); its gradient comes from `jax.grad` (grad="autodiff") or from the explicit delta
recursion (grad="backprop"), through the same code. `epoch(state, x, t, order)` takes the
data as arguments (never closed over, so it is not baked into the program) and the
epoch's row order; it pads the last, partial batch to full size with rows of weight 0,
so every batch has one shape, one program serves every epoch, and no sample is dropped.
Shuffling draws each epoch's order from a generator seeded with (seed, epoch). Nothing in
an epoch reads a value back to the host; `fit` reads the epoch's metrics once, after it.

Batch size: 1 is online learning, n (or None) full-batch gradient descent, anything
between mini-batch. The epoch loss is scikit-learn's: sum(batch cost * batch rows) / n,
each batch cost including its L2 term alpha / (2 m) ||W||^2.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxann import optimizers
from jaxann.activations import ACTIVATIONS
from jaxann.backprop import value_and_backprop
from jaxann.errors import JaxannError
from jaxann.losses import LOSSES
from jaxann.network import INITS, cost, forward, init_mlp

OPTIMIZERS = ("sgd", "adam")
LR_SCHEDULES = ("constant", "invscaling", "adaptive")
GRADS = ("autodiff", "backprop")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; the defaults are the lecture's configuration.

    batch_size: rows per mini-batch; 1 = online, None = full batch (all n rows).
    lr_schedule (sgd only), scikit-learn's: "constant"; "invscaling", lr / (t + 1) ** power_t
        after each epoch, t = samples seen; "adaptive", lr / 5 each time the stopping rule
        trips, stopping only once lr <= 1e-6.
    tol, n_iter_no_change: scikit-learn's stopping rule. Without validation: stop once the
        epoch loss has failed to fall below (best loss - tol) more than n_iter_no_change
        epochs running. With validation_fraction > 0: the same on the validation accuracy
        (not above best + tol), and the best parameters are restored at the end.
    """

    hidden: tuple = (50,)
    activation: str = "relu"
    loss: str = "cross_entropy"
    optimizer: str = "sgd"
    lr: float = 0.1
    lr_schedule: str = "constant"
    power_t: float = 0.5
    momentum: float = 0.9
    nesterov: bool = True
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    alpha: float = 1e-4
    batch_size: int | None = 200
    epochs: int = 10
    seed: int = 1
    grad: str = "autodiff"
    tol: float = 1e-4
    n_iter_no_change: int = 10
    validation_fraction: float = 0.0
    shuffle: bool = True
    init: str = "glorot_uniform"
    dtype: str = "float32"

    def validate(self) -> "TrainConfig":
        def need(ok, what):
            if not ok:
                raise JaxannError(what)

        for name, value, table in (("activation", self.activation, ACTIVATIONS), ("loss", self.loss, LOSSES),
                                   ("optimizer", self.optimizer, OPTIMIZERS), ("grad", self.grad, GRADS),
                                   ("lr_schedule", self.lr_schedule, LR_SCHEDULES),
                                   ("init", self.init, INITS), ("dtype", self.dtype, ("float32", "float64"))):
            need(value in table, f"unknown {name} {value!r}; expected one of: {', '.join(table)}")
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
        if self.dtype == "float64" and not jax.config.jax_enable_x64:
            raise JaxannError("dtype float64 needs jax_enable_x64: jax.config.update('jax_enable_x64', True)")
        return self


class TrainState(NamedTuple):
    """What a step changes: the parameters, the optimizer's state, and alpha (an input, so
    a new L2 strength needs no new compilation and can be vmapped over)."""

    params: tuple
    opt_state: optax.OptState
    alpha: jax.Array


class Metrics(NamedTuple):
    loss: jax.Array  # the cost C, including its L2 term
    correct: jax.Array  # rows whose argmax a^L is the target's argmax
    m: jax.Array  # real (unpadded) rows


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """SGD (momentum, Nesterov) or Adam in scikit-learn's forms (`jaxann.optimizers`).

    `optax.inject_hyperparams` keeps the learning rate (and momentum, betas) in the
    optimizer state rather than in the compiled program: a schedule changes it between
    epochs (`set_learning_rate`) without a new compilation, and models with different
    values can be vmapped together. SGD with momentum 0 is plain SGD.
    """
    dtype = jnp.dtype(config.dtype)
    if config.optimizer == "sgd":
        return optax.inject_hyperparams(optimizers.sgd, static_args=("nesterov",), hyperparam_dtype=dtype)(
            learning_rate=config.lr, momentum=config.momentum, nesterov=config.nesterov)
    return optax.inject_hyperparams(optimizers.adam, hyperparam_dtype=dtype)(
        learning_rate=config.lr, b1=config.beta1, b2=config.beta2, eps=config.epsilon)


def learning_rate(state: "TrainState") -> float:
    return float(state.opt_state.hyperparams["learning_rate"])


def set_learning_rate(state: "TrainState", lr: float) -> "TrainState":
    """The state with a new learning rate (an input of the compiled step: no recompilation)."""
    hyper = state.opt_state.hyperparams
    hyper = {**hyper, "learning_rate": jnp.asarray(lr, hyper["learning_rate"].dtype)}
    return state._replace(opt_state=state.opt_state._replace(hyperparams=hyper))


def _autodiff(params, x, t, w, activation, loss, alpha):
    return jax.value_and_grad(cost, has_aux=True)(params, x, t, w, activation, loss, alpha)


GRADIENTS = {"autodiff": _autodiff, "backprop": value_and_backprop}


def make_step(optimizer: optax.GradientTransformation, activation: str, loss: str, grad: str) -> Callable:
    """One gradient-descent step: (TrainState, (x, t, w)) -> (TrainState, Metrics)."""
    value_and_grad = GRADIENTS[grad]

    def step(state: TrainState, batch):
        x, t, w = batch
        (C, a_L), g = value_and_grad(state.params, x, t, w, activation, loss, state.alpha)
        updates, opt_state = optimizer.update(g, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        correct = jnp.sum(w * (jnp.argmax(a_L, axis=-1) == jnp.argmax(t, axis=-1)))
        return TrainState(params, opt_state, state.alpha), Metrics(C, correct, jnp.sum(w))

    return step


def make_epoch(step: Callable, batch_size: int | None, n: int, batch_sharding=None) -> Callable:
    """One epoch as one `jax.lax.scan`: (state, x, t, s, order) -> (state, Metrics of the epoch).

    s (n,) holds the rows' sample weights, or is None: every row counts once (a program of
    its own, with no weights to read); order (n,) is the epoch's row order. The rows are
    cut into ceil(n / B) batches of B; the last is padded with weight-0 rows, so its mean
    and L2 term use its real size (its weight sum). The epoch's Metrics, as scikit-learn
    counts them: loss = sum(C_batch rows_batch) / n, correct = the weight of the rows
    right, m = the weight of all rows (n when unweighted).
    batch_sharding: where each batch's rows go (data parallelism: split over a mesh's
    'data' axis; XLA then sums the gradient across devices).
    """
    B = min(batch_size or n, n)
    n_batches = -(-n // B)
    pad = n_batches * B - n

    def epoch(state, x, t, s, order):
        idx = jnp.concatenate([order, jnp.zeros(pad, order.dtype)]).reshape(n_batches, B)
        real = jnp.concatenate([jnp.ones(n, x.dtype), jnp.zeros(pad, x.dtype)]).reshape(n_batches, B)

        def body(state, batch):
            rows, real_rows = batch
            batch = (x[rows], t[rows], real_rows if s is None else s[rows] * real_rows)
            if batch_sharding is not None:
                batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
            return step(state, batch)

        state, per_batch = jax.lax.scan(body, state, (idx, real))
        loss = jnp.sum(per_batch.loss * jnp.sum(real, axis=1)) / n
        return state, Metrics(loss, jnp.sum(per_batch.correct), jnp.sum(per_batch.m))

    return epoch


def epoch_function(config: "TrainConfig", n: int, batch_sharding=None) -> Callable:
    """The epoch of config's settings on n rows (`make_epoch` over `make_step`), not compiled."""
    step = make_step(make_optimizer(config), config.activation, config.loss, config.grad)
    return make_epoch(step, config.batch_size, n, batch_sharding)


# compiled epochs, newest last; the oldest goes when there are more than COMPILED_KEPT
_COMPILED: OrderedDict = OrderedDict()
_COMPILED_LOCK = threading.Lock()  # fits may run in threads (joblib's threading backend)
COMPILED_KEPT = 16


def forget_compiled_epochs() -> None:
    """Drop every kept compiled epoch: the next fit compiles afresh (benchmarks time that)."""
    with _COMPILED_LOCK:
        _COMPILED.clear()


def compiled_epoch(config: "TrainConfig", n: int, args: tuple, batch_sharding=None, models: bool = False):
    """`epoch_function` compiled for args = (state, x, t, s, order), or vmapped over models
    (state and order with a leading model axis); the compiled program is kept and reused.

    What a program depends on is its key: the optimizer and Nesterov flag, activation,
    loss, gradient source, batch size, n, the batch placement, and the arguments' tree,
    shapes, dtypes and placements. Learning rate, momentum, Adam's betas and eps, alpha,
    the seed and the data's values are inputs, so fits that differ only in them (a grid
    search, cross-validation folds of one size, repeated `fit` calls) compile once.
    Returns (compiled epoch, seconds spent compiling: 0 when it was kept).
    """
    leaves = jax.tree.leaves(args)
    key = (config.optimizer, config.nesterov, config.activation, config.loss, config.grad,
           min(config.batch_size or n, n), n, batch_sharding, models, jax.tree.structure(args),
           tuple((jax.typeof(a), getattr(a, "sharding", None)) for a in leaves))
    with _COMPILED_LOCK:
        if key in _COMPILED:
            _COMPILED.move_to_end(key)
            return _COMPILED[key], 0.0
    t0 = time.perf_counter()
    epoch = epoch_function(config, n, batch_sharding)
    if models:
        epoch = jax.vmap(epoch, in_axes=(0, None, None, None, 0))
    compiled = jax.jit(epoch).lower(*args).compile()
    with _COMPILED_LOCK:
        _COMPILED[key] = compiled
        if len(_COMPILED) > COMPILED_KEPT:
            _COMPILED.popitem(last=False)
    return compiled, time.perf_counter() - t0


def epoch_order(seed: int, epoch: int, n: int, shuffle: bool = True) -> np.ndarray:
    """The row order (n,) of epoch number `epoch` (0-based) of a run with this seed.

    A permutation drawn from numpy's generator seeded with (seed, epoch), so any epoch's
    order can be recomputed on its own (a resumed run sees the same orders). It is drawn
    on the host, about a millisecond for 60,000 rows, while the device may still be
    running the previous epoch; drawing it on the device (`jax.random.permutation`, a
    sort) took 24 ms per MNIST epoch on the CPU.
    """
    if not shuffle:
        return np.arange(n, dtype=np.int32)
    return np.random.default_rng((seed, epoch)).permutation(n).astype(np.int32)


ROW_BLOCK = 8


def outputs(params, x, activation: str = "relu") -> np.ndarray:
    """The output layer's a^L (m, n_L) for rows x (m, n_0), each row's values independent of
    where the row stands in x.

    XLA's CPU matmul computes the last m % 8 rows with another kernel, whose float32 sums
    round differently in the last bit; with the rows padded to a multiple of ROW_BLOCK
    every row goes through the same kernel, so predicting shuffled rows gives the shuffled
    predictions exactly (scikit-learn's estimator checks ask for that to 1e-7).
    """
    x = np.asarray(x, params[0]["W"].dtype)
    m = x.shape[0]
    padded = np.zeros((-(-m // ROW_BLOCK) * ROW_BLOCK, *x.shape[1:]), x.dtype)
    padded[:m] = x
    return np.asarray(forward(params, padded, activation))[:m]


def predict(params, x, activation: str = "relu") -> np.ndarray:
    """Class indices argmax_j a^L_j for rows x (m, n_0)."""
    return outputs(params, x, activation).argmax(axis=-1)


def accuracy(params, x, y, activation: str = "relu", sample_weight=None) -> float:
    """The fraction of rows x whose predicted class is the label y (m,) (or argmax of
    targets); with sample_weight (m,), the fraction of the weight."""
    y = np.asarray(y)
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    if not len(labels):
        return float("nan")
    return float(np.average(predict(params, x, activation) == labels, weights=sample_weight))


@dataclass
class History:
    """Per epoch: the loss (scikit-learn's epoch loss), the running training accuracy (rows
    classified right by the parameters current when their batch was seen, read off the
    forward pass the gradient already made), the validation accuracy when there is a
    validation set, and the seconds the epoch took."""

    loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    validation_accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    lr_changes: list = field(default_factory=list)  # (epoch, new learning rate) by "adaptive"
    stopped: str = ""  # why training ended before `epochs`, if it did

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    """Everything a run carries from one epoch to the next: enough to resume it exactly.

    The row orders need no state of their own: epoch k's order is recomputed from
    (seed, k) by `epoch_order`.
    """

    epoch: int  # epochs completed
    state: TrainState  # parameters, optimizer state (with the current learning rate), alpha
    history: History
    samples_seen: int = 0  # t, over this and earlier runs (invscaling's clock)
    best_loss: float = math.inf  # the stopping rule's memory
    best_score: float = -math.inf
    best_params: tuple | None = None  # with a validation set: the best epoch's parameters
    no_improvement: int = 0


@dataclass
class FitResult:
    params: tuple
    history: History
    compile_seconds: float
    fit_seconds: float
    progress: Progress  # the final state: pass it back to `fit(resume=...)` to continue
    diverged: bool = False  # stopped by a non-finite loss or parameters (history.stopped says when)


def check_data(x, y, n_out: int | None = None):
    """x (n, n_0) finite floats and labels (n,) / targets (n, n_out); returns (x, y, n_out)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise JaxannError(f"x has shape {x.shape}; expected (n_samples, n_features) with both > 0")
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
        raise JaxannError("x holds NaN, infinite or non-numeric values; expected finite numbers")
    y = np.asarray(y)
    if y.shape[0] != x.shape[0] or y.ndim not in (1, 2):
        raise JaxannError(f"y has shape {y.shape}; expected ({x.shape[0]},) labels or ({x.shape[0]}, n_outputs) targets")
    if y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer):
            raise JaxannError(f"labels y have dtype {y.dtype}; expected integer class indices 0..k-1")
        if y.min() < 0:
            raise JaxannError(f"labels y include {y.min()}; expected class indices >= 0")
        n_out = n_out or int(y.max()) + 1
        if y.max() >= n_out:
            raise JaxannError(f"labels y range up to {y.max()}; expected 0..{n_out - 1}")
    else:
        if not np.all(np.isfinite(y)):
            raise JaxannError("targets y hold NaN or infinite values; expected finite numbers")
        n_out = n_out or y.shape[1]
        if y.shape[1] != n_out:
            raise JaxannError(f"targets y have {y.shape[1]} columns; expected {n_out}")
    return x, y, n_out


def check_sample_weight(sample_weight, n: int) -> np.ndarray:
    """Sample weights (n,): finite, non-negative, not all zero; None gives ones."""
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(sample_weight)
    if w.shape != (n,) or not np.issubdtype(w.dtype, np.number):
        raise JaxannError(f"sample_weight has shape {w.shape} and dtype {w.dtype}; expected ({n},) numbers, one per row")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
        raise JaxannError("sample_weight holds NaN, infinite or negative values or only zeros; "
                          "expected finite weights >= 0, some > 0")
    return w


def targets(y, n_out, dtype) -> np.ndarray:
    """Target rows (n, n_out) on the host: one-hot rows for labels (n,), else y as dtype."""
    return np.eye(n_out, dtype=dtype)[y] if y.ndim == 1 else np.asarray(y, dtype)


def device_name() -> str:
    """The device jaxann computes on, for logs and metrics: 'cpu: cpu (x1)', 'gpu: NVIDIA H100 (x8)'."""
    dev = jax.devices()[0]
    return f"{dev.platform}: {dev.device_kind} (x{jax.device_count()})"


def _split_validation(x, y, w, fraction, seed):
    from sklearn.model_selection import train_test_split

    stratify = y if y.ndim == 1 and np.bincount(y).min() >= 2 else None
    return train_test_split(x, y, w, test_size=fraction, random_state=seed, stratify=stratify)


@jax.jit
def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in jax.tree.leaves(tree)]))


def start(config: TrainConfig, params, samples_seen: int = 0) -> Progress:
    """A run's state before its first epoch: params (cast to config.dtype), a fresh optimizer
    state, no history. samples_seen carries invscaling's clock over from earlier runs."""
    dtype = jnp.dtype(config.dtype)
    params = jax.tree.map(lambda a: jnp.asarray(a, dtype), params)
    state = TrainState(params, make_optimizer(config).init(params), jnp.asarray(config.alpha, dtype))
    return Progress(0, state, History(), samples_seen)


def fit(config: TrainConfig, x, y, *, n_out: int | None = None, sample_weight=None, x_val=None, y_val=None,
        params=None, resume: Progress | None = None,
        orders: Callable[[int], np.ndarray] | None = None,
        score: Callable[[tuple, np.ndarray, np.ndarray], float] | None = None,
        callback: Callable[[Progress], None] | None = None, devices: int = 1) -> FitResult:
    """Train a network on rows x (n, n_0) with labels (n,) or targets (n, n_out).

    sample_weight (n,): each row's weight in the cost, scikit-learn's way: a batch's cost
        is sum_i w_i e_i / sum_i w_i + alpha / (2 sum_i w_i) sum_l ||W^l||^2. The epoch loss
        stays sum(C_batch rows_batch) / n; the training accuracy is weighted.

    params: start from these instead of a fresh `init_mlp` (PRNG key from config.seed).
    resume: continue from a `Progress` (a checkpoint's, or `FitResult.progress`): its
        epoch count, optimizer state, history and stopping-rule memory; training runs on
        to config.epochs in all.
    x_val, y_val: a validation set; without one, config.validation_fraction > 0 holds out
        that share of x (stratified) for it. score(params, x_val, y_val) is its score,
        higher is better (default: accuracy, weighted by the held-out rows' sample_weight).
    orders(k): the row order of epoch k (default: `epoch_order(config.seed, k, n)`).
    callback(progress) runs after each epoch whose loss is finite (progress.epoch counts
        from 1); a checkpoint written there resumes the run exactly.
    devices: data parallelism over the first `devices` of `jax.devices()` (all hosts' after
        `jax.distributed.initialize()`): each batch's rows are split over a 'data' mesh
        axis, the data and parameters are replicated; results equal one device's to
        rounding. The batch size must be a multiple of it.
    """
    config.validate()
    x, y, n_out = check_data(x, y, n_out)
    w = check_sample_weight(sample_weight, x.shape[0])
    w_val = None  # the held-out rows' weights (ones when unweighted: the same accuracy, exactly)
    if x_val is None and config.validation_fraction > 0:
        x, x_val, y, y_val, w, w_val = _split_validation(x, y, w, config.validation_fraction, config.seed)
    dtype = jnp.dtype(config.dtype)
    if resume is None:
        if params is None:
            params = init_mlp(jax.random.key(config.seed), [x.shape[1], *config.hidden, n_out], config.init, dtype)
        resume = start(config, params)
    p = resume
    n = x.shape[0]
    orders = orders or (lambda k: epoch_order(config.seed, k, n, config.shuffle))
    score = score or (lambda params, xv, yv: accuracy(params, xv, yv, config.activation, w_val))
    place, batch_sharding = _placement(devices, min(config.batch_size or n, n))
    # the data go to the device(s) once; every epoch reads them from there
    x_dev, t_dev = place(np.asarray(x, dtype)), place(targets(y, n_out, dtype))
    s_dev = None if sample_weight is None else place(np.asarray(w, dtype))
    p.state = place(p.state)
    orders = (lambda draw: lambda k: place(draw(k)))(orders)
    first = p.epoch
    order = orders(first)
    epoch, compile_seconds = compiled_epoch(config, n, (p.state, x_dev, t_dev, s_dev, order), batch_sharding)

    history, diverged = p.history, False
    sgd_schedule = config.lr_schedule if config.optimizer == "sgd" else "constant"
    fit_start = time.perf_counter()
    for k in range(first, config.epochs):
        t_epoch = time.perf_counter()
        if k > first:  # the first epoch's order was drawn for the compilation
            order = orders(k)
        state, metrics = epoch(p.state, x_dev, t_dev, s_dev, order)
        # the one read-back of the epoch: its loss, (weight of the) rows right and in all, and
        # whether the parameters are finite
        loss, correct, total, finite = jax.device_get(tuple(map(_local, (
            metrics.loss, metrics.correct, metrics.m, _all_finite(state.params)))))
        loss = float(loss)
        history.loss.append(loss)
        history.train_accuracy.append(float(correct) / float(total))
        if not (math.isfinite(loss) and finite):  # p keeps the last finite state
            if jax.config.jax_debug_nans:
                # replay the epoch op by op from the last finite state: JAX's NaN checking
                # raises FloatingPointError naming the first operation that made a NaN
                with jax.disable_jit():
                    epoch_function(config, n, batch_sharding)(p.state, x_dev, t_dev, s_dev, order)
            history.seconds.append(time.perf_counter() - t_epoch)
            what = f"the loss became {loss}" if not math.isfinite(loss) else "the parameters became infinite or NaN"
            history.stopped = f"{what} in epoch {k + 1}"
            diverged = True
            break
        p.epoch, p.state, p.samples_seen = k + 1, state, p.samples_seen + n
        if x_val is not None:
            value = score(jax.tree.map(_local, state.params), x_val, y_val)
            history.validation_accuracy.append(value)
            p.no_improvement = p.no_improvement + 1 if value < p.best_score + config.tol else 0
            if value > p.best_score:
                p.best_score, p.best_params = value, state.params
        else:
            p.no_improvement = p.no_improvement + 1 if loss > p.best_loss - config.tol else 0
            p.best_loss = min(p.best_loss, loss)
        if sgd_schedule == "invscaling":
            p.state = set_learning_rate(p.state, config.lr / (p.samples_seen + 1) ** config.power_t)
        stop = p.no_improvement > config.n_iter_no_change
        if stop and sgd_schedule == "adaptive" and learning_rate(p.state) > 1e-6:
            p.state = set_learning_rate(p.state, learning_rate(p.state) / 5)
            p.no_improvement, stop = 0, False
            history.lr_changes.append((k + 1, learning_rate(p.state)))
        if stop:
            what = "validation score" if x_val is not None else "training loss"
            history.stopped = (f"{what} did not improve by more than tol={config.tol} for "
                               f"{config.n_iter_no_change} consecutive epochs")
        history.seconds.append(time.perf_counter() - t_epoch)
        if callback is not None:
            callback(p)
        if stop:
            break
    fit_seconds = time.perf_counter() - fit_start
    params = p.best_params if p.best_params is not None else p.state.params
    if devices > 1:  # hand back ordinary host-readable arrays
        params, p.state = jax.tree.map(_local, params), jax.tree.map(_local, p.state)
        p.best_params = p.best_params and jax.tree.map(_local, p.best_params)
    return FitResult(params, history, compile_seconds, fit_seconds, p, diverged)


def _placement(devices: int, batch_rows: int):
    """(place(tree), batch sharding) for data parallelism over `devices` devices (1: none)."""
    if not isinstance(devices, int) or devices < 1:
        raise JaxannError(f"devices {devices!r} must be a positive integer")
    if devices == 1:  # onto the default device, once (a NumPy array would be copied every call)
        return jax.device_put, None
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    available = jax.devices()
    if devices > len(available):
        raise JaxannError(f"{devices} devices asked for, {len(available)} available ({available[0].platform}); "
                          "on a CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N")
    if batch_rows % devices:
        raise JaxannError(f"batch size {batch_rows} is not a multiple of {devices} devices; "
                          "each device takes an equal share of every batch")
    mesh = Mesh(np.array(available[:devices]), ("data",))
    replicated = NamedSharding(mesh, PartitionSpec())

    def place(tree):  # works across processes too: each fills its own devices' copies
        return jax.tree.map(lambda a: jax.make_array_from_callback(
            np.shape(a), replicated, lambda index, a=np.asarray(a): a[index]), tree)

    return place, NamedSharding(mesh, PartitionSpec("data"))


def _local(a):
    """A replicated array as a single-device one (its local copy; all copies are equal)."""
    return jnp.asarray(a.addressable_data(0)) if isinstance(a, jax.Array) else a

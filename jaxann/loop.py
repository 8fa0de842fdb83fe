"""The training loop: `fit` runs compiled epochs and takes the decisions between them.

    result = fit(config, x, y)                        a fresh run
    result = fit(config, x, y, resume=result.progress) continue it (config.epochs in all)

Each epoch is one call of the compiled program (`jaxann.program`) and one read-back of
its metrics; between epochs the loop draws the next row order (`order`), scores the
validation set, and consults the stopping rule and learning-rate schedule
(`jaxann.rules`). Everything a run carries from one epoch to the next is a `Progress`,
which `fit` never mutates: it returns a new one (in `FitResult.progress`), and hands each
epoch's to `callback`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.config import TrainConfig
from jaxann.errors import JaxannError
from jaxann.inputs import check_data, check_sample_weight, split_validation, stratify_labels
from jaxann.losses import target_rows
from jaxann.network import layer_sizes
from jaxann.compiling import counting
from jaxann.placement import Placement
from jaxann.predict import accuracy
from jaxann.program import Metrics, TrainState, compiled_epoch, epoch_function, initial_state
from jaxann.rules import Schedule, Stopping, divergence


@dataclass
class History:
    """Per epoch: the loss (scikit-learn's epoch loss); the running training accuracy, when
    the targets are class labels (rows classified right by the parameters current when
    their batch was seen, read off the forward pass the gradient already made); the
    validation score (accuracy, or the estimator's own score such as R^2) when there is a
    validation set; and the seconds the epoch took."""

    loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    validation_score: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    lr_changes: list = field(default_factory=list)  # (epoch, new learning rate) by "adaptive"
    # with TrainConfig(alignment=True): per epoch, each layer's angle (degrees) between the
    # update and the true gradient, averaged over the epoch's batches
    alignment: list = field(default_factory=list)
    stopped: str = ""  # why training ended before `epochs`, if it did

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "History":
        """The history `to_dict` wrote; also reads the key 'validation_accuracy', which older
        run folders and checkpoints use for the validation scores."""
        values = dict(values)
        if "validation_accuracy" in values:
            values["validation_score"] = values.pop("validation_accuracy")
        return cls(**values)

    def copy(self) -> "History":
        return History.from_dict(self.to_dict())


@dataclass(frozen=True)
class Progress:
    """Everything a run carries from one epoch to the next: enough to resume it exactly.

    The row orders need no state of their own: epoch k's order is recomputed from
    (seed, k) by `epoch_order` (or drawn by the caller's `order`).
    """

    epoch: int  # epochs completed
    state: TrainState  # parameters, optimizer state (with the current learning rate), alpha
    history: History
    samples_seen: int = 0  # over this and earlier runs (invscaling's clock)
    stopping: Stopping = Stopping()


@dataclass
class FitResult:
    params: tuple  # the best epoch's with a validation set, else the last
    history: History
    compile_seconds: float
    fit_seconds: float
    progress: Progress  # the final state: pass it back to `fit(resume=...)` to continue
    diverged: bool = False  # stopped by a non-finite loss or parameters (history.stopped says when)
    compiled: list = field(default_factory=list)  # the programs this fit compiled (their seconds: compile_seconds)
    loaded: list = field(default_factory=list)  # the programs it loaded from the program store instead
    lbfgs: object = None  # optimizer "lbfgs": SciPy's outcome (`jaxann.lbfgs.Outcome`)


@dataclass(frozen=True)
class Validation:
    """A validation set and its score, higher is better (default: accuracy)."""

    x: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None = None
    score: Callable | None = None  # score(params, x, y, sample_weight) -> float
    x_divisor: float | None = None  # x holds raw rows, features x / x_divisor (as fit's)

    def score_of(self, params, activation: str) -> float:
        if self.score is None:
            return accuracy(params, self.x, self.y, activation, self.sample_weight, self.x_divisor)
        return self.score(params, self.x, self.y, self.sample_weight)


def epoch_order(seed: int, epoch: int, n: int, shuffle: bool = True) -> np.ndarray:
    """The row order (n,) of epoch number `epoch` (0-based) of a run with this seed.

    A permutation drawn from NumPy's generator seeded with (seed, epoch), so any epoch's
    order can be recomputed on its own (a resumed run sees the same orders). It is drawn
    on the host, about a millisecond for 60,000 rows, while the device may still be
    running the previous epoch (a device permutation is a sort, many times slower on a CPU).
    """
    if not shuffle:
        return np.arange(n, dtype=np.int32)
    return np.random.default_rng((seed, epoch)).permutation(n).astype(np.int32)


def start(config: TrainConfig, params=None, samples_seen: int = 0, sizes=None) -> Progress:
    """A run's state before its first epoch: params (cast to config.dtype), or fresh ones
    for layer sizes `sizes` drawn from config.seed; a fresh optimizer state; no history.
    samples_seen carries invscaling's clock over from earlier runs."""
    if params is not None:
        sizes = layer_sizes(params)
    return Progress(0, initial_state(config, sizes, params), History(), samples_seen)


def iteration_line(epoch: int, loss: float) -> str:
    """scikit-learn's verbose line for an epoch: 'Iteration 3, loss = 0.12345678'."""
    return f"Iteration {epoch}, loss = {loss:.8f}"


def fit(config: TrainConfig, x, y, *, n_out: int | None = None, sample_weight=None,
        validation: Validation | tuple | None = None, params=None, resume: Progress | None = None,
        order: Callable[[int], np.ndarray] | None = None, callback: Callable[[Progress], None] | None = None,
        devices: int = 1, x_divisor: float | None = None) -> FitResult:
    """Train a network on rows x (n, n_0) with labels (n,) or targets (n, n_out).

    sample_weight (n,): each row's weight in the cost, scikit-learn's way: a batch's cost
        is a weighted mean of the e_i, its L2 term alpha / (2 M) sum_l ||W^l||^2 over the
        batch's weight sum M (`jaxann.losses.batch_cost`). The epoch loss
        stays sum(C_batch rows_batch) / n; the training accuracy is weighted.
    validation: a `Validation` (or (x_val, y_val)); without one, config.validation_fraction
        > 0 holds out that share of x (stratified) for one, scored by accuracy.
    params: start from these instead of a fresh `init_mlp` (PRNG key from config.seed).
    resume: continue from a `Progress` (a checkpoint's, or `FitResult.progress`): its epoch
        count, optimizer state, history and stopping-rule memory; training runs on to
        config.epochs in all.
    order(k): the row order (n,) of epoch k (default: `epoch_order(config.seed, k, n)`).
    callback(progress) runs after each epoch whose loss is finite (progress.epoch counts
        from 1); a checkpoint written there resumes the run exactly.
    devices: data parallelism over the first `devices` of `jax.devices()` (see
        `jaxann.placement`); the batch size must be a multiple of it.
    x_divisor: x holds raw rows (e.g. uint8 pixels, as `jaxann.data.Dataset.raw_train`)
        whose features are x / x_divisor, divided inside the compiled step: the results
        equal those of fit(x / x_divisor) exactly, with a quarter of the bytes moved.
    """
    config.validate()
    with counting() as compilations:
        return _fit(config, x, y, n_out, sample_weight, validation, params, resume, order, callback, devices,
                    x_divisor, compilations)


def _fit(config, x, y, n_out, sample_weight, validation, params, resume, order, callback, devices, x_divisor,
         compilations):
    x, y, n_out, sample_weight, validation = _checked(config, x, y, n_out, sample_weight, validation, x_divisor)
    n, dtype = x.shape[0], jnp.dtype(config.dtype)
    if resume is None:
        resume = start(config, params, sizes=config.sizes(x.shape[1], n_out))
    if config.optimizer == "lbfgs":
        if validation is not None or devices not in (None, 1):
            raise JaxannError("L-BFGS trains on all the data on one device: no validation set, no devices")
        return _fit_lbfgs(config, x, y, n_out, sample_weight, resume, callback, x_divisor, compilations)
    order = order or (lambda k: epoch_order(config.seed, k, n, config.shuffle))
    placement = Placement.over(devices, config.batch_rows(n))
    put = placement.put
    # the data go to the device(s) once; every epoch reads them from there
    t = target_rows(y, n_out, dtype)
    data = (put(np.asarray(x, dtype) if x_divisor is None else x), put(t),
            None if sample_weight is None else put(np.asarray(sample_weight, dtype)),
            None if x_divisor is None else put(np.asarray(x_divisor, dtype)))
    first = resume.epoch
    p = replace(resume, state=put(resume.state), history=resume.history.copy())
    first_order = placement.feed(order(first))
    epoch, _ = compiled_epoch(config, n, (p.state, *data, first_order), placement.batch_sharding)
    schedule = Schedule.of(config)
    diverged, fit_start = "", time.perf_counter()
    for k in range(first, config.epochs):
        t_epoch = time.perf_counter()
        rows = first_order if k == first else placement.feed(order(k))
        state, metrics = epoch(p.state, *data, rows)
        # the epoch's one read-back: its loss, (the weight of) the rows right and in all, and
        # whether the parameters are finite
        loss, correct, total, finite, angles = Metrics.unpack(jax.device_get(placement.local(metrics)))
        loss = float(loss)
        p.history.loss.append(loss)
        if y.ndim == 1:  # class labels: the argmax of a^L is the prediction
            p.history.train_accuracy.append(float(correct) / float(total))
        if config.alignment:
            p.history.alignment.append([float(a) for a in angles])
        diverged = divergence(loss, finite, k + 1)
        if diverged:  # p keeps the last finite state
            _replay_for_nans(config, n, placement, p.state, data, rows)
            p.history.seconds.append(time.perf_counter() - t_epoch)
            p.history.stopped = diverged
            break
        p, stop = _after_epoch(config, p, state, loss, validation, schedule, placement, n)
        p.history.seconds.append(time.perf_counter() - t_epoch)
        if callback is not None:
            callback(p)
        if stop:
            break
    fit_seconds = time.perf_counter() - fit_start
    best = p.stopping.best_params
    # hand back ordinary single-device arrays (a no-op on one device)
    params = placement.local(best if best is not None else p.state.params)
    p = replace(p, state=placement.local(p.state), stopping=replace(p.stopping, best_params=placement.local(best)))
    return FitResult(params, p.history, compilations.seconds, fit_seconds, p, bool(diverged), compilations.names,
                     compilations.loaded)


def _fit_lbfgs(config, x, y, n_out, sample_weight, resume, callback, x_divisor, compilations):
    """fit for optimizer "lbfgs": `jaxann.lbfgs.minimize` from resume's parameters, each
    iteration one epoch of the history (and of Progress.epoch)."""
    from jaxann import lbfgs  # SciPy loads for L-BFGS runs only

    p = replace(resume, history=resume.history.copy())
    first = p.epoch

    def after_iteration(iteration, loss, seconds, params):
        nonlocal p
        p.history.loss.append(loss)
        p.history.seconds.append(seconds)
        p = replace(p, epoch=first + iteration, state=p.state._replace(params=params))
        if callback is not None:
            callback(p)

    outcome = lbfgs.minimize(replace(config, epochs=config.epochs - first), x, target_rows(y, n_out, config.dtype),
                             sample_weight, p.state.params, max_fun=config.max_fun, x_divisor=x_divisor,
                             callback=after_iteration)
    p = replace(p, state=p.state._replace(params=outcome.params))
    finite = all(np.isfinite(a).all() for a in jax.tree.leaves(outcome.params))
    diverged = divergence(outcome.loss, finite, p.epoch)
    # status 1 (a limit reached) ends the run as reaching its epochs ends an SGD run
    p.history.stopped = diverged or (f"L-BFGS converged: {outcome.message}" if outcome.status == 0 else "")
    return FitResult(outcome.params, p.history, compilations.seconds, outcome.fit_seconds, p, bool(diverged),
                     compilations.names, compilations.loaded, outcome)


def _checked(config, x, y, n_out, sample_weight, validation, x_divisor):
    """fit's inputs checked, and the validation set held out when config asks for one."""
    x, y, n_out = check_data(x, y, n_out)
    sample_weight = check_sample_weight(sample_weight, x.shape[0])
    if isinstance(validation, tuple):
        validation = Validation(*validation)
    if validation is None and config.validation_fraction > 0:
        x, x_val, y, y_val, sample_weight, weight_val = split_validation(
            x, y, sample_weight, config.validation_fraction, config.seed, stratify_labels(y))
        validation = Validation(x_val, y_val, weight_val, x_divisor=x_divisor)
    return x, y, n_out, sample_weight, validation


def _after_epoch(config, p: Progress, state, loss, validation, schedule, placement, n):
    """The decisions after a finite epoch: validation score, stopping rule, learning rate.
    Returns (the Progress after the epoch, whether to stop)."""
    stopping = p.stopping
    if validation is not None:
        score = validation.score_of(placement.local(state.params), config.activation)
        p.history.validation_score.append(score)
        stopping = stopping.after_epoch(loss, config.tol, score, state.params)
    else:
        stopping = stopping.after_epoch(loss, config.tol)
    samples_seen = p.samples_seen + n
    state, stop, stopping, new_lr = schedule.after_epoch(state, samples_seen, stopping, config.n_iter_no_change)
    if new_lr is not None:
        p.history.lr_changes.append((p.epoch + 1, new_lr))
    if stop:
        what = "validation score" if validation is not None else "training loss"
        p.history.stopped = (f"{what} did not improve by more than tol={config.tol} for "
                             f"{config.n_iter_no_change} consecutive epochs")
    return replace(p, epoch=p.epoch + 1, state=state, samples_seen=samples_seen, stopping=stopping), stop


def _replay_for_nans(config, n, placement, state, data, rows):
    """Under `jax_debug_nans`, replay the epoch op by op from the last finite state: JAX's
    NaN checking raises FloatingPointError naming the first operation that made a NaN."""
    if jax.config.jax_debug_nans:
        with jax.disable_jit():
            epoch_function(config, n, placement.batch_sharding)(state, *data, rows)

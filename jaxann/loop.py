"""The training loop: compiled epochs of K models, and the decisions between them.

    result = fit(config, x, y)                        a fresh run
    result = fit(config, x, y, resume=result.progress) continue it (config.epochs in all)

`run_epochs` is the one epoch loop: each round is one call of the compiled epoch
(`jaxann.program`) for every model still training and one read-back of their metrics;
between rounds it scores the validation sets and, model by model (`Member.after_epoch`),
records the history and consults the stopping rule and the learning-rate schedule
(`jaxann.rules`). A single fit is K = 1 with an unstacked state (`fit`); a sweep
(`jaxann.sweep`) is K stacked models, vmapped, each frozen once it stops while the others
go on, and compacted into a smaller program once most have stopped. Everything a run
carries from one epoch to the next is a `Progress`, which `fit` never mutates: it returns
a new one (in `FitResult.progress`), and hands each epoch's, with a history of its own,
to `callback`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.config import TrainConfig
from jaxann.errors import JaxannError
from jaxann.inputs import check_data, check_order, check_sample_weight, class_weighted, split_validation, \
    stratify_labels
from jaxann.losses import as_targets
from jaxann.network import layer_sizes
from jaxann.compiling import counting, precision
from jaxann.placement import Placement
from jaxann.program import Metrics, TrainState, compiled_epoch, epoch_function, initial_state, learning_rate
from jaxann.rules import Schedule, Stopping, divergence
from jaxann.scoring import Scorer
from jaxann.stack import Stack, compacted, merged, restacked, taken, worth_compacting


@dataclass
class History:
    """Per epoch: the loss (scikit-learn's epoch loss); the running training accuracy, when
    the targets are class labels (rows classified right by the parameters current when
    their batch was seen, read off the forward pass the gradient already made); the
    validation score (accuracy, or the estimator's own score such as R^2) when there is a
    validation set, and the validation loss beside it (sum_i w_i l_i / sum_i w_i over the
    validation rows, l_i row i's cost by the training loss's formula, as scikit-learn
    reports it, without the L2 term, which is the weights' and no data's: the gap to `loss`
    is the penalty plus the generalisation gap); and the seconds the epoch took."""

    loss: list = field(default_factory=list)
    train_accuracy: list = field(default_factory=list)
    validation_score: list = field(default_factory=list)
    validation_loss: list = field(default_factory=list)
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
        """A history of its own: each per-epoch list copied (its entries are never changed
        in place), in time linear in the epochs -- a run copies its history every epoch."""
        return replace(self, **{f.name: list(getattr(self, f.name)) for f in fields(self) if f.name != "stopped"})


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
    """A validation set, its score (higher is better) and its loss (`History`)."""

    x: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None = None
    # score(params, x, y, sample_weight) -> (score, loss), or the score alone (the loss then NaN)
    score: Callable | None = None
    x_divisor: float | None = None  # x holds raw rows, features x / x_divisor (as fit's)

    def scorer(self, config: TrainConfig) -> Callable:
        """params -> (their score, their loss): `score`, else accuracy for labels and R^2
        for targets and config.loss's validation loss (`jaxann.scoring`, the set placed on
        the device once, both from one call)."""
        if self.score is not None:
            def own(params):
                values = self.score(params, self.x, self.y, self.sample_weight)
                return tuple(values) if isinstance(values, tuple) else (values, float("nan"))

            return own
        scorer = Scorer(self.x, self.y, config.activation, loss=config.loss, sample_weight=self.sample_weight,
                        x_divisor=self.x_divisor, dtype=config.dtype)

        def measure(params):
            scores, losses = scorer.measures(params)
            return float(scores[0]), float(losses[0])

        return measure


def epoch_order(seed: int, epoch: int, n: int, shuffle: bool = True) -> np.ndarray:
    """The row order (n,) of epoch number `epoch` (0-based) of a run with this seed.

    A permutation drawn from NumPy's generator seeded with (seed, epoch), so any epoch's
    order can be recomputed on its own (a resumed run sees the same orders). It is drawn
    on the host while the device may still be running the previous epoch (a device
    permutation is a sort, slower than a shuffle on a CPU).
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


@dataclass
class Member:
    """One model's record as the loop runs it: what its `Progress` holds besides the
    arrays (the loop keeps those, stacked for K models), and whether it is done."""

    config: TrainConfig
    epoch: int
    history: History
    samples_seen: int
    stopping: Stopping  # its best_params live with the loop's arrays
    lr: float  # the learning rate of its next epoch
    done: bool = False  # stopped by its rule, diverged, or ran config.epochs
    diverged: bool = False

    @classmethod
    def of(cls, config: TrainConfig, progress: Progress) -> "Member":
        """The record of a run about to continue from progress (its history copied)."""
        lr = float(np.asarray(learning_rate(progress.state)).reshape(-1)[0]) if config.optimizer != "lbfgs" \
            else config.lr
        return cls(config, progress.epoch, progress.history.copy(), progress.samples_seen,
                   replace(progress.stopping, best_params=None), lr, done=progress.epoch >= config.epochs)

    def progress(self, state, best_params) -> Progress:
        """This model's Progress (a history of its own: later epochs do not change it)."""
        return Progress(self.epoch, state, self.history.copy(), self.samples_seen,
                        replace(self.stopping, best_params=best_params))

    def after_epoch(self, metrics: Metrics, score: float | None, n: int, labels: bool, seconds: float,
                    validation_loss: float | None = None) -> bool:
        """Record an epoch of n rows (its Metrics, and the validation score and loss when
        there is a validation set) and take the decisions after it: divergence, the stopping rule, the
        next learning rate. Returns whether the score is a new best (its parameters to keep)."""
        config, history = self.config, self.history
        k = self.epoch + 1
        loss = float(metrics.loss)
        history.loss.append(loss)
        if labels:  # class labels: the argmax of a^L is the prediction
            history.train_accuracy.append(float(metrics.correct) / float(metrics.m))
        if config.alignment:
            history.alignment.append([float(a) for a in metrics.angles])
        history.seconds.append(seconds)
        diverged = divergence(loss, bool(metrics.finite), k)
        if diverged:  # the model keeps its last finite state
            history.stopped, self.done, self.diverged = diverged, True, True
            return False
        improved = False
        if score is None:
            self.stopping = self.stopping.after_epoch(loss, config.tol)
        else:
            history.validation_score.append(score)
            history.validation_loss.append(validation_loss)
            improved = score > self.stopping.best_score
            self.stopping = self.stopping.after_epoch(loss, config.tol, score)
        self.samples_seen += n
        tripped = self.stopping.trips(config.n_iter_no_change)
        self.lr, answered = Schedule.of(config).after_epoch(self.lr, self.samples_seen, tripped)
        if answered:  # 'adaptive' lowered the rate: the rule counts afresh
            history.lr_changes.append((k, self.lr))
            self.stopping, tripped = replace(self.stopping, no_improvement=0), False
        self.epoch = k
        if tripped:
            what = "validation score" if score is not None else "training loss"
            history.stopped = (f"{what} did not improve by more than tol={config.tol} for "
                               f"{config.n_iter_no_change} consecutive epochs")
        self.done = tripped or k >= config.epochs
        return improved


@dataclass(frozen=True)
class Round:
    """What every round of `run_epochs` reads: the data on the device(s), n row slots per
    epoch (each model's rows, or fewer padded with -1: `sizes`), whether the targets are
    class labels, and the functions that give each round's row orders and validation
    scores."""

    data: tuple  # (x, t, sample_weight or None, x_divisor or None), placed
    n: int
    labels: bool
    # orders(members, ahead) -> the rows of each member's epoch + ahead, on the host: (n,) for
    # one model, (K, n) stacked (any for a member that is done)
    orders: Callable
    # score(params, models) -> (validation scores, losses) of the program's models: params
    # stacked for `models`, the members they are (indices into run_epochs' members); None:
    # no validation set
    score: Callable | None = None
    # whether the next round's orders may be drawn while the device runs this one (they
    # must not consume a random stream: the next round may never come)
    ahead: bool = False
    sizes: tuple | None = None  # each model's real rows per epoch (<= n); None: n each


def run_epochs(config: TrainConfig, members: list, state, best, stack: Stack, rounds: Round, callback=None,
               models: list | None = None):
    """Train the models until each is done: the one epoch loop of `fit` and of sweeps.

    config gives the program (every member shares its program fields); members are
    updated in place; state and best (the best validation parameters, or None) are K
    models' arrays as `stack` holds them. callback(state, best, models) runs after each
    round in which some model trained. Returns (state, best).

    Stacked, the program's models are at first the K members (or `models`, the member
    indices a checkpoint's program held, when it holds every member still training); once
    most have stopped it is compacted (`jaxann.stack`) to those still training: a program of
    fewer models, the stopped ones' arrays kept on the host. From then on the callback's
    and the returned state and best are every member's, on the host, and the callback's
    `models` names the program's (a checkpoint keeps them: a resumed run goes on in the
    same program). Compactions depend only on which members have stopped, so every run
    of the same inputs, resumed or not, compacts at the same rounds.
    """
    if all(m.done for m in members):
        return state, best
    everyone = None  # once compacted: every member's (state, best) on the host
    going = {i for i, m in enumerate(members) if not m.done}
    if not (stack.stacked and models is not None and going <= set(models) and max(models) < len(members)
            and len(models) < len(members) and len(models) % stack.placement.devices == 0):
        models = list(range(len(members)))  # the member each of the program's models is
    else:
        everyone, stack = merged(None, state, best, None, stack), restacked(stack, len(models))
        state, best = taken(everyone, models, stack)
    epoch, ahead = None, None
    while not all(m.done for m in members):
        t_round = time.perf_counter()
        rows = ahead if ahead is not None else rounds.orders(members, 0)
        args = (state, *rounds.data, stack.placement.feed(rows[models] if stack.stacked else rows))
        if stack.stacked:
            args += (stack.placement.feed(np.array([not members[i].done for i in models])),)
        if epoch is None:
            epoch, _ = compiled_epoch(config, rounds.n, args, stack.placement.batch_sharding, models=stack.stacked)
        training = [not members[i].done for i in models]
        try:
            new, packed = epoch(*args)
        except Exception:
            # under jax_debug_nans the compiled epoch itself stops at a NaN: replay it op by op
            # to name the operation (FloatingPointError), else let the error out as it came
            if not stack.stacked:
                _replay_for_nans(config, rounds.n, stack.placement, state, rounds.data, args[-1])
            raise
        # while the device runs the round: the next one's orders, for the models that go on
        ahead = rounds.orders(members, 1) if rounds.ahead else None
        # the round's one read-back: each model's loss, (the weight of) the rows right and in
        # all, whether its parameters are finite, and with alignment its angles
        metrics = stack.metrics(packed)
        # the validation scores, unless no model's epoch stayed finite (a diverged single model's
        # parameters are not worth scoring; a stacked one's are its last finite ones)
        finite = [t and not divergence(float(loss), bool(ok), 0)
                  for t, loss, ok in zip(training, metrics.loss, metrics.finite)]
        scores, losses = rounds.score(new.params, models) if rounds.score is not None and any(finite) \
            else (None, None)
        seconds = time.perf_counter() - t_round
        improved, keep, lrs, rates = [], [], [], []
        for j, i in enumerate(models):
            m, good = members[i], False
            rates.append(m.lr)
            if training[j]:
                score, loss = (None, None) if scores is None else (float(scores[j]), float(losses[j]))
                n = rounds.n if rounds.sizes is None else rounds.sizes[i]
                good = m.after_epoch(Metrics(*(field[j] for field in metrics)), score, n, rounds.labels, seconds, loss)
            improved.append(good)
            keep.append(training[j] and not m.diverged)
            lrs.append(m.lr)
        if not stack.stacked and members[0].diverged:
            _replay_for_nans(config, rounds.n, stack.placement, state, rounds.data, args[-1])
        state = stack.accept(new, state, keep)
        if rounds.score is not None and any(improved):
            best = stack.keep_best(best, state.params, improved)
        if lrs != rates:
            state = stack.with_rates(state, lrs)
        if callback is not None and any(keep):
            whole = (state, best) if everyone is None else merged(everyone, state, best, models, stack)
            callback(*whole, list(models))
        if stack.stacked and worth_compacting(members, models, stack.placement.devices):
            everyone = merged(everyone, state, best, models, stack)
            models = compacted(members, stack.placement.devices)
            stack = restacked(stack, len(models))
            state, best = taken(everyone, models, stack)
            epoch = None  # the smaller program's
    if everyone is not None:
        return merged(everyone, state, best, models, stack)
    return state, best


@dataclass(frozen=True)
class _Inputs:
    """fit's inputs once checked: the training rows and their targets, and how to train."""

    x: np.ndarray
    y: np.ndarray
    n_out: int
    sample_weight: np.ndarray | None
    validation: Validation | None
    x_divisor: float | None
    order: Callable[[int], np.ndarray]
    devices: int


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
        > 0 holds out that share of x (stratified, drawn from config.seed) for one, scored
        by accuracy for labels and R^2 for targets.
    params: start from these instead of fresh ones (`draw_mlp` from config.seed).
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
    config.dtype "float64" trains in float64 inside `jax.enable_x64` (this fit's programs
    only: JAX's global setting is left alone); the returned arrays stay float64.
    """
    config.validate()
    with counting() as compilations, precision(config.dtype):
        x, y, n_out, sample_weight, validation = _checked(config, x, y, n_out, sample_weight, validation, x_divisor)
        n = x.shape[0]
        orders = (lambda k: epoch_order(config.seed, k, n, config.shuffle)) if order is None else \
            (lambda k: check_order(order(k), k, n))
        inputs = _Inputs(x, y, n_out, sample_weight, validation, x_divisor, orders, devices)
        if resume is None:
            resume = start(config, params, sizes=config.sizes(x.shape[1], n_out))
        if config.optimizer == "lbfgs":
            if validation is not None or devices not in (None, 1):
                raise JaxannError("L-BFGS trains on all the data on one device: no validation set, no devices")
            result = _fit_lbfgs(config, inputs, resume, callback)
        else:
            result = _fit(config, inputs, resume, callback)
    return replace(result, compile_seconds=compilations.seconds, compiled=compilations.names,
                   loaded=compilations.loaded)


def _fit(config: TrainConfig, inputs: _Inputs, resume: Progress, callback) -> FitResult:
    """fit for sgd and adam: `run_epochs` with one model."""
    n, dtype = inputs.x.shape[0], jnp.dtype(config.dtype)
    placement = Placement.over(inputs.devices, config.batch_rows(n))
    put = placement.put
    # the data go to the device(s) once; every epoch reads them from there
    t = as_targets(inputs.y, inputs.n_out, len(inputs.y), dtype)
    data = (put(np.asarray(inputs.x, dtype) if inputs.x_divisor is None else inputs.x), put(t),
            None if inputs.sample_weight is None else put(np.asarray(inputs.sample_weight, dtype)),
            None if inputs.x_divisor is None else put(np.asarray(inputs.x_divisor, dtype)))
    member = Member.of(config, resume)
    validation = inputs.validation
    score = None
    if validation is not None:
        score_of = validation.scorer(config)
        score = lambda params, models: tuple([v] for v in score_of(placement.local(params)))  # noqa: E731
    rounds = Round(data, n, inputs.y.ndim == 1,
                   lambda members, ahead: inputs.order(members[0].epoch + ahead), score)

    def after_round(state, best, models):
        callback(member.progress(state, best))

    fit_start = time.perf_counter()
    state, best = run_epochs(config, [member], put(resume.state), resume.stopping.best_params,
                             Stack(False, placement), rounds, after_round if callback else None)
    fit_seconds = time.perf_counter() - fit_start
    # hand back ordinary single-device arrays (a no-op on one device)
    state, best = placement.local(state), placement.local(best)
    p = member.progress(state, best)
    p = replace(p, history=member.history)
    return FitResult(best if best is not None else state.params, member.history, 0.0, fit_seconds, p,
                     member.diverged)


def _fit_lbfgs(config: TrainConfig, inputs: _Inputs, resume: Progress, callback) -> FitResult:
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
            callback(replace(p, history=p.history.copy()))

    outcome = lbfgs.minimize(replace(config, epochs=config.epochs - first), inputs.x,
                             as_targets(inputs.y, inputs.n_out, len(inputs.y), config.dtype), inputs.sample_weight,
                             p.state.params, max_fun=config.max_fun, x_divisor=inputs.x_divisor,
                             callback=after_iteration)
    p = replace(p, state=p.state._replace(params=outcome.params))
    finite = all(np.isfinite(a).all() for a in jax.tree.leaves(outcome.params))
    diverged = divergence(outcome.loss, finite, p.epoch)
    # status 1 (a limit reached) ends the run as reaching its epochs ends an SGD run
    p.history.stopped = diverged or (f"L-BFGS converged: {outcome.message}" if outcome.status == 0 else "")
    return FitResult(outcome.params, p.history, 0.0, outcome.fit_seconds, p, bool(diverged), lbfgs=outcome)


def _checked(config, x, y, n_out, sample_weight, validation, x_divisor):
    """fit's inputs checked, and the validation set held out when config asks for one."""
    x, y, n_out = check_data(x, y, n_out)
    # class weights multiply the rows' weights before any validation share is held out
    sample_weight = class_weighted(check_sample_weight(sample_weight, x.shape[0]), config.class_weight, y)
    if isinstance(validation, tuple):
        validation = Validation(*validation)
    if validation is None and config.validation_fraction > 0:
        x, x_val, y, y_val, sample_weight, weight_val = split_validation(
            x, y, sample_weight, config.validation_fraction, config.seed, stratify_labels(y))
        validation = Validation(x_val, y_val, weight_val, x_divisor=x_divisor)
    return x, y, n_out, sample_weight, validation


def _replay_for_nans(config, n, placement, state, data, rows):
    """Under `jax_debug_nans`, replay the epoch op by op from the last finite state: JAX's
    NaN checking raises FloatingPointError naming the first operation that made a NaN."""
    if jax.config.jax_debug_nans:
        with jax.disable_jit():
            epoch_function(config, n, placement.batch_sharding)(state, *data, rows)

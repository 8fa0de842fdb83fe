"""Experiments: many models, one compiled program per shape, each model doing all a fit does.

    members = grid(TrainConfig(epochs=20), seed=[1, 2, 3], lr=[0.1, 0.03], hidden=[(50,), (100,)])
    result = fit_many(members, x, y)              a SweepResult
    result.evaluate(x_test, y_test, "test")       each model's test score
    result.table(), result.to_csv(path)           one row per model

Any setting of `TrainConfig` can differ between the members (`grid`: every combination;
`settings`: an explicit list, e.g. read from a file by `read_settings`). Members whose
programs are the same (`TrainConfig.program_config()`: architecture, batch size,
optimizer kind, gradient source, dtype, whether units are dropped) and that hold out the
same share for validation train together: their states are stacked and the epoch is
vmapped over them, so one device call trains them all (the data shared; each model its
own row orders, rows held out for validation, learning rate, momentum, betas, eps, alpha,
dropout rates and masks, feedback matrices). Each
program's models run `jaxann.loop.run_epochs`, the loop of `fit`: each model has its own
validation score, stopping rule and learning-rate schedule, and one that stops is frozen
while the others go on. Programs of different shapes run one after another.

Each model's history, stopping epoch, best validation score and parameters equal what
`fit` gives it alone (the same config, data and sample weights), to rounding: vmap
batches the matrix products, which may sum in another order.

devices=N splits each program's models over N devices (`jaxann.placement`): the data
replicated, no communication between models; after `jax.distributed.initialize()` the
devices of every host.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.compiling import counting, precision
from jaxann.config import TrainConfig, parse_class_weight, parse_dropout
from jaxann.config import differing as config_differing
from jaxann.errors import JaxannError
from jaxann.inputs import check_data, check_sample_weight, class_weighted, stratify_labels, validation_rows
from jaxann.loop import History, Member, Round, epoch_order, run_epochs
from jaxann.losses import as_targets
from jaxann.placement import Placement, gather
from jaxann.program import initial_states
from jaxann.rules import Stopping
from jaxann.scoring import Scorer
from jaxann.stack import Stack

FIELDS = {f.name for f in fields(TrainConfig)}


def grid(config: TrainConfig, **axes) -> list:
    """The member configs of every combination of axes (a `TrainConfig` field -> a list of
    its values; hidden's values are tuples of layer sizes), the last axis varying fastest;
    every other setting config's. Each member is validated."""
    unknown = sorted(set(axes) - FIELDS)
    if unknown:
        raise JaxannError(f"unknown settings {', '.join(unknown)}; expected TrainConfig fields")
    names = list(axes)
    return [_member(config, dict(zip(names, values))) for values in itertools.product(*axes.values())]


def settings(config: TrainConfig, rows: list, **axes) -> list:
    """The member configs of an explicit list of settings: each row (a dict of
    `TrainConfig` fields) over config, times the grid of axes (see `grid`)."""
    members = []
    for i, row in enumerate(rows):
        unknown = sorted(set(row) - FIELDS)
        if unknown:
            raise JaxannError(f"settings row {i + 1}: unknown settings {', '.join(unknown)}; "
                              "expected TrainConfig fields")
        members += grid(_member(config, row), **axes)
    return members


def _member(config, values):
    values = dict(values)
    if "hidden" in values:
        values["hidden"] = tuple(values["hidden"])
    try:
        return replace(config, **values).validate()
    except TypeError as e:
        raise JaxannError(f"settings {values}: {e}") from None


def read_settings(path) -> list:
    """Rows of settings from a file: .csv (a header of `TrainConfig` field names, a row
    per model; hidden written 100-50 or 100,50 in quotes, dropout 0.2 or, one rate per
    hidden layer, 0.2,0.1 in quotes) or .json (a list of objects).
    Values are converted to each field's type; a bad file is a JaxannError."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise JaxannError(f"cannot read {path}: {e.strerror or e}") from None
    if path.suffix == ".json":
        try:
            rows = json.loads(text)
        except ValueError as e:
            raise JaxannError(f"{path}: not JSON ({e})") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise JaxannError(f"{path}: expected a list of objects, one per model")
        return [dict(r) for r in rows]
    if path.suffix != ".csv":
        raise JaxannError(f"{path}: expected a .csv or .json file of settings")
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise JaxannError(f"{path}: no rows of settings (a header of TrainConfig fields, then a row per model)")
    return [{k: _parse(path, i, k, v) for k, v in row.items()} for i, row in enumerate(rows, start=1)]


def _parse(path, i, name, text):
    if name not in FIELDS:
        raise JaxannError(f"{path}: unknown setting {name!r}; expected TrainConfig fields")
    default = next(f.default for f in fields(TrainConfig) if f.name == name)
    text = (text or "").strip()
    try:
        if name == "hidden":
            return tuple(int(v) for v in text.replace("-", ",").split(","))
        if name == "batch_size":
            return None if text == "full" else int(text)
        if name == "class_weight":
            return parse_class_weight(text)
        if name == "dropout":
            return parse_dropout(text)
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        return type(default)(float(text)) if isinstance(default, int) else type(default)(text)
    except ValueError:
        raise JaxannError(f"{path}: row {i}: {name} = {text!r} is not a valid value") from None


def differing(configs: list) -> list:
    """The names of the settings whose values differ between configs, in field order."""
    return config_differing([c.to_dict() for c in configs])


@dataclass
class Group:
    """The models of one program: their indices among the sweep's members, their records,
    their stacked arrays, and the rows each trains and validates on."""

    indices: list
    config: TrainConfig  # the program's (the first member's)
    members: list  # loop.Member records, in step with indices (then any padding)
    state: object  # stacked TrainState
    best: object  # stacked best validation parameters, or None
    train_rows: np.ndarray | None  # (K, n_train) row numbers, None: every row
    val_rows: np.ndarray | None  # (K, n_val), None: no validation set
    program: list | None = None  # the records its compacted program holds (`run_epochs`), None: all


@dataclass(frozen=True)
class SweepProgress:
    """What a sweep carries from one epoch to the next, enough to resume it exactly: per
    program, the models' records and stacked arrays (on the host), None for a program not
    started yet. `jaxann.checkpoint.save_sweep` writes it."""

    configs: list
    # per program: (member indices, records, stacked state, stacked best or None, the records
    # its compacted program holds or None for all), or None
    groups: list


@dataclass(frozen=True)
class SweepStep:
    """What a sweep's callback gets after each epoch of a program: the program's index, its
    models' records as they are now (`jaxann.loop.Member`: epoch, history, done), and
    snapshot(), the whole sweep's `SweepProgress` gathered to the host (for a checkpoint;
    only called when wanted, as it copies every model's arrays). A record marked done here
    (`record.done = True`, e.g. a trial pruned) trains no further."""

    program: int
    records: list
    snapshot: Callable[[], SweepProgress]
    indices: list = field(default_factory=list)  # each record's index among the sweep's members


@dataclass
class SweepResult:
    """K models' results, in the order of the members."""

    configs: list
    histories: list
    params: list  # each model's parameters (host arrays): its best validation epoch's, else its last
    scores: dict = field(default_factory=dict)  # name -> K scores ("train", "validation" the best, ...)
    fit_seconds: float = 0.0
    compile_seconds: float = 0.0
    compiled: list = field(default_factory=list)
    loaded: list = field(default_factory=list)
    progress: SweepProgress | None = None  # pass to fit_many(resume=...) to go on (more epochs)
    groups: list = field(default_factory=list, repr=False)

    def evaluate(self, x, y, name: str = "test", sample_weight=None, x_divisor=None) -> list:
        """Each model's score on x, y (accuracy for labels, R^2 for targets), one vmapped
        call per program; kept as scores[name] and returned."""
        out = [math.nan] * len(self.configs)
        for g in self.groups:
            scorer = _scorer(g, x, y, sample_weight, x_divisor)
            values = scorer(_final(g), models=True)
            for i, v in zip(g.indices, values):
                out[i] = float(v)
        self.scores[name] = out
        return out

    def table(self) -> list:
        """One dict per model: the settings that differ between the models, epochs run, why
        it stopped, its best validation score, each score kept, and its seconds."""
        names = differing(self.configs)
        rows = []
        for i, (config, history) in enumerate(zip(self.configs, self.histories)):
            settings = {n: config.to_dict()[n] for n in names}
            if "hidden" in settings:
                settings["hidden"] = "-".join(map(str, settings["hidden"]))
            best = max(history.validation_score) if history.validation_score else math.nan
            rows.append({"model": i, **settings, "epochs": len(history.loss),
                         "stopped": history.stopped or "ran its epochs",
                         "final_loss": history.loss[-1] if history.loss else math.nan,
                         "best_validation": best,
                         **{f"{k}_score": v[i] for k, v in self.scores.items() if k != "validation"},
                         "seconds": float(sum(history.seconds))})
        return rows

    def to_csv(self, path) -> Path:
        """The table as CSV, written atomically."""
        from jaxann.files import atomic_write

        rows = self.table()
        text = csv_text(rows)
        return atomic_write(path, lambda f: f.write(text.encode()))


def csv_text(rows) -> str:
    """Rows (dicts with the same keys) as CSV text, a header first."""
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def program_key(config: TrainConfig, n: int):
    """What decides a member's program: its program fields (batch size resolved for the rows
    it trains on) and the share of rows it holds out."""
    n_train = n - _held_out(n, config.validation_fraction)
    return replace(config.program_config(), batch_size=config.batch_rows(n_train)), config.validation_fraction


def _held_out(n, fraction):
    return math.ceil(fraction * n) if fraction > 0 else 0


def fit_many(members: list, x, y, *, n_out: int | None = None, sample_weight=None, x_divisor: float | None = None,
             devices: int = 1, resume: SweepProgress | None = None, callback=None) -> SweepResult:
    """Train the member configs (`grid`, `settings`) on rows x (n, n_0) and labels (n,) or
    targets (n, n_out), as one program per shape (see the module's notes).

    sample_weight (n,), x_divisor: as `fit`'s. devices: split each program's models over
    this many devices (padded with idle copies to a multiple of them). resume: a
    `SweepProgress` (a checkpoint's, or `SweepResult.progress`) of the same members
    (only epochs may differ): the sweep goes on from it. callback(step) runs after each
    epoch of a program, with a `SweepStep` (its snapshot(), written as a checkpoint, resumes
    the sweep exactly).
    """
    members = [m.validate() for m in members]
    if not members:
        raise JaxannError("a sweep needs at least one model")
    if any(m.optimizer == "lbfgs" for m in members):
        raise JaxannError("a sweep trains sgd or adam models; run L-BFGS with `fit`, one model at a time")
    x, y, n_out = check_data(x, y, n_out)
    sample_weight = check_sample_weight(sample_weight, x.shape[0])
    # members train together when their programs match and they weigh the rows alike
    keys = [(program_key(m, x.shape[0]), json.dumps(m.class_weight, sort_keys=True)) for m in members]
    order = list(dict.fromkeys(keys))
    if resume is not None:
        _check_resume(resume, members)
    with counting() as compiled:
        groups, fit_start = [], time.perf_counter()
        for gi, key in enumerate(order):
            indices = [i for i, k in enumerate(keys) if k == key]
            saved = resume.groups[gi] if resume is not None else None
            group = _group(members, indices, x, y, n_out, sample_weight, devices, saved)
            weights = class_weighted(sample_weight, group.config.class_weight, y)
            groups.append(group)

            def after_round(state, best, program, group=group):
                group.state, group.best = state, best
                group.program = program if len(program) < len(group.members) else None
                if callback is not None:
                    callback(SweepStep(len(groups) - 1, group.members[:len(group.indices)],
                                       lambda: _progress(members, groups, len(order)), group.indices))

            with precision(group.config.dtype):  # a float64 group in float64, whatever the global setting
                # the rounds' arrays are kept for the callback's snapshots, not copied when unwanted
                _train(group, x, y, n_out, weights, x_divisor, devices, after_round if callback is not None else None)
        fit_seconds = time.perf_counter() - fit_start
        result = _result(members, groups, len(order), fit_seconds)
        train = [math.nan] * len(members)
        for g in groups:
            weights = class_weighted(sample_weight, g.config.class_weight, y)
            values = _scorer(g, x, y, weights, x_divisor)(_final(g), g.train_rows, models=True)
            for i, v in zip(g.indices, values):
                train[i] = float(v)
        result.scores["train"] = train
        result.scores["validation"] = [max(h.validation_score) if h.validation_score else math.nan
                                       for h in result.histories]
    result.compile_seconds, result.compiled, result.loaded = compiled.seconds, compiled.names, compiled.loaded
    return result


def _check_resume(resume: SweepProgress, members):
    ours = [replace(m, epochs=0) for m in members]
    theirs = [replace(c, epochs=0) for c in resume.configs]
    if ours != theirs:
        raise JaxannError("the checkpoint was written by a sweep of other models; resume with the same "
                          "settings (only --epochs may change), or write into another --out folder")


def _placement(group: Group, devices: int) -> Placement:
    return Placement.models(devices, len(group.members))


def _group(members, indices, x, y, n_out, sample_weight, devices, saved) -> Group:
    """A program's group: its members' rows, records and stacked state (fresh, or saved)."""
    configs = [members[i] for i in indices]
    padding = (-len(configs)) % devices  # idle copies, so the models split evenly over the devices
    n, config = x.shape[0], configs[0]
    train_rows = val_rows = None
    if config.validation_fraction > 0:
        stratify = stratify_labels(y)
        splits = [validation_rows(n, config.validation_fraction, c.seed, stratify) for c in configs]
        train_rows = np.stack([t for t, _ in splits] + [splits[-1][0]] * padding)
        val_rows = np.stack([v for _, v in splits] + [splits[-1][1]] * padding)
    if saved is not None:
        _, records, state, best, program = saved
        records = [replace(r, config=replace(r.config, epochs=c.epochs), history=r.history.copy())
                   for r, c in zip(records, configs)]
        records = [replace(r, done=r.diverged or bool(r.history.stopped) or r.epoch >= r.config.epochs)
                   for r in records]
        records += [replace(records[-1], done=True) for _ in range(padding)]
        state, best = _padded(state, padding), None if best is None else _padded(best, padding)
        return Group(indices, config, records, state, best, train_rows, val_rows, program)
    sizes = config.sizes(x.shape[1], n_out)
    records = [Member(c, 0, History(), 0, Stopping(), c.lr, done=False) for c in configs]
    records += [Member(configs[-1], 0, History(), 0, Stopping(), configs[-1].lr, done=True) for _ in range(padding)]
    state = initial_states([r.config for r in records], sizes)
    return Group(indices, config, records, state, None, train_rows, val_rows)


def _padded(tree, padding):
    """Stacked host arrays with `padding` copies of the last model appended."""
    return jax.tree.map(lambda a: np.concatenate([a] + [a[-1:]] * padding), tree) if padding else tree


def _train(group: Group, x, y, n_out, sample_weight, x_divisor, devices, after_round):
    """Train a group's models to their ends with `run_epochs`."""
    config, records = group.config, group.members
    if all(r.done for r in records):
        return
    dtype = jnp.dtype(config.dtype)
    placement = _placement(group, devices)
    put = placement.put
    data = (put(np.asarray(x, dtype) if x_divisor is None else x), put(as_targets(y, n_out, len(y), dtype)),
            None if sample_weight is None else put(np.asarray(sample_weight, dtype)),
            None if x_divisor is None else put(np.asarray(x_divisor, dtype)))
    n_train = x.shape[0] if group.train_rows is None else group.train_rows.shape[1]
    idle = np.zeros(n_train, np.int32)

    def orders(members, ahead):
        rows = []
        for i, m in enumerate(members):
            if m.done:
                rows.append(idle)
                continue
            order = epoch_order(m.config.seed, m.epoch + ahead, n_train, m.config.shuffle)
            rows.append(order if group.train_rows is None else group.train_rows[i][order].astype(np.int32))
        return np.stack(rows)

    score = None
    if group.val_rows is not None:
        scorer = _scorer(group, x, y, sample_weight, x_divisor, put)
        score = lambda params, models: scorer.measures(params, group.val_rows[models], models=True,  # noqa: E731
                                                       feed=placement.feed, gather=placement.gather)
    rounds = Round(data, n_train, y.ndim == 1, orders, score, ahead=True)
    best = None if group.best is None else placement.stack(group.best)
    group.state, group.best = run_epochs(config, records, placement.stack(group.state), best,
                                         Stack(True, placement), rounds, after_round, models=group.program)


def _scorer(group: Group, x, y, sample_weight, x_divisor, put=jax.device_put) -> Scorer:
    c = group.config
    return Scorer(x, y, c.activation, loss=c.loss, sample_weight=sample_weight, x_divisor=x_divisor, dtype=c.dtype,
                  put=put)


def _final(group: Group):
    """The group's final parameters, stacked: each model's best validation epoch's (when it
    has a validation set and scored an epoch), else its last."""
    params = group.state.params
    if group.best is None:
        return params
    scored = np.array([r.stopping.best_score > -math.inf for r in group.members])
    return jax.tree.map(lambda b, p: np.where(scored.reshape((-1,) + (1,) * (np.ndim(p) - 1)), b, p),
                        jax.device_get(group.best), jax.device_get(params))


def _progress(members, groups, n_groups) -> SweepProgress:
    """The sweep's progress now, on the host (records copied: later epochs do not change them)."""
    saved = []
    for g in groups:
        real = len(g.indices)
        records = [replace(r, history=r.history.copy()) for r in g.members[:real]]
        state = jax.tree.map(lambda a: gather(a)[:real], g.state)
        best = None if g.best is None else jax.tree.map(lambda a: gather(a)[:real], g.best)
        saved.append((list(g.indices), records, state, best, None if g.program is None else list(g.program)))
    return SweepProgress(list(members), saved + [None] * (n_groups - len(groups)))


def _result(members, groups, n_groups, fit_seconds) -> SweepResult:
    histories, params = [None] * len(members), [None] * len(members)
    for g in groups:
        final = jax.tree.map(gather, _final(g))
        for j, i in enumerate(g.indices):
            histories[i] = g.members[j].history
            params[i] = jax.tree.map(lambda a, j=j: np.asarray(a[j]), final)
        # the group's arrays on the host, for evaluate() and the progress
        g.state = jax.tree.map(gather, g.state)
        g.best = None if g.best is None else jax.tree.map(gather, g.best)
    return SweepResult(list(members), histories, params, fit_seconds=fit_seconds,
                       progress=_progress(members, groups, n_groups), groups=groups)

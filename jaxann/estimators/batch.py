"""Many estimator fits trained as one compiled program per shape.

    outcomes = fit_together([(estimator, X, y, sample_weight), ...])

A search (`jaxann.model_selection`) fits the same network on many folds with many
settings: each is a separate small fit, but those that share a program (architecture,
batch size, solver, gradient source, dtype, rows per epoch) can train side by side. Each
request is planned exactly as `estimator.fit(X, y, sample_weight)` plans it
(`_BaseMLP._plan`: its input checks, scikit-learn's initial weights, early-stopping split
and batch order from its own random_state), the plans of one program are stacked and
trained by the loop of every fit (`jaxann.loop.run_epochs`, vmapped over the models: each
its own rows, batch order, learning rate, stopping rule and validation score; one that
stops is frozen while the others go on), and each estimator is finished as its own fit
finishes it (`_BaseMLP._finish`: fitted attributes, warnings, errors). The results equal
fitting each estimator alone to rounding: vmap batches the matrix products, which may sum
in another order.

Only fresh fits of the stochastic solvers are batched (`batchable`); anything else (L-BFGS,
a warm start) the caller fits one at a time.
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
import warnings
from dataclasses import dataclass, field, replace

import jax
import joblib
import numpy as np

from jaxann.compiling import precision
from jaxann.estimators.base import Plan, _BaseMLP
from jaxann.inputs import check_sample_weight
from jaxann.loop import FitResult, History, Member, Round, run_epochs
from jaxann.placement import Placement
from jaxann.predict import validation_outputs
from jaxann.stack import Stack


@dataclass
class Outcome:
    """One request's fit: the estimator, fitted (or left as the error found it), the error
    its fit raised (None if none) and the warnings it gave, to be raised and shown where
    the caller would have fitted it."""

    estimator: _BaseMLP
    error: BaseException | None = None
    warnings: list = field(default_factory=list)
    output: str = ""  # what its fit prints with verbose: scikit-learn's iteration lines


def batchable(estimator) -> bool:
    """Whether fit_together can train this estimator: a jaxann estimator whose fit starts
    afresh with a stochastic solver."""
    return (isinstance(estimator, _BaseMLP) and estimator.solver in ("sgd", "adam")
            and not (estimator.warm_start and hasattr(estimator, "coefs_")))


def fit_together(requests: list) -> list:
    """Fit each (estimator, X, y, sample_weight) request, as one program per shape; returns
    an `Outcome` per request, in order. The estimators must be `batchable`."""
    outcomes = [Outcome(request[0]) for request in requests]
    plans = {}
    for i, (estimator, X, y, sample_weight) in enumerate(requests):
        if not batchable(estimator):
            raise ValueError(f"{type(estimator).__name__}(solver={estimator.solver!r}) cannot train in a batch; "
                             "fit it on its own")
        with _captured(outcomes[i]):
            plans[i] = estimator._plan(X, y, sample_weight)
    groups = {}
    for i, plan in plans.items():
        groups.setdefault(_program_key(plan), []).append(i)
    for indices in groups.values():
        # requests given the same arrays (and class weights, which make the rows' weights) share
        # one copy of their rows on the device
        sources = [(*map(id, requests[i][1:]), repr(getattr(requests[i][0], "class_weight", None)))
                   for i in indices]
        with precision(plans[indices[0]].config.dtype):
            _train([outcomes[i] for i in indices], [plans[i] for i in indices], sources)
    return outcomes


class _captured:
    """Record an outcome's warnings and error instead of letting them out."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome

    def __enter__(self):
        self._warnings = warnings.catch_warnings(record=True)
        self._recorded = self._warnings.__enter__()
        warnings.simplefilter("always")
        self._printed = contextlib.redirect_stdout(io.StringIO())
        self._printed.__enter__()

    def __exit__(self, kind, error, traceback):
        self.outcome.output += self._printed._new_target.getvalue()
        self._printed.__exit__(None, None, None)
        self.outcome.warnings += self._recorded
        self._warnings.__exit__(None, None, None)
        if isinstance(error, Exception):
            self.outcome.error = error
            return True
        return False


def _program_key(plan: Plan):
    """What must be equal for plans to train in one program: the program's settings, the
    batch size and the batches per epoch (folds of nearby sizes share a program: a model
    with fewer rows leaves its last slots empty), the rows held out, the widths, and
    whether rows are weighted."""
    n_train = plan.x.shape[0] if plan.train is None else plan.train.shape[0]
    n_val = 0 if plan.val is None else plan.val.shape[0]
    config = plan.config
    rows = config.batch_rows(n_train)
    return (config.program_config(), rows, -(-n_train // rows), n_val, plan.x.shape[1], plan.t.shape[1],
            plan.sample_weight is None)


def _train(outcomes: list, plans: list, sources: list) -> None:
    """Train one program's plans side by side, then finish each estimator. sources: what
    each plan's data came from (plans of one source hold the same rows)."""
    config = plans[0].config
    dtype = np.dtype(config.dtype)
    # the fits' data, each source's once, end to end; each model its own rows of them
    blocks, offsets = [], {}
    for plan, source in zip(plans, sources):
        if source not in offsets:
            offsets[source] = sum(b.x.shape[0] for b in blocks)
            blocks.append(plan)
    offset_of = dict(zip(map(id, plans), (offsets[s] for s in sources)))
    x = np.concatenate([np.asarray(b.x, dtype) for b in blocks])
    t = np.concatenate([np.asarray(b.t, dtype) for b in blocks])
    weights = None
    if plans[0].sample_weight is not None:
        weights = np.concatenate([check_sample_weight(b.sample_weight, b.x.shape[0]) for b in blocks]).astype(dtype)

    def rows(plan, which):
        local = np.arange(plan.x.shape[0]) if which is None else which
        return (offset_of[id(plan)] + local).astype(np.int32)

    train_rows = [rows(p, p.train) for p in plans]
    sizes = tuple(r.shape[0] for r in train_rows)
    n_train = max(sizes)  # the program's row slots; a model with fewer leaves its last ones empty (-1)
    placement = Placement.models(1, len(plans))
    data = placement.put((x, t, weights, None))
    idle = np.zeros(n_train, np.int32)

    def orders(members, ahead):
        # each model's order comes from its own RandomState, drawn once per epoch it trains
        return np.stack([idle if m.done else np.pad(train_rows[i][plan.order(m.epoch)], (0, n_train - sizes[i]),
                                                     constant_values=-1)
                         for i, (m, plan) in enumerate(zip(members, plans))])

    score = None
    if plans[0].val is not None:
        score = _validation_scores([o.estimator for o in outcomes], plans, data, rows, placement)
    members = [Member.of(plan.config, plan.resume) for plan in plans]
    state = jax.tree.map(lambda *leaves: np.stack(leaves), *[plan.resume.state for plan in plans])
    started = time.perf_counter()
    state, best = run_epochs(config, members, placement.stack(state), None, Stack(True, placement),
                             Round(data, n_train, False, orders, score, sizes=sizes), None)
    seconds = time.perf_counter() - started
    state, best = placement.gather(state), None if best is None else placement.gather(best)
    for k, (outcome, plan, member) in enumerate(zip(outcomes, plans, members)):
        mine = jax.tree.map(lambda a, k=k: a[k], state)
        kept = None
        if best is not None and member.stopping.best_score > -np.inf:
            kept = jax.tree.map(lambda a, k=k: a[k], best)
        progress = member.progress(mine, kept)
        result = FitResult(kept if kept is not None else mine.params, member.history, 0.0, seconds,
                           progress, member.diverged)
        with _captured(outcome):
            for epoch in range(len(member.history.loss) if outcome.estimator.verbose else 0):
                # the lines its fit alone logs after each epoch
                outcome.estimator._log(replace(progress, epoch=epoch + 1, history=_first(member.history, epoch + 1)))
            outcome.estimator._finish(plan, result)


def _first(history: History, epochs: int) -> History:
    """The history of a run's first epochs (what its log saw after each)."""
    return History(loss=history.loss[:epochs], validation_score=history.validation_score[:epochs],
                   validation_loss=history.validation_loss[:epochs])


def _validation_scores(estimators, plans, data, rows, placement):
    """(params, models) -> (each model's early-stopping score, each model's validation
    loss) on its held-out rows, params stacked for the plans numbered `models`: one
    compiled call gives every model's a^L and loss (`validation_outputs` on the placed
    data: the rows, target rows and weights the models train on), each estimator scores
    its own (`_score_outputs`, as its fit alone does)."""
    val_rows = np.stack([rows(p, p.val) for p in plans])
    held = []
    for estimator, plan in zip(estimators, plans):
        _, t_val, w_val = plan.held_out()
        held.append((estimator._labels(t_val), w_val))
    first = estimators[0]
    activation, link = first._activation(), first._validation_link()

    x, t, weights = data[:3]
    loss = first._loss_name()

    def score(params, models):
        a, losses = validation_outputs(params, x, t, weights, activation, link, loss, rows=val_rows[models],
                                       gather=placement.gather)
        scores = [estimators[i]._score_outputs(a[k], *held[i]) for k, i in enumerate(models)]
        return scores, [float(v) for v in losses]

    return score


class Ahead:
    """Fits trained ahead of the calls that ask for them (a search's loop): while
    `collecting()`, a batchable estimator's fit records its request instead of training;
    `train()` fits every request together; while `serving()`, a fit asked for again (the
    same estimator settings and data) takes its trained state instead of training, with
    the warnings, printed lines and error of its fit. Any other fit trains as usual."""

    _current = None  # the Ahead in force, if any (jaxann's estimators ask it in fit)

    def __init__(self):
        self.requests, self.outcomes, self.mode = {}, {}, None

    @staticmethod
    def active() -> "Ahead | None":
        return Ahead._current

    @contextlib.contextmanager
    def _in(self, mode):
        before, Ahead._current, self.mode = Ahead._current, self, mode
        try:
            yield self
        finally:
            Ahead._current, self.mode = before, None

    def collecting(self):
        return self._in("collect")

    def serving(self):
        return self._in("serve")

    def train(self) -> None:
        keys = list(self.requests)
        self.outcomes = dict(zip(keys, fit_together([self.requests[k] for k in keys])))
        self.requests = {}

    def fit(self, estimator, X, y, sample_weight) -> bool:
        """Answer estimator.fit(X, y, sample_weight): True if done here (recorded, or given
        its trained state), False if the estimator must train itself."""
        if not batchable(estimator):
            return False
        key = joblib.hash((type(estimator).__qualname__, estimator.get_params(deep=False), X, y, sample_weight))
        if self.mode == "collect":
            self.requests.setdefault(key, (copy.deepcopy(estimator), X, y, sample_weight))
            return True
        outcome = self.outcomes.get(key)
        if outcome is None:
            return False
        estimator.__dict__.update(copy.deepcopy(outcome.estimator.__dict__))
        if estimator.verbose:
            print(outcome.output, end="")
        for w in outcome.warnings:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if outcome.error is not None:
            raise outcome.error
        return True

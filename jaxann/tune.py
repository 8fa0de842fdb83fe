"""Hyperparameter studies with Optuna, K trials at a time trained as one sweep.

    from optuna.distributions import FloatDistribution
    study = optimize(TrainConfig(epochs=30, validation_fraction=0.1), x, y,
                     {"lr": FloatDistribution(1e-3, 0.3, log=True), "hidden": space("hidden", "32,64")},
                     n_trials=64, trials_per_program=16, storage="sqlite:///study.db")
    study.best_trial.params, study.best_value

The study is Optuna's: its sampler (TPE by default, with a constant liar so that K trials
asked at once spread out) proposes each trial's settings, and its storage keeps the study
(`sqlite:///PATH` by default: an embedded database, nothing to start; any database URL
Optuna accepts for many machines). jaxann asks the study for K trials, trains them as one
sweep (`jaxann.sweep.fit_many`: one program per shape, each trial its own validation
split, stopping rule and schedule), reports each trial's validation score after every
epoch, and freezes a trial the study's pruner prunes (MedianPruner by default) while the
others go on; each trial is then told its best validation score (the objective,
maximised), or that it was pruned or diverged. Several processes given the same storage
and study name share the study: each asks for, trains and tells its own trials.

Optuna is an optional dependency: `pip install 'jaxann[tune]'`.
"""

from __future__ import annotations

import math
import time
from dataclasses import fields, replace

from jaxann.config import TrainConfig
from jaxann.errors import JaxannError

INSTALL = "jaxann tune needs Optuna: pip install 'jaxann[tune]' (or pip install optuna)"

# settings a study can search: TrainConfig field -> the kind of its values
SEARCHABLE = {"lr": float, "alpha": float, "momentum": float, "beta1": float, "beta2": float, "epsilon": float,
              "power_t": float, "tol": float, "feedback_scale": float, "n_iter_no_change": int, "batch_size": int,
              "hidden": tuple, "seed": int, "dropout": float}


def _optuna():
    try:
        import optuna
    except ImportError:
        raise JaxannError(INSTALL) from None
    return optuna


def space(name: str, text: str):
    """One setting's search space from its flag's text: 'a:b' (uniform), 'a:b:log'
    (log-uniform), 'a,b,c' (one of these), or one value (fixed: returned as the value).
    Integers for integer settings; hidden's choices are architectures, layers joined by
    '-' ('32,64,100-50': one layer of 32, of 64, or two of 100 and 50)."""
    distributions = _optuna().distributions
    if name not in SEARCHABLE:
        raise JaxannError(f"{name} cannot be searched; searchable settings: {', '.join(SEARCHABLE)}")
    kind = SEARCHABLE[name]
    text = text.strip()
    try:
        if kind is tuple:
            choices = ["-".join(str(int(v)) for v in c.split("-")) for c in text.split(",")]
            if any(int(v) <= 0 for c in choices for v in c.split("-")):
                raise ValueError(text)
            return distributions.CategoricalDistribution(choices) if len(choices) > 1 else _architecture(choices[0])
        if ":" in text:
            parts = text.split(":")
            log = len(parts) == 3 and parts[2] == "log"
            if len(parts) not in (2, 3) or (len(parts) == 3 and not log):
                raise ValueError(text)
            low, high = kind(float(parts[0])), kind(float(parts[1]))
            if not low < high or (log and low <= 0):
                raise ValueError(text)
            if kind is int:
                return distributions.IntDistribution(low, high, log=log)
            return distributions.FloatDistribution(low, high, log=log)
        values = [kind(float(v)) for v in text.split(",")]
        if not all(math.isfinite(v) for v in values):
            raise ValueError(text)
        return distributions.CategoricalDistribution(values) if len(values) > 1 else values[0]
    except ValueError:
        low = "1e-4:1e-1:log" if kind is float else "16:256"
        raise JaxannError(f"{name} {text!r} is not a search space; expected LOW:HIGH, LOW:HIGH:log (e.g. {low}), "
                          "a comma-separated list of choices, or one value") from None


def _architecture(text: str) -> tuple:
    return tuple(int(v) for v in str(text).split("-"))


def _settings(config: TrainConfig, params: dict) -> TrainConfig:
    """The trial's config: config with the study's values for its settings."""
    values = {name: (_architecture(v) if name == "hidden" and isinstance(v, str) else v) for name, v in params.items()}
    return replace(config, **values).validate()


def open_study(storage: str | None = "sqlite:///jaxann-tune.db", study_name: str = "jaxann", *, sampler=None,
               pruner=None, seed: int | None = None):
    """Optuna's study `study_name` in `storage` (created, or loaded when it exists; None:
    in memory), maximising the validation score. sampler: default TPE (constant liar on,
    seeded by seed); pruner: default MedianPruner. A SQLite database waits up to a minute
    for another process's write, so that several processes can share it."""
    optuna = _optuna()
    if isinstance(storage, str) and storage.startswith("sqlite"):
        storage = _sqlite(optuna, storage)
    sampler = sampler or optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    pruner = pruner if pruner is not None else optuna.pruners.MedianPruner()
    try:
        return optuna.create_study(storage=storage, study_name=study_name, sampler=sampler, pruner=pruner,
                                   direction="maximize", load_if_exists=True)
    except ValueError as e:  # e.g. the stored study minimises
        raise JaxannError(f"study {study_name!r}: {e}") from None


def _sqlite(optuna, url: str):
    """Optuna's storage in a SQLite file. Processes that start together may race to create
    the file's tables: the loser finds them made and tries again."""
    import sqlalchemy.exc

    for attempt in range(10):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        except sqlalchemy.exc.SQLAlchemyError:
            if attempt == 9:
                raise
            time.sleep(0.2 * (attempt + 1))


def optimize(config: TrainConfig, x, y, search: dict, *, n_trials: int, trials_per_program: int = 16,
             study=None, n_out: int | None = None, sample_weight=None, x_divisor: float | None = None,
             devices: int = 1, test=None, callback=None, **study_options):
    """Run n_trials trials of a study over `search` (a TrainConfig field -> an Optuna
    distribution, or a fixed value), trials_per_program at a time; returns the study.

    config gives every other setting (a validation share of 0.1 when it holds none out:
    trials are scored on held-out rows). study: an Optuna study to add to (else
    `open_study(**study_options)`). test: (x_test, y_test), whose score each trial keeps
    as its user attribute "test_score". callback(trials, result) runs after each round of
    trials with the round's `SweepResult`. Each trial also keeps "epochs", "stopped" and
    "seconds".
    """
    optuna = _optuna()
    from jaxann.sweep import fit_many

    if n_trials < 1 or trials_per_program < 1:
        raise JaxannError("n_trials and trials_per_program must be positive")
    unknown = sorted(set(search) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise JaxannError(f"unknown settings {', '.join(unknown)}; expected TrainConfig fields")
    if config.validation_fraction == 0:
        config = replace(config, validation_fraction=0.1)
    fixed = {k: v for k, v in search.items() if not isinstance(v, optuna.distributions.BaseDistribution)}
    config = _settings(config, fixed)
    distributions = {k: v for k, v in search.items() if k not in fixed}
    study = study if study is not None else open_study(**study_options)
    told = 0
    while told < n_trials:
        trials = [study.ask(distributions) for _ in range(min(trials_per_program, n_trials - told))]
        members, asked = [], []
        for trial in trials:
            try:
                members.append(_settings(config, trial.params))
                asked.append(trial)
            except JaxannError as e:  # settings the network refuses (say lr 0 from a list)
                trial.set_user_attr("error", str(e))
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
        told += len(trials) - len(asked)
        if asked:
            result = fit_many(members, x, y, n_out=n_out, sample_weight=sample_weight, x_divisor=x_divisor,
                              devices=devices, callback=_Reporter(asked))
            if test is not None:
                result.evaluate(*test, "test", x_divisor=x_divisor)
            _tell(study, asked, result)
            told += len(asked)
            if callback is not None:
                callback(asked, result)
    return study


class _Reporter:
    """The sweep's callback: each trial's validation score reported after every epoch it
    trained, and a trial the pruner prunes frozen."""

    def __init__(self, trials):
        self.trials, self.reported = trials, [0] * len(trials)

    def __call__(self, step):
        for i, record in zip(step.indices, step.records):
            scores = record.history.validation_score
            if len(scores) == self.reported[i] or record.diverged:
                continue
            self.reported[i] = len(scores)
            trial = self.trials[i]
            trial.report(scores[-1], len(scores))
            if not record.done and trial.should_prune():
                record.done = True
                record.history.stopped = f"pruned by the study's pruner after epoch {len(scores)}"


def _tell(study, trials, result) -> None:
    state = _optuna().trial.TrialState
    for i, trial in enumerate(trials):
        history = result.histories[i]
        trial.set_user_attr("epochs", len(history.loss))
        trial.set_user_attr("stopped", history.stopped or "ran its epochs")
        trial.set_user_attr("seconds", float(sum(history.seconds)))
        if "test" in result.scores:
            trial.set_user_attr("test_score", result.scores["test"][i])
        best = result.scores["validation"][i]
        if history.stopped.startswith("pruned"):
            study.tell(trial, state=state.PRUNED)
        elif not math.isfinite(best):
            study.tell(trial, state=state.FAIL)
        else:
            study.tell(trial, best)


def table(study) -> list:
    """One row per finished trial of the study: its number and state, its settings, the
    objective (best validation score), epochs, why it stopped, test score and seconds."""
    names = sorted({name for t in study.trials for name in t.params})
    rows = []
    for t in study.trials:
        if not t.state.is_finished():
            continue
        rows.append({"trial": t.number, "state": t.state.name.lower(),
                     **{n: t.params.get(n, "") for n in names},
                     "best_validation": t.value if t.value is not None else math.nan,
                     "epochs": t.user_attrs.get("epochs", 0), "stopped": t.user_attrs.get("stopped", ""),
                     "test_score": t.user_attrs.get("test_score", math.nan),
                     "seconds": t.user_attrs.get("seconds", math.nan)})
    return rows

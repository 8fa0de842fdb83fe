"""`jaxann tune`: an Optuna study, K trials at a time trained as one sweep; the best trial and a table."""

from __future__ import annotations

from jaxann.cli.args import add_device_flags, add_network_flags, add_stopping_flags, positive_int, start_distributed
from jaxann.errors import JaxannError
from jaxann.files import check_writable


def add_arguments(p):
    p.description = (
        "Search settings with an Optuna study: each searchable flag takes a space (LOW:HIGH, "
        "LOW:HIGH:log, a comma-separated list of choices, or one fixed value), e.g. --lr 1e-4:1e-1:log "
        "--alpha 1e-6:1e-2:log --hidden 32,64,128 --momentum 0.8:0.99. The study's sampler (TPE) "
        "proposes --trials-per-program trials at a time, which train as one sweep; each reports its "
        "validation score every epoch, and a trial the pruner (median) prunes stops while the others go "
        "on. The study lives in --storage (SQLite by default), so several processes with the same "
        "--storage and --study share it. Needs Optuna: pip install 'jaxann[tune]'.")
    add_network_flags(p, tune=True)
    add_stopping_flags(p, sweep=True)
    p.set_defaults(validation_fraction=0.1)
    p.add_argument("--trials", type=positive_int, default=32, help="trials this process runs (default 32)")
    p.add_argument("--trials-per-program", type=positive_int, default=16,
                   help="trials asked for at a time and trained as one sweep (default 16)")
    p.add_argument("--storage", default="sqlite:///jaxann-tune.db",
                   help="Optuna storage URL (default sqlite:///jaxann-tune.db, a file in this folder; any "
                   "database URL Optuna accepts, e.g. postgresql://..., for many machines)")
    p.add_argument("--study", default="jaxann", help="study name in the storage (default jaxann)")
    p.add_argument("--sampler", choices=["tpe", "random"], default="tpe", help="default tpe")
    p.add_argument("--pruner", choices=["median", "hyperband", "none"], default="median", help="default median")
    p.add_argument("--sampler-seed", type=int, help="seed of the sampler (default: unseeded)")
    p.add_argument("--results", help="write one row per finished trial of the study to this CSV file")
    add_device_flags(p, "split each round's trials over this many devices")
    p.set_defaults(run=run)


SPACE_FLAGS = ("lr", "alpha", "momentum", "beta1", "beta2", "epsilon", "power_t", "tol", "n_iter_no_change",
               "feedback_scale", "batch_size", "hidden", "seed", "dropout")


def run(args) -> int:
    from jaxann import tune
    from jaxann.cli.args import config_from, dataset_of
    from jaxann.program_store import use_program_store
    from jaxann.console import count
    from jaxann.data import load
    from jaxann.files import atomic_write
    from jaxann.placement import device_name
    from jaxann.runs import write_json
    from jaxann.sweep import csv_text
    from jaxann.cli.sweep import _table, _write

    optuna = tune._optuna()  # says what to install, before anything else is done
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = {name: tune.space(name, getattr(args, name)) for name in SPACE_FLAGS if getattr(args, name) is not None}
    fixed = {k: v for k, v in search.items() if not isinstance(v, optuna.distributions.BaseDistribution)}
    if not any(k not in fixed for k in search):
        raise JaxannError("nothing to search: give at least one setting a space, e.g. --lr 1e-4:1e-1:log")
    config = config_from(argparse_values(args, fixed))
    for path in (args.results, args.metrics):
        if path:
            check_writable(path)
    start_distributed(args)
    use_program_store(args.compile_cache)
    samplers = {"tpe": lambda: optuna.samplers.TPESampler(seed=args.sampler_seed, constant_liar=True),
                "random": lambda: optuna.samplers.RandomSampler(seed=args.sampler_seed)}
    pruners = {"median": optuna.pruners.MedianPruner, "hyperband": optuna.pruners.HyperbandPruner,
               "none": optuna.pruners.NopPruner}
    study = tune.open_study(args.storage, args.study, sampler=samplers[args.sampler](), pruner=pruners[args.pruner]())
    data = load(dataset_of(args), args.data_dir)
    say = (lambda *a, **k: None) if args.quiet else print
    before = len(study.trials)
    say(f"jaxann tune: study {args.study!r} in {args.storage} ({count(before, 'trial')} before), "
        f"{count(args.trials, 'trial')} on {data.name}, {args.trials_per_program} at a time, "
        f"up to {config.epochs} epochs; {device_name()}")

    def after_round(trials, result):
        pruned = sum(h.stopped.startswith("pruned") for h in result.histories)
        best = max((v for v in result.scores["validation"] if v == v), default=float("nan"))
        say(f"trials {trials[0].number}..{trials[-1].number}: {count(pruned, 'pruned trial')}; "
            f"best validation score {best:.4f}", flush=True)

    tune.optimize(config, data.raw_train, data.y_train, search, n_trials=args.trials,
                  trials_per_program=args.trials_per_program, study=study, n_out=data.n_classes,
                  x_divisor=data.x_divisor, devices=args.devices, test=(data.raw_test, data.y_test),
                  callback=after_round)
    rows = tune.table(study)
    if not any(r["state"] == "complete" for r in rows):
        raise JaxannError(f"no trial of study {args.study!r} completed (all pruned or failed)")
    print(_table(rows))
    best = study.best_trial
    settings = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.params.items())
    print(f"Best trial {best.number}: validation score {best.value:.6f}, test score "
          f"{best.user_attrs.get('test_score', float('nan')):.6f} ({settings})")
    if args.results:
        _write(args.results, lambda: atomic_write(args.results, lambda f: f.write(csv_text(rows).encode())))
    if args.metrics:
        write_json(args.metrics, {"study": args.study, "storage": args.storage, "best_trial": best.number,
                                  "best_params": best.params, "best_value": best.value, "trials": rows})
    return 0


def argparse_values(args, fixed):
    """The flags' fixed settings as TrainConfig values, over the defaults."""
    import argparse

    from jaxann.config import TrainConfig

    values = argparse.Namespace(**vars(args))
    for name in SPACE_FLAGS:
        if name != "hidden":
            delattr(values, name)
    values.hidden = list(fixed.pop("hidden", TrainConfig.hidden))
    for name, value in fixed.items():
        setattr(values, name, value)
    return values

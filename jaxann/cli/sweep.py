"""`jaxann sweep`: many models, one program per shape; a table, a CSV, metrics, a figure, a run folder."""

from __future__ import annotations

import math
import sys

from jaxann.cli import stop_if_signalled
from jaxann.cli.args import (SWEEP_AXES, add_device_flags, add_network_flags, add_stopping_flags, config_from,
                             dataset_of, positive_int, start_distributed, warn_large_batches)
from jaxann.errors import JaxannError
from jaxann.files import check_writable


def add_arguments(p):
    p.description = (
        "Train many models at once: every combination of the list-valued flags (--seeds, --lr, "
        "--alpha, --momentum, --beta1, --beta2, --epsilon, --power-t, --tol, --n-iter-no-change, "
        "--feedback-scale, --dropout (one rate for every hidden layer per model), --batch-size, and several "
        "--hidden architectures), times the rows of "
        "--settings FILE when given. Models of one shape train as one vmapped program, each with its "
        "own validation score, stopping rule and learning-rate schedule (a model that stops is frozen "
        "while the others go on); each equals `jaxann train` with its settings, to rounding.")
    add_network_flags(p, sweep=True)
    add_stopping_flags(p, sweep=True)
    p.add_argument("--settings", help="a .csv (header of setting names, e.g. lr,alpha,hidden) or .json "
                   "(a list of objects) file: one model per row, each combined with the grid of the flags")
    p.add_argument("--out", help="folder for checkpoint.npz (during the sweep), results.csv and metrics.json")
    p.add_argument("--checkpoint-every", type=positive_int, default=1,
                   help="with --out: write DIR/checkpoint.npz every N epochs and after the last (default 1)")
    p.add_argument("--resume", action="store_true",
                   help="with --out: continue the sweep from DIR/checkpoint.npz (same models; --epochs may grow)")
    p.add_argument("--overwrite", action="store_true",
                   help="with --out: replace the sweep DIR holds (without it, or --resume, such a folder is refused)")
    p.add_argument("--results", help="write one row per model (settings, epochs, why it stopped, scores, "
                   "seconds) to this CSV file")
    p.add_argument("--plot", help="save the loss curves and each final test score against the swept "
                   "settings to this PNG")
    add_device_flags(p, "split the models over this many devices")
    p.set_defaults(run=run)


def members_from(args):
    """The sweep's member configs from its flags (and --settings file)."""
    names = [name for name, _ in SWEEP_AXES.values()]
    base = config_from(args, **{name: getattr(args, name)[0] for name in names}, batch_size=args.batch_size[0],
                       hidden=tuple(args.hidden[0]), class_weight=args.class_weight[0])
    from jaxann.sweep import grid, read_settings, settings  # JAX loads once the first model's settings are valid

    axes = {name: getattr(args, name) for name in names if len(getattr(args, name)) > 1}
    if len(args.hidden) > 1:
        axes["hidden"] = [tuple(h) for h in args.hidden]
    if len(args.batch_size) > 1:
        axes["batch_size"] = args.batch_size
    if len(args.class_weight) > 1:
        axes["class_weight"] = args.class_weight
    if args.settings:
        return settings(base, read_settings(args.settings), **axes)
    return grid(base, **axes)


def run(args) -> int:
    dataset = dataset_of(args)
    if args.resume and not args.out:
        raise JaxannError("--resume needs --out DIR, the folder whose checkpoint.npz it continues")
    if args.overwrite and not args.out:
        raise JaxannError("--overwrite needs --out DIR, the folder whose sweep it replaces")
    members = members_from(args)
    for path in (args.metrics, args.results, args.plot):
        if path:  # refused now, not after the training
            check_writable(path)
    if args.out:
        check_writable(args.out, "folder")
        from jaxann.runs import SweepFolder

        for name in SweepFolder(args.out).claim(resume=args.resume, overwrite=args.overwrite):
            print(f"Removed {args.out}/{name} of the sweep replaced (--overwrite)", file=sys.stderr)
    from jaxann.checkpoint import load_sweep, save_sweep
    from jaxann.program_store import use_program_store
    from jaxann.console import ProgressBar, count
    from jaxann.data import load
    from jaxann.placement import device_name
    from jaxann.runs import metrics, save_figure, write_json
    from jaxann.sweep import fit_many, program_key

    start_distributed(args)
    use_program_store(args.compile_cache)
    data = load(dataset, args.data_dir)
    for fraction in sorted({m.validation_fraction for m in members}):
        warn_large_batches("jaxann sweep", [m.batch_size for m in members if m.validation_fraction == fraction],
                           len(data.raw_train), fraction)
    say = (lambda *a, **k: None) if args.quiet else print
    K = len(members)
    programs = len({program_key(m, len(data.raw_train)) for m in members})
    say(f"jaxann sweep: {count(K, 'model')} ({count(programs, 'program')}) on {data.name}, "
        f"up to {max(m.epochs for m in members)} epochs; {device_name()}")
    folder, resume = None, None
    if args.out:
        folder = SweepFolder(args.out)
        for leftover in folder.remove_leftovers():
            say(f"Removed {leftover}, left half-written by a sweep that was killed")
        if args.resume and folder.checkpoint.is_file():
            resume = load_sweep(folder.checkpoint)
            say(f"Resuming from {folder.checkpoint}")
        elif args.resume:
            say(f"No checkpoint in {args.out} yet: starting from epoch 1")

    bar = ProgressBar(max(m.epochs for m in members), enabled=not args.quiet)
    rounds = 0

    def after_round(step):
        nonlocal rounds
        rounds += 1
        k = max(len(r.history.loss) for r in step.records)
        losses = [r.history.loss[-1] for r in step.records if len(r.history.loss) == k]  # trained this epoch
        bar.close()
        say(f"Iteration {k}, loss = {min(losses):.8f} .. {max(losses):.8f} over {count(len(losses), 'model')}"
            + (f" (program {step.program + 1} of {programs})" if programs > 1 else ""), flush=True)
        if folder and rounds % args.checkpoint_every == 0:
            _write(folder.checkpoint, lambda: save_sweep(folder.checkpoint, step.snapshot()))
        bar.update(k, f"epoch {k}, {count(sum(not r.done for r in step.records), 'model')} training")
        stop_if_signalled()  # after the checkpoint: the round that finished is kept

    try:
        result = fit_many(members, data.raw_train, data.y_train, n_out=data.n_classes, x_divisor=data.x_divisor,
                          devices=args.devices, resume=resume, callback=after_round)
    finally:
        bar.close()
    if folder:
        _write(folder.checkpoint, lambda: save_sweep(folder.checkpoint, result.progress))
    test = result.evaluate(data.raw_test, data.y_test, "test", x_divisor=data.x_divisor)
    rows = result.table()
    print(_table(rows))
    say(f"{count(K, 'model')} trained in {result.fit_seconds:.2f} s (compiled in {result.compile_seconds:.2f} s"
        + (f": {', '.join(result.compiled)}" if result.compiled else "") + ")")
    entries = [metrics(config, history, train_accuracy=result.scores["train"][i], test_accuracy=test[i],
                       fit_seconds=result.fit_seconds, compile_seconds=result.compile_seconds,
                       compiled=result.compiled, loaded=result.loaded, models_in_sweep=K,
                       best_validation_score=rows[i]["best_validation"], stopped=rows[i]["stopped"],
                       dataset={"name": data.name, "source": data.source, "n_train": len(data.raw_train),
                                "n_test": len(data.raw_test)})
               for i, (config, history) in enumerate(zip(result.configs, result.histories))]
    if args.metrics:
        write_json(args.metrics, entries)
    if args.results:
        _write(args.results, lambda: result.to_csv(args.results))
    if folder:
        folder.save(result, entries)
    if args.plot:
        from jaxann.plots import sweep

        save_figure(args.plot, lambda: sweep(result)[0].figure)
    return 0


def _write(path, write):
    try:
        write()
    except OSError as e:
        raise JaxannError(f"cannot write {path}: {e.strerror or e}") from None


STOPPED = {"ran its epochs": "epochs", "did not improve": "no gain", "became": "diverged"}


def _table(rows) -> str:
    """The sweep's table as text, one line per model (why it stopped, shortened)."""
    def cell(key, value):
        if key == "stopped":
            return next((short for text, short in STOPPED.items() if text in value), value)
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            return f"{value:.4f}" if key.endswith("_score") or key == "best_validation" else f"{value:.6g}"
        return str(value)

    keys = list(rows[0])
    cells = [[cell(k, row[k]) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = lambda values: "| " + " | ".join(v.rjust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    return "\n".join([line(keys), "| " + " | ".join("-" * w for w in widths) + " |", *map(line, cells)])

"""`jaxann train`: train a network, print its log and scores, write its metrics and run folder."""

from __future__ import annotations

import sys


from jaxann.cli import stop_if_signalled
from jaxann.cli.args import (add_device_flags, add_network_flags, add_stopping_flags, config_from, dataset_of,
                             positive_int, start_distributed, warn_large_batches)
from jaxann.errors import JaxannError, TrainingDiverged
from jaxann.files import check_writable

AT_CHANCE = 3  # exit status of a run that trained but learned nothing
CHANCE_MARGIN = 0.01


def add_arguments(p):
    p.description = ("Train a feedforward network and report its training and test accuracy. "
        "The defaults are the lecture's configuration (50 relu hidden units, SGD lr 0.1 with "
        "Nesterov momentum 0.9, alpha 1e-4, batch 200, 10 epochs, seed 1), on digits (64-50-10) "
        "unless --dataset mnist (784-50-10). Exit status: 0 done, 1 diverged, 2 bad input, "
        "3 trained but at chance level (a warning says so).")
    add_network_flags(p)
    add_stopping_flags(p)
    p.add_argument("--out", help="folder for checkpoint.npz (during training), params.npz, metrics.json "
                   "and loss_curve.png")
    p.add_argument("--checkpoint-every", type=positive_int, default=1,
                   help="with --out: write DIR/checkpoint.npz every N epochs and after the last (default 1)")
    p.add_argument("--resume", action="store_true",
                   help="with --out: continue from DIR/checkpoint.npz (same settings; --epochs may grow)")
    p.add_argument("--overwrite", action="store_true",
                   help="with --out: replace the run DIR holds (without it, or --resume, such a folder is refused)")
    p.add_argument("--debug-nans", action="store_true",
                   help="JAX's NaN checking: stop at the first operation that makes a NaN, and name it")
    add_device_flags(p, "data parallelism: split each batch over this many devices")
    p.set_defaults(run=run)


def run(args) -> int:
    # the flags' own mistakes first (no JAX loaded yet), then the files
    dataset = dataset_of(args)
    if args.resume and not args.out:
        raise JaxannError("--resume needs --out DIR, the folder whose checkpoint.npz it continues")
    if args.resume and args.optimizer == "lbfgs":
        raise JaxannError("--resume continues sgd and adam runs; L-BFGS's memory of past steps is not "
                          "checkpointed, so an lbfgs run restarts (run it again without --resume)")
    if args.overwrite and not args.out:
        raise JaxannError("--overwrite needs --out DIR, the folder whose run it replaces")
    config = config_from(args)
    if args.metrics:  # refused now, not after the training
        check_writable(args.metrics)
    if args.out:
        check_writable(args.out, "folder")
        from jaxann.runs import RunFolder

        for name in RunFolder(args.out).claim(resume=args.resume, overwrite=args.overwrite):
            print(f"Removed {args.out}/{name} of the run replaced (--overwrite)", file=sys.stderr)
    # the flags are checked: now the heavy imports
    import jax
    import numpy as np

    from jaxann.activations import label
    from jaxann.compiling import counting
    from jaxann.program_store import use_program_store
    from jaxann.data import load
    from jaxann.placement import device_name
    from jaxann.predict import accuracy
    from jaxann.runs import metrics, write_json

    start_distributed(args)
    use_program_store(args.compile_cache)
    data = load(dataset, args.data_dir)
    if config.optimizer != "lbfgs":  # L-BFGS takes every row at once
        warn_large_batches("jaxann train", [config.batch_size], len(data.raw_train), config.validation_fraction)
    sizes = config.sizes(data.raw_train.shape[1], data.n_classes)
    say = (lambda *a, **k: None) if args.quiet else print
    say(f"jaxann train: {data.name} ({len(data.raw_train)} train / {len(data.raw_test)} test rows, "
        f"{data.source}); network {'-'.join(map(str, sizes))} {label(config.activation)}, "
        + ("L-BFGS on the full batch, " if config.optimizer == "lbfgs" else
           f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size or 'full'}, ")
        + f"grad {config.grad}; {device_name()}")
    if args.debug_nans:
        jax.config.update("jax_debug_nans", True)
    folder, resume = _run_folder(args, config, sizes, say)
    with counting() as compiled:  # every program the run compiles: training's and the scores'
        result = _fit(args, config, data, sizes, folder, resume, say)
        # the raw rows (uint8 pixels for the image sets) and their divisor: no float copy
        train_acc = accuracy(result.params, data.raw_train, data.y_train, config.activation, None, data.x_divisor)
        test_acc = accuracy(result.params, data.raw_test, data.y_test, config.activation, None, data.x_divisor)
    print(f"Training set score: {train_acc:f}")
    print(f"Test set score: {test_acc:f}")
    chance = np.bincount(data.y_train).max() / len(data.y_train)  # always answering the commonest class
    run_metrics = metrics(
        config, result.history, train_accuracy=train_acc, test_accuracy=test_acc, fit_seconds=result.fit_seconds,
        compile_seconds=compiled.seconds, compiled=compiled.names, loaded=compiled.loaded, devices=args.devices,
        dataset={"name": data.name, "source": data.source, "n_train": len(data.raw_train),
                 "n_test": len(data.raw_test), "sizes": sizes})
    if args.metrics:
        write_json(args.metrics, run_metrics)
    if folder:
        from jaxann.plots import loss_curve

        from jaxann.model import Model, output_of

        model = Model(result.params, config.activation, config.loss, output_of(config.loss), "multiclass",
                      np.arange(data.n_classes), data.x_divisor, config.grad, config.to_dict())
        folder.save(model, run_metrics, lambda: loss_curve(result.history).figure)
    if train_acc <= chance + CHANCE_MARGIN:
        print(f"jaxann train: warning: training ended at chance level (training accuracy {train_acc:.4f}; always "
              f"answering the commonest class gives {chance:.4f}); lower the learning rate (--lr)", file=sys.stderr)
        return AT_CHANCE
    return 0


def _fit(args, config, data, sizes, folder, resume, say):
    """The training, with its per-epoch log, checkpoints and progress bar; the FitResult of
    a run that did not diverge (TrainingDiverged otherwise)."""
    from jaxann.checkpoint import save_checkpoint
    from jaxann.console import ProgressBar, count
    from jaxann.loop import fit, iteration_line

    bar = ProgressBar(config.epochs, enabled=not args.quiet)

    def after_epoch(progress):
        bar.close()
        k, history = progress.epoch, progress.history
        say(iteration_line(k, history.loss[-1]), flush=True)
        if folder and (k % args.checkpoint_every == 0 or k == config.epochs or history.stopped):
            try:
                save_checkpoint(folder.checkpoint, progress, config, sizes)
            except OSError as e:
                raise JaxannError(f"cannot write {folder.checkpoint}: {e.strerror or e}") from None
        bar.update(k, f"epoch {k}/{config.epochs} loss {history.loss[-1]:.5f} "
                      f"eta {history.seconds[-1] * (config.epochs - k):5.1f}s")
        stop_if_signalled()  # after the checkpoint: the epoch that finished is kept

    try:
        result = fit(config, data.raw_train, data.y_train, n_out=data.n_classes, resume=resume,
                     callback=after_epoch, devices=args.devices, x_divisor=data.x_divisor)
    except FloatingPointError as e:  # raised by --debug-nans
        raise TrainingDiverged(f"--debug-nans: {str(e).splitlines()[0]}") from None
    finally:
        bar.close()
    history = result.history
    if result.diverged:
        kept = (f"; the last finite checkpoint (epoch {result.progress.epoch}) is {folder.checkpoint}"
                if folder and folder.checkpoint.is_file() else "")
        raise TrainingDiverged(f"training diverged: {history.stopped}{kept}; lower the learning rate (--lr)")
    if history.stopped:
        steps = "iteration" if config.optimizer == "lbfgs" else "epoch"
        say(f"Stopped after {count(len(history.loss), steps)}: {history.stopped}")
    elif result.lbfgs is not None:  # a limit reached before convergence, as scikit-learn's ConvergenceWarning
        print(f"jaxann train: warning: L-BFGS stopped after {count(len(history.loss), 'iteration')} without "
              f"converging ({result.lbfgs.message}); allow more with --epochs (now {config.epochs})",
              file=sys.stderr)
    return result


def _run_folder(args, config, sizes, say):
    """(the --out RunFolder or None, the Progress to resume or None): a run in DIR first
    deletes what a killed run left half-written; --resume reads DIR/checkpoint.npz."""
    from jaxann.checkpoint import load_checkpoint
    from jaxann.runs import RunFolder

    if not args.out:
        return None, None
    folder = RunFolder(args.out)
    for leftover in folder.remove_leftovers():
        say(f"Removed {leftover}, left half-written by a run that was killed")
    if not args.resume:
        return folder, None
    if not folder.checkpoint.is_file():
        say(f"No checkpoint in {args.out} yet: starting from epoch 1")
        return folder, None
    resume = load_checkpoint(folder.checkpoint, config, sizes)
    say(f"Resuming from {folder.checkpoint} after epoch {resume.epoch}")
    return folder, resume

"""The `jaxann` command line (also `python -m jaxann`).

Every rejection of bad input is one line on stderr, `jaxann: error: ...`, and exit
status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from jaxann.errors import JaxannError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (what was wrong) and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def int_list(text: str) -> list[int]:
    """'100,50' -> [100, 50]; every entry a positive integer."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of positive integers (e.g. 100,50)"
        )
    return values


def _gradcheck_parser(sub):
    from jaxann.activations import ACTIVATIONS
    from jaxann.losses import LOSSES

    p = sub.add_parser(
        "gradcheck",
        help="backprop vs jax.grad vs finite differences, per layer",
        description="Compare the explicit backprop with jax.grad and central finite "
        "differences on a random network and batch; exit 1 when any relative error "
        "passes its tolerance.",
    )
    p.add_argument("--sizes", type=int_list, default=[4, 5, 3],
                   help="layer sizes n_0,...,n_L (default 4,5,3)")
    p.add_argument("--activation", choices=list(ACTIVATIONS), default="relu")
    p.add_argument("--loss", choices=list(LOSSES), default="cross_entropy")
    p.add_argument("--alpha", type=float, default=1e-4, help="L2 strength (default 1e-4)")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--batch", type=int, default=8, help="rows in the random batch (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=_run_gradcheck)


def _run_gradcheck(args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)  # finite differences in float64
    import jax.numpy as jnp

    from jaxann.gradcheck import gradcheck
    from jaxann.network import init_mlp

    if len(args.sizes) < 2:
        raise JaxannError(f"--sizes {args.sizes} needs at least two layers (inputs, outputs)")
    if args.batch <= 0:
        raise JaxannError(f"--batch {args.batch} must be a positive integer")
    if args.alpha < 0:
        raise JaxannError(f"--alpha {args.alpha} must be >= 0")
    k_init, k_x, k_y = jax.random.split(jax.random.key(args.seed), 3)
    params = init_mlp(k_init, args.sizes, dtype=jnp.dtype(args.dtype))
    x = jax.random.normal(k_x, (args.batch, args.sizes[0]), args.dtype)
    if args.loss == "cross_entropy":
        y = jax.random.randint(k_y, (args.batch,), 0, args.sizes[-1])
    else:
        y = jax.random.normal(k_y, (args.batch, args.sizes[-1]), args.dtype)
    report = gradcheck(params, x, y, args.activation, args.loss, args.alpha)
    if args.json:
        config = {k: getattr(args, k) for k in ("sizes", "activation", "loss", "alpha",
                                                  "dtype", "batch", "seed")}
        print(json.dumps({"config": config} | report.to_dict(), indent=2))
    else:
        print(
            f"gradcheck: sizes {'-'.join(map(str, args.sizes))}, activation {args.activation}, "
            f"loss {args.loss}, alpha {args.alpha:g}, {args.dtype}, batch {args.batch}, "
            f"seed {args.seed}"
        )
        print(report.table())
    return 0 if report.ok else 1


def batch_size(text: str):
    """'200' -> 200, 'full' -> None (full-batch gradient descent)."""
    if text == "full":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer or 'full'")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _add_network_flags(p, sweep: bool = False):
    """The flags `train` and `sweep` share; a sweep takes lists for seed, lr, alpha, momentum."""
    from jaxann.activations import ACTIVATIONS
    from jaxann.data import DATASETS
    from jaxann.losses import LOSSES
    from jaxann.train import GRADS, LR_SCHEDULES, OPTIMIZERS, TrainConfig

    d = TrainConfig()
    p.add_argument("--dataset", choices=DATASETS, default="digits", help="default: digits (offline)")
    p.add_argument("--data-dir", help="folder with the IDX files (else $JAXANN_DATA_DIR, then the cache)")
    p.add_argument("--hidden", type=int_list, default=list(d.hidden), help="hidden sizes, e.g. 100,50 (default 50)")
    p.add_argument("--activation", choices=list(ACTIVATIONS), default=d.activation)
    p.add_argument("--loss", choices=list(LOSSES), default=d.loss)
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer)
    if sweep:
        p.add_argument("--seeds", type=int_list, default=[d.seed], help="e.g. 1,2,3 (default 1)")
        p.add_argument("--lr", type=float_list, default=[d.lr], help="learning rates, e.g. 0.1,0.03")
        p.add_argument("--momentum", type=float_list, default=[d.momentum], help="SGD momenta (default 0.9)")
        p.add_argument("--alpha", type=float_list, default=[d.alpha], help="L2 strengths (default 1e-4)")
    else:
        p.add_argument("--seed", type=int, default=d.seed, help="default 1")
        p.add_argument("--lr", type=float, default=d.lr, help="learning rate (default 0.1)")
        p.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum (default 0.9; 0 = plain SGD)")
        p.add_argument("--alpha", type=float, default=d.alpha, help="L2 strength (default 1e-4)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=d.lr_schedule,
                   help="sgd only, as scikit-learn's learning_rate (default constant)")
    p.add_argument("--power-t", type=float, default=d.power_t, help="exponent of invscaling (default 0.5)")
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov,
                   help="Nesterov momentum (default on)")
    p.add_argument("--batch-size", type=batch_size, default=d.batch_size,
                   help="rows per batch: 1 = online, 'full' = full batch (default 200)")
    p.add_argument("--epochs", type=positive_int, default=d.epochs, help="default 10")
    p.add_argument("--grad", choices=GRADS, default=d.grad, help="gradient source (default autodiff)")
    p.add_argument("--metrics", help="write the metrics as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no per-epoch log, no progress bar")
    add_compile_cache_flag(p)


def _config(args, **swept):
    """The TrainConfig the flags describe (swept values given as keyword arguments)."""
    from jaxann.train import TrainConfig

    values = dict(
        hidden=tuple(args.hidden), activation=args.activation, loss=args.loss, optimizer=args.optimizer,
        lr_schedule=args.lr_schedule, power_t=args.power_t, nesterov=args.nesterov,
        batch_size=args.batch_size, epochs=args.epochs, grad=args.grad,
    )
    for name in ("seed", "lr", "momentum", "alpha", "tol", "n_iter_no_change", "validation_fraction"):
        if hasattr(args, name) and name not in swept:
            values[name] = getattr(args, name)
    return TrainConfig(**values, **swept).validate()


def _train_parser(sub):
    from jaxann.train import TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "train",
        help="train and evaluate a network",
        description="Train a feedforward network and report its training and test accuracy. "
        "The defaults are the lecture's configuration (784-50-10 relu, SGD lr 0.1 with "
        "Nesterov momentum 0.9, alpha 1e-4, batch 200, 10 epochs, seed 1) on digits.",
    )
    _add_network_flags(p)
    p.add_argument("--tol", type=float, default=d.tol, help="stopping tolerance (default 1e-4)")
    p.add_argument("--n-iter-no-change", type=positive_int, default=d.n_iter_no_change,
                   help="epochs without improvement before stopping (default 10)")
    p.add_argument("--validation-fraction", type=float, default=d.validation_fraction,
                   help="share of the training rows held out for early stopping (default 0: none)")
    p.add_argument("--out", help="folder for checkpoint.npz (during training), params.npz, metrics.json "
                   "and loss_curve.png")
    p.add_argument("--checkpoint-every", type=positive_int, default=1,
                   help="with --out: write DIR/checkpoint.npz every N epochs and after the last (default 1)")
    p.add_argument("--resume", action="store_true",
                   help="with --out: continue from DIR/checkpoint.npz (same settings; --epochs may grow)")
    p.add_argument("--debug-nans", action="store_true",
                   help="JAX's NaN checking: stop at the first operation that makes a NaN, and name it")
    p.add_argument("--devices", type=positive_int, default=1,
                   help="data parallelism: split each batch over this many devices (default 1)")
    p.add_argument("--distributed", action="store_true",
                   help="call jax.distributed.initialize() first, so --devices counts every host's devices "
                   "(coordinator from $JAX_COORDINATOR_ADDRESS or the cluster; see the README)")
    p.add_argument("--num-processes", type=positive_int, help="with --distributed: number of processes")
    p.add_argument("--process-id", type=int, help="with --distributed: this process's index")
    p.set_defaults(run=_run_train)


def float_list(text: str) -> list[float]:
    """'0.1,0.03' -> [0.1, 0.03]; every entry a finite number."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers (e.g. 0.1,0.03)")
    return values


class _ProgressBar:
    """One line on stderr, redrawn after each epoch: only on a terminal."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled

    def update(self, k: int, loss: float, seconds: float):
        if not self.enabled:
            return
        width = 30
        done = int(width * k / self.total)
        eta = seconds * (self.total - k)
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] epoch {k}/{self.total} "
                         f"loss {loss:.5f} eta {eta:5.1f}s ")
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


def add_compile_cache_flag(p):
    p.add_argument("--compile-cache", action=argparse.BooleanOptionalAction, default=True,
                   help="keep compiled programs on disk so a second run skips compilation "
                   "(default on; also off with JAXANN_COMPILE_CACHE=0)")


def setup_compile_cache(enabled: bool) -> str | None:
    """Turn on JAX's persistent compilation cache (before anything compiles); its folder.

    Folder: $JAXANN_COMPILE_CACHE when it names one, else <cache>/xla (the data cache's
    root, $JAXANN_CACHE_DIR or ~/.cache/jaxann). JAXANN_COMPILE_CACHE=0 turns it off. The
    size and time thresholds are lowered to 0: jaxann's programs are small and compile in
    well under JAX's default 1 s threshold, which would otherwise skip them all.
    """
    import os

    import jax

    from jaxann.data import cache_dir

    setting = os.environ.get("JAXANN_COMPILE_CACHE", "")
    if not enabled or setting.lower() in ("0", "off", "false", "no"):
        return None
    folder = setting or str(cache_dir() / "xla")
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def _run_train(args) -> int:
    from dataclasses import asdict

    from jaxann.data import load
    from jaxann.train import accuracy, device_name, fit

    config = _config(args)
    if args.distributed or args.num_processes is not None or args.process_id is not None:
        import jax

        jax.distributed.initialize(num_processes=args.num_processes, process_id=args.process_id)
    setup_compile_cache(args.compile_cache)
    data = load(args.dataset, args.data_dir)
    sizes = [data.x_train.shape[1], *config.hidden, data.n_classes]
    if not args.quiet:
        print(f"jaxann train: {data.name} ({len(data.x_train)} train / {len(data.x_test)} test rows, "
              f"{data.source}); network {'-'.join(map(str, sizes))} {config.activation}, "
              f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size or 'full'}, "
              f"grad {config.grad}; {device_name()}")
    from pathlib import Path

    from jaxann.checkpoint import load_checkpoint, remove_leftovers, save_checkpoint

    if args.resume and not args.out:
        raise JaxannError("--resume needs --out DIR, the folder whose checkpoint.npz it continues")
    if args.debug_nans:
        import jax

        jax.config.update("jax_debug_nans", True)
    checkpoint = Path(args.out) / "checkpoint.npz" if args.out else None
    resume = None
    if checkpoint:  # a run killed while writing one of its files leaves a temporary beside it
        for name in ("checkpoint.npz", "params.npz", "metrics.json"):
            for leftover in remove_leftovers(checkpoint.parent / name):
                if not args.quiet:
                    print(f"Removed {leftover}, left half-written by a run that was killed")
    if args.resume:
        if checkpoint.is_file():
            resume = load_checkpoint(checkpoint, config, sizes)
            if not args.quiet:
                print(f"Resuming from {checkpoint} after epoch {resume.epoch}")
        elif not args.quiet:
            print(f"No checkpoint in {args.out} yet: starting from epoch 1")
    bar = _ProgressBar(config.epochs, enabled=not args.quiet and sys.stderr.isatty())

    def log(progress):
        bar.close()
        k, history = progress.epoch, progress.history
        if not args.quiet:
            print(f"Iteration {k}, loss = {history.loss[-1]:.8f}", flush=True)
        if checkpoint and (k % args.checkpoint_every == 0 or k == config.epochs or history.stopped):
            try:
                save_checkpoint(checkpoint, progress, config, sizes)
            except OSError as e:
                raise JaxannError(f"cannot write {checkpoint}: {e.strerror or e}") from None
        bar.update(k, history.loss[-1], history.seconds[-1])

    try:
        result = fit(config, data.x_train, data.y_train, n_out=data.n_classes, resume=resume, callback=log,
                     devices=args.devices)
    except FloatingPointError as e:  # raised by --debug-nans
        raise TrainingDiverged(f"--debug-nans: {str(e).splitlines()[0]}") from None
    finally:
        bar.close()
    history = result.history
    if result.diverged:
        kept = (f"; the last finite checkpoint (epoch {result.progress.epoch}) is {checkpoint}"
                if checkpoint and checkpoint.is_file() else "")
        raise TrainingDiverged(f"training diverged: {history.stopped}{kept}; lower the learning rate (--lr)")
    if history.stopped and not args.quiet:
        print(f"Stopped after {len(history.loss)} epochs: {history.stopped}")
    train_acc = accuracy(result.params, data.x_train, data.y_train, config.activation)
    test_acc = accuracy(result.params, data.x_test, data.y_test, config.activation)
    print(f"Training set score: {train_acc:f}")
    print(f"Test set score: {test_acc:f}")
    metrics = {
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "loss_curve": history.loss,
        "fit_seconds": result.fit_seconds,
        "compile_seconds": result.compile_seconds,
        "device": device_name(),
        "devices": args.devices,
        "config": asdict(config) | {"hidden": list(config.hidden)},
        "dataset": {"name": data.name, "source": data.source, "n_train": len(data.x_train),
                    "n_test": len(data.x_test), "sizes": sizes},
        "n_iter": len(history.loss),
        "history": history.to_dict(),
    }
    if args.metrics:
        _write_json(args.metrics, metrics)
    if args.out:
        _save_run(args.out, result, metrics)
    return 0


class TrainingDiverged(Exception):
    """Training produced a non-finite loss (exit status 1, not a usage error)."""


def _write_json(path, obj):
    from jaxann.checkpoint import atomic_write

    try:
        atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2).encode()))
    except OSError as e:
        raise JaxannError(f"cannot write {path}: {e.strerror or e}") from None


def _save_run(out, result, metrics):
    from pathlib import Path

    from jaxann.checkpoint import save_params
    from jaxann.plots import loss_curve

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        save_params(out / "params.npz", result.params)
    except OSError as e:
        raise JaxannError(f"cannot write to {out}: {e.strerror or e}") from None
    _write_json(out / "metrics.json", metrics)
    _save_figure(out / "loss_curve.png", lambda: loss_curve(result.history).figure)


def _sweep_parser(sub):
    p = sub.add_parser(
        "sweep",
        help="train a grid of models (seeds x lr x alpha x momentum) as one program",
        description="Train every combination of --seeds, --lr, --alpha and --momentum at once: the "
        "training step vmapped over the models, one compilation for the grid. Each model equals "
        "`jaxann train` with its settings, to rounding. Every model trains all --epochs (no early stopping).",
    )
    _add_network_flags(p, sweep=True)
    p.add_argument("--plot", help="save the models' loss curves to this PNG")
    p.set_defaults(run=_run_sweep)


def _run_sweep(args) -> int:
    from dataclasses import asdict

    from jaxann.data import load
    from jaxann.sweep import accuracies, fit_many, member_settings
    from jaxann.train import device_name

    config = _config(args, seed=args.seeds[0], lr=args.lr[0], momentum=args.momentum[0], alpha=args.alpha[0])
    setup_compile_cache(args.compile_cache)
    data = load(args.dataset, args.data_dir)
    sizes = [data.x_train.shape[1], *config.hidden, data.n_classes]
    K = len(args.seeds) * len(args.lr) * len(args.alpha) * len(args.momentum)
    if not args.quiet:
        print(f"jaxann sweep: {K} models of {'-'.join(map(str, sizes))} {config.activation} on {data.name}, "
              f"{config.epochs} epochs; {device_name()}")

    def log(k, losses):
        if not args.quiet:
            print(f"Iteration {k}, loss = {min(losses):.8f} .. {max(losses):.8f} over {len(losses)} models",
                  flush=True)

    result = fit_many(config, data.x_train, data.y_train, n_out=data.n_classes, seeds=args.seeds, lr=args.lr,
                      alpha=args.alpha, momentum=args.momentum, callback=log)
    train_acc = accuracies(result, data.x_train, data.y_train, config.activation)
    test_acc = accuracies(result, data.x_test, data.y_test, config.activation)
    print(f"| {'model':>5} | {'seed':>5} | {'lr':>8} | {'alpha':>8} | {'momentum':>8} | {'final loss':>10} | "
          f"{'train acc':>9} | {'test acc':>8} |")
    print(f"| {'-' * 5} | {'-' * 5} | {'-' * 8} | {'-' * 8} | {'-' * 8} | {'-' * 10} | {'-' * 9} | {'-' * 8} |")
    entries = []
    for i, (member, history) in enumerate(zip(result.configs, result.histories)):
        print(f"| {i:>5} | {member.seed:>5} | {member.lr:>8g} | {member.alpha:>8g} | {member.momentum:>8g} | "
              f"{history.loss[-1]:>10.6f} | {train_acc[i]:>9.4f} | {test_acc[i]:>8.4f} |")
        entries.append(member_settings(member) | {
            "train_accuracy": train_acc[i], "test_accuracy": test_acc[i], "loss_curve": history.loss,
            "fit_seconds": result.fit_seconds, "compile_seconds": result.compile_seconds,
            "device": device_name(), "config": asdict(member) | {"hidden": list(member.hidden)},
            "history": history.to_dict(), "models_in_program": K,
        })
    if not args.quiet:
        print(f"{K} models trained in {result.fit_seconds:.2f} s (compiled in {result.compile_seconds:.2f} s)")
    if args.metrics:
        _write_json(args.metrics, entries)
    if args.plot:
        _save_figure(args.plot, lambda: _sweep_figure(result))
    return 0


def _sweep_figure(result):
    from jaxann.plots import loss_curve

    ax = None
    for member, history in zip(result.configs, result.histories):
        ax = loss_curve(history, ax=ax, label=f"seed {member.seed}, lr {member.lr:g}, alpha {member.alpha:g}, "
                                               f"momentum {member.momentum:g}")
    ax.set_title(f"Loss curves of {len(result.configs)} models trained as one program")
    return ax.figure


def _save_figure(path, draw):
    """Draw a figure (under the Agg backend) and save it to path as PNG; errors as JaxannError."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = draw()
    try:
        fig.savefig(path, dpi=100)
    except OSError as e:
        raise JaxannError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        plt.close(fig)


FIGURES = ("activations", "universal", "batching", "backprop", "mnist", "perceptron", "history")


def _plot_parser(sub):
    p = sub.add_parser(
        "plot",
        help="draw one of the lecture's figures",
        description="Draw one figure into a PNG: activations (h and h', analytic and central "
        "difference), universal (one hidden layer of growing width fitting 1-D functions), "
        "batching (online vs mini-batch vs full batch), backprop (autodiff vs explicit backprop), "
        "mnist (weights, confusion matrix, mistakes; digits when MNIST is absent), perceptron "
        "(the perceptron rule vs gradient descent through the step), history (a saved run).",
    )
    p.add_argument("name", choices=FIGURES)
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--seed", type=int, default=0, help="default 0")
    p.add_argument("--epochs", type=positive_int, help="training epochs (default: the figure's own)")
    p.add_argument("--widths", type=int_list, default=[1, 2, 4, 8, 16, 64], help="universal: hidden widths")
    p.add_argument("--hidden", type=int_list, help="batching, backprop, mnist: hidden sizes")
    p.add_argument("--dataset", choices=("auto", "digits", "mnist", "fashion-mnist"), default="auto",
                   help="batching, backprop, mnist: data set (default auto: mnist for the mnist figure "
                   "when its files are found, digits otherwise)")
    p.add_argument("--data-dir", help="folder with the IDX files")
    p.add_argument("--run-dir", help="history: the folder a `jaxann train --out DIR` run wrote")
    p.add_argument("--points", type=positive_int, default=60, help="perceptron: number of 2-D points")
    p.set_defaults(run=_run_plot)


def _run_plot(args) -> int:
    import numpy as np

    from jaxann import experiments, plots
    from jaxann.data import find_files, load

    def dataset():
        name = args.dataset
        if name == "auto":
            name = "mnist" if args.name == "mnist" and find_files("mnist", args.data_dir) else "digits"
        return load(name, args.data_dir)

    def figure_of(axes):
        return np.ravel(axes)[0].figure

    if args.name == "activations":
        draw = lambda: figure_of(plots.activations())  # noqa: E731
    elif args.name == "universal":
        result = experiments.universal_approximation(args.widths, epochs=args.epochs or 2000, seed=args.seed)
        print(f"{'target':<16} " + " ".join(f"{w:>9}" for w in args.widths) + "   (final MSE per width)")
        for name, errors in result["errors"].items():
            print(f"{name:<16} " + " ".join(f"{errors[w]:>9.2e}" for w in args.widths))
        draw = lambda: figure_of(plots.universal(result))  # noqa: E731
    elif args.name == "batching":
        result = experiments.batching(dataset(), epochs=args.epochs or 10, seed=args.seed,
                                      hidden=args.hidden or (30,))
        draw = lambda: figure_of(plots.batching(result))  # noqa: E731
    elif args.name == "backprop":
        result = experiments.autodiff_vs_backprop(dataset(), epochs=args.epochs or 10, seed=args.seed,
                                                  hidden=args.hidden or (30,))
        print("largest parameter difference per epoch: " +
              ", ".join(f"{d:.1e}" for d in result["max_param_difference"]))
        draw = lambda: figure_of(plots.autodiff_vs_backprop(result))  # noqa: E731
    elif args.name == "mnist":
        from jaxann.train import TrainConfig, fit

        data = dataset()
        config = TrainConfig(hidden=tuple(args.hidden or (50,)), epochs=args.epochs or 10, seed=args.seed)
        result = fit(config, data.x_train, data.y_train, n_out=data.n_classes)
        draw = lambda: plots.mnist_panels(result.params, data)  # noqa: E731
    elif args.name == "perceptron":
        result = experiments.perceptron(n=args.points, epochs=args.epochs or 20, seed=args.seed)
        print(f"perceptron rule: {result['errors'][0]} -> {result['errors'][-1]} misclassified; "
              f"gradient descent through the step: {result['gd_errors'][0]} -> {result['gd_errors'][-1]}")
        draw = lambda: figure_of(plots.perceptron(result))  # noqa: E731
    else:
        from pathlib import Path

        if not args.run_dir:
            raise JaxannError("the history figure needs --run-dir DIR, a folder written by `jaxann train --out DIR`")
        path = Path(args.run_dir) / "metrics.json"
        try:
            metrics = json.loads(path.read_text())
            metrics["history"]["loss"], metrics["config"]["lr"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise JaxannError(f"{path}: not the metrics of a `jaxann train --out` run ({e})") from None
        draw = lambda: figure_of(plots.history(metrics))  # noqa: E731
    _save_figure(args.out, draw)
    print(f"wrote {args.out}")
    return 0


def _bench_parser(sub):
    from jaxann.bench import SYSTEMS
    from jaxann.data import DATASETS
    from jaxann.train import TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "bench",
        help="time jaxann against scikit-learn and PyTorch, side by side",
        description="Train the same network on the same data with jaxann (autodiff and backprop), "
        "scikit-learn and PyTorch (when installed) and print one table. The default is the "
        "lecture's configuration on MNIST when its files are found, else on digits.",
    )
    p.add_argument("--dataset", choices=("auto", *DATASETS), default="auto",
                   help="default auto: mnist when its files are found (--data-dir, $JAXANN_DATA_DIR, "
                   "the cache), else digits")
    p.add_argument("--data-dir", help="folder with the IDX files")
    p.add_argument("--hidden", type=int_list, default=list(d.hidden), help="hidden sizes (default 50)")
    p.add_argument("--batch-size", type=batch_size, default=d.batch_size, help="default 200")
    p.add_argument("--epochs", type=positive_int, default=d.epochs, help="default 10")
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate (default 0.1)")
    p.add_argument("--repeat", type=positive_int, default=1, help="runs per system; the median is shown")
    p.add_argument("--systems", type=_systems, default=list(SYSTEMS),
                   help=f"comma-separated subset of {','.join(SYSTEMS)}")
    p.add_argument("--models", type=positive_int, default=1,
                   help="K > 1: also time K models vmapped in one program against K trained in turn")
    p.add_argument("--devices", type=positive_int, default=1,
                   help="N > 1: also time data-parallel training over N devices against one")
    p.add_argument("--json", help="also write the report as JSON to this file")
    p.set_defaults(run=_run_bench)


def _systems(text: str) -> list[str]:
    from jaxann.bench import SYSTEMS

    chosen = text.split(",")
    unknown = [s for s in chosen if s not in SYSTEMS]
    if unknown or not text:
        raise argparse.ArgumentTypeError(f"unknown system(s) {unknown}; expected some of {','.join(SYSTEMS)}")
    return chosen


def _run_bench(args) -> int:
    from jaxann import bench
    from jaxann.data import find_files, load
    from jaxann.train import TrainConfig

    config = TrainConfig(hidden=tuple(args.hidden), batch_size=args.batch_size, epochs=args.epochs,
                         lr=args.lr).validate()
    name = args.dataset
    if name == "auto":
        name = "mnist" if find_files("mnist", args.data_dir) else "digits"
        print(f"jaxann bench: using {name}" + ("" if name == "mnist" else
              " (MNIST files not found in --data-dir, $JAXANN_DATA_DIR or the cache)"), flush=True)
    data = load(name, args.data_dir)
    report = bench.run(data, config, args.systems, args.repeat,
                       progress=lambda s: print(f"  running {s} ...", file=sys.stderr, flush=True),
                       models=args.models, devices=args.devices)
    print(bench.table(report))
    if args.json:
        _write_json(args.json, report)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxann", description="Feedforward neural networks in JAX.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _train_parser(sub)
    _sweep_parser(sub)
    _plot_parser(sub)
    _gradcheck_parser(sub)
    _bench_parser(sub)
    return parser


def main(argv=None) -> int:
    import signal
    import threading

    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.run(args)
    except JaxannError as e:
        print(f"jaxann: error: {e}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"jaxann: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("jaxann: interrupted" + _resume_hint(args), file=sys.stderr)
        return 130
    except Terminated:
        print("jaxann: terminated" + _resume_hint(args), file=sys.stderr)
        return 143


class Terminated(Exception):
    """SIGTERM arrived (raised by the handler `main` installs)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _resume_hint(args) -> str:
    return f"; continue with --out {args.out} --resume" if getattr(args, "out", None) else ""

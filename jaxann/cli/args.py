"""Argument types and the flags several commands share; the compile-cache switch."""

from __future__ import annotations

import argparse
import math


def int_list(text: str) -> list[int]:
    """'100,50' -> [100, 50]; every entry a positive integer."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of positive integers (e.g. 100,50)")
    return values


def float_list(text: str) -> list[float]:
    """'0.1,0.03' -> [0.1, 0.03]; every entry a finite number."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers (e.g. 0.1,0.03)")
    return values


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def batch_size(text: str):
    """'200' -> 200, 'full' -> None (full-batch gradient descent)."""
    if text == "full":
        return None
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer or 'full'") from None


# the numeric settings a sweep takes as comma-separated lists: flag -> (TrainConfig field, type)
SWEEP_AXES = {
    "--seeds": ("seed", "int"), "--lr": ("lr", "float"), "--momentum": ("momentum", "float"),
    "--alpha": ("alpha", "float"), "--beta1": ("beta1", "float"), "--beta2": ("beta2", "float"),
    "--epsilon": ("epsilon", "float"), "--power-t": ("power_t", "float"), "--tol": ("tol", "float"),
    "--n-iter-no-change": ("n_iter_no_change", "int"), "--feedback-scale": ("feedback_scale", "float"),
}


def add_network_flags(p, sweep: bool = False):
    """The flags `train` and `sweep` share; a sweep takes lists for its numeric settings
    (SWEEP_AXES), several architectures and several batch sizes."""
    from jaxann.activations import ACTIVATIONS
    from jaxann.config import GRADS, LR_SCHEDULES, OPTIMIZERS, TrainConfig
    from jaxann.data import DATASETS
    from jaxann.losses import LOSSES

    d = TrainConfig()
    p.add_argument("--dataset", choices=DATASETS, default="digits", help="default: digits (offline)")
    p.add_argument("--data-dir", help="folder with the IDX files (else $JAXANN_DATA_DIR, then the cache)")
    if sweep:
        p.add_argument("--hidden", type=int_list, nargs="+", default=[list(d.hidden)],
                       help="architectures, each hidden sizes, e.g. --hidden 50 100 100,50 (default 50)")
    else:
        p.add_argument("--hidden", type=int_list, default=list(d.hidden), help="hidden sizes, e.g. 100,50 (default 50)")
    p.add_argument("--activation", choices=list(ACTIVATIONS), default=d.activation)
    p.add_argument("--loss", choices=list(LOSSES), default=d.loss)
    # L-BFGS trains one model on all the data: `train` only
    p.add_argument("--optimizer", choices=[o for o in OPTIMIZERS if not (sweep and o == "lbfgs")],
                   default=d.optimizer, help="lbfgs: full-batch L-BFGS, --epochs its most iterations")
    if sweep:
        for flag, (name, kind) in SWEEP_AXES.items():
            default = getattr(d, name)
            p.add_argument(flag, type=int_list if kind == "int" else float_list, default=[default], dest=name,
                           help=f"{name} values, comma-separated (default {default:g})")
        p.add_argument("--batch-size", type=batch_sizes, default=[d.batch_size],
                       help="rows per batch, comma-separated: 1 = online, 'full' = full batch (default 200)")
    else:
        p.add_argument("--seed", type=int, default=d.seed, help="default 1")
        p.add_argument("--lr", type=float, default=d.lr, help="learning rate (default 0.1)")
        p.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum (default 0.9; 0 = plain SGD)")
        p.add_argument("--alpha", type=float, default=d.alpha, help="L2 strength (default 1e-4)")
        p.add_argument("--power-t", type=float, default=d.power_t, help="exponent of invscaling (default 0.5)")
        p.add_argument("--batch-size", type=batch_size, default=d.batch_size,
                       help="rows per batch: 1 = online, 'full' = full batch (default 200)")
        p.add_argument("--feedback-scale", type=float, default=d.feedback_scale,
                       help="learning rules: scale of the feedback's entries (default 1: the Glorot "
                       "bound of each matrix's shape; its standard deviation for sign_symmetry)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=d.lr_schedule,
                   help="sgd only, as scikit-learn's learning_rate (default constant)")
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov,
                   help="Nesterov momentum (default on)")
    p.add_argument("--epochs", type=positive_int, default=d.epochs, help="default 10")
    p.add_argument("--grad", choices=GRADS, default=d.grad,
                   help="gradient source or learning rule (default autodiff; feedback_alignment, "
                   "direct_feedback_alignment and the sign_symmetry rules send the error back through other "
                   "matrices)")
    p.add_argument("--alignment", action="store_true",
                   help="record each layer's angle between the update and the true gradient per epoch")
    p.add_argument("--metrics", help="write the metrics as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no per-epoch log, no progress bar")
    add_compile_cache_flag(p)


def add_device_flags(p, what: str):
    """--devices and the jax.distributed flags (`train`: data parallelism; `sweep`: models)."""
    p.add_argument("--devices", type=positive_int, default=1, help=f"{what} (default 1)")
    p.add_argument("--distributed", action="store_true",
                   help="call jax.distributed.initialize() first, so --devices counts every host's devices "
                   "(coordinator from $JAX_COORDINATOR_ADDRESS or the cluster; see the README)")
    p.add_argument("--num-processes", type=positive_int, help="with --distributed: number of processes")
    p.add_argument("--process-id", type=int, help="with --distributed: this process's index")


def start_distributed(args) -> None:
    """jax.distributed.initialize() when the flags ask for it."""
    if args.distributed or args.num_processes is not None or args.process_id is not None:
        import jax

        jax.distributed.initialize(num_processes=args.num_processes, process_id=args.process_id)


def add_stopping_flags(p, sweep: bool = False):
    """The stopping rule's flags (a sweep's tol and n_iter_no_change are SWEEP_AXES)."""
    from jaxann.config import TrainConfig

    d = TrainConfig()
    if not sweep:
        p.add_argument("--tol", type=float, default=d.tol, help="stopping tolerance (default 1e-4)")
        p.add_argument("--n-iter-no-change", type=positive_int, default=d.n_iter_no_change,
                       help="epochs without improvement before stopping (default 10)")
    p.add_argument("--validation-fraction", type=float, default=d.validation_fraction,
                   help="share of the training rows held out for early stopping on the validation score, "
                   "the best epoch's parameters kept (default 0: none; stop on the training loss)")


def batch_sizes(text: str) -> list:
    """'100,200,full' -> [100, 200, None]."""
    try:
        return [batch_size(v) for v in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of batch sizes "
                                         "(positive integers or 'full')") from None


def config_from(args, **swept):
    """The TrainConfig the flags describe (a sweep's swept values given as keyword arguments)."""
    from dataclasses import fields

    from jaxann.config import TrainConfig

    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
              if hasattr(args, f.name) and f.name not in swept}
    if "hidden" not in swept:
        values["hidden"] = tuple(args.hidden)
    return TrainConfig(**values, **swept).validate()


def add_compile_cache_flag(p):
    p.add_argument("--compile-cache", action=argparse.BooleanOptionalAction, default=True,
                   help="keep compiled programs on disk so a second run skips compilation "
                   "(default on, unless jax_compilation_cache_dir is set; also off with JAXANN_COMPILE_CACHE=0)")

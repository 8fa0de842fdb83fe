"""Argument types and the flags several commands share; the compile-cache switch."""

from __future__ import annotations

import argparse
import math

from jaxann.errors import JaxannError


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


def choice_list(choices, every: str = "all"):
    """An argument type: 'a,b' -> ["a", "b"], each one of `choices`; `every` -> all of them."""
    def parse(text: str) -> list[str]:
        values = list(choices) if text == every else text.split(",")
        if not values or any(v not in choices for v in values):
            raise argparse.ArgumentTypeError(f"{text!r} is not {every!r} or a comma-separated list of: "
                                             + ", ".join(choices))
        return list(dict.fromkeys(values))

    return parse


def activation(text: str):
    """'relu' -> 'relu' (every hidden layer), 'relu,tanh' -> ('relu', 'tanh') (one per
    hidden layer); every name one of jaxann's activations."""
    from jaxann.cli.choices import ACTIVATIONS

    names = text.split(",")
    unknown = [name for name in names if name not in ACTIVATIONS]
    if unknown:
        # argparse's own wording for a bad choice, so the parser suggests the closest name
        raise argparse.ArgumentTypeError(f"one activation, or one per hidden layer joined by commas (e.g. relu,tanh); "
                                         f"invalid choice: {unknown[0]!r} (choose from "
                                         f"{', '.join(map(repr, ACTIVATIONS))})")
    return names[0] if len(names) == 1 else tuple(names)


def _positive(text: str, kind, noun: str):
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive {noun}")
    return value


def positive_float(text: str) -> float:
    return _positive(text, float, "number")


def positive_int(text: str) -> int:
    return _positive(text, int, "integer")


def class_weight(text: str):
    """'balanced', 'none' or '0=2,1=0.5' -> a TrainConfig class_weight."""
    from jaxann.config import parse_class_weight

    try:
        return parse_class_weight(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def dropout(text: str):
    """'0.2' -> 0.2 (every hidden layer), '0.2,0.1' -> (0.2, 0.1) (one per hidden layer)."""
    from jaxann.config import parse_dropout

    try:
        return parse_dropout(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
    "--dropout": ("dropout", "float"),
}


# L-BFGS's most iterations unless --epochs says: scikit-learn's max_iter, not SGD's 10 epochs
# (10 iterations leave L-BFGS far from converged)
LBFGS_MAX_ITER = 200


def add_network_flags(p, sweep: bool = False, tune: bool = False):
    """The flags `train`, `sweep` and `tune` share; a sweep takes lists for its numeric
    settings (SWEEP_AXES), several architectures and several batch sizes; a study takes a
    search space for each (`jaxann.tune.space`: LOW:HIGH[:log], choices, or one value)."""
    from jaxann.cli.choices import ACTIVATIONS, DATASETS, GRADS, LOSSES
    from jaxann.config import LR_SCHEDULES, OPTIMIZERS, TrainConfig

    d = TrainConfig()
    p.add_argument("--dataset", choices=DATASETS, help="default: digits (offline)")
    p.add_argument("--data-dir", help="with --dataset mnist or fashion-mnist: folder with the IDX files "
                   "(else $JAXANN_DATA_DIR, then the cache)")
    if tune:
        p.add_argument("--hidden", metavar="SPACE", help="architectures to choose from, layers joined by '-', "
                       "e.g. 32,64,128 or 100-50,200 (default 50)")
    elif sweep:
        p.add_argument("--hidden", type=int_list, nargs="+", default=[list(d.hidden)],
                       help="architectures, each hidden sizes, e.g. --hidden 50 100 100,50 (default 50)")
    else:
        p.add_argument("--hidden", type=int_list, default=list(d.hidden), help="hidden sizes, e.g. 100,50 (default 50)")
    p.add_argument("--activation", type=activation, default=d.activation, metavar="NAME[,NAME...]",
                   help=f"the hidden layers' activation, or one per hidden layer, e.g. relu,tanh: "
                   f"{', '.join(ACTIVATIONS)} (default {d.activation})")
    p.add_argument("--loss", choices=list(LOSSES), default=d.loss)
    if not tune:
        p.add_argument("--class-weight", type=class_weight, nargs="+" if sweep else None,
                       default=[d.class_weight] if sweep else d.class_weight, metavar="WEIGHTS",
                       help="each class's weight in the cost, times the rows' weights: 'balanced' (n / (k n_c)), "
                       "LABEL=WEIGHT pairs such as 0=2,1=0.5 (others 1) or 'none' (default)"
                       + ("; several values: one model each" if sweep else ""))
    # L-BFGS trains one model on all the data: `train` only
    p.add_argument("--optimizer", choices=[o for o in OPTIMIZERS if not ((sweep or tune) and o == "lbfgs")],
                   default=d.optimizer, help="lbfgs: full-batch L-BFGS, --epochs its most iterations "
                   f"(default {LBFGS_MAX_ITER})")
    if tune:
        axes = {**SWEEP_AXES, "--seeds": ("seed", "int"), "--batch-size": ("batch_size", "int")}
        for flag, (name, kind) in axes.items():
            p.add_argument("--seed" if name == "seed" else flag, dest=name, metavar="SPACE",
                           help=f"{name}: LOW:HIGH, LOW:HIGH:log, a,b,c or one value (default {getattr(d, name)})")
    elif sweep:
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
        p.add_argument("--dropout", type=dropout, default=d.dropout, metavar="RATES",
                       help="inverted dropout on the hidden units while training (sgd, adam): a rate in [0, 1) "
                       "for every hidden layer, or one per hidden layer, e.g. 0.2,0.1 (default 0: none)")
    p.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=d.lr_schedule,
                   help="sgd only, as scikit-learn's learning_rate (default constant)")
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov,
                   help="Nesterov momentum (default on)")
    p.add_argument("--epochs", type=positive_int,
                   help=f"default {d.epochs}" + ("" if sweep else f"; with --optimizer lbfgs the most iterations, "
                                                  f"default {LBFGS_MAX_ITER} (scikit-learn's max_iter)"))
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


def dataset_of(args) -> str:
    """The data set the flags name: --dataset, else digits. --data-dir alone is refused:
    MNIST's and Fashion-MNIST's IDX files have the same names, so the folder cannot say."""
    if args.dataset is None and args.data_dir:
        raise JaxannError(f"--data-dir {args.data_dir} needs --dataset mnist or --dataset fashion-mnist (the IDX "
                          "files do not say which; without --dataset, digits is used and needs no folder)")
    return args.dataset or "digits"


def warn_large_batches(prog: str, batch_sizes, n: int, validation_fraction: float) -> None:
    """One warning line per batch size larger than the training rows (n less the validation
    share, as `train_test_split` holds it out): such a batch is all the rows, as
    scikit-learn clips it (and warns)."""
    import sys

    rows = n - math.ceil(validation_fraction * n) if validation_fraction > 0 else n
    for b in sorted({b for b in batch_sizes if b is not None and b > rows}):
        print(f"{prog}: warning: batch size {b} is larger than the {rows} training rows; each batch is all "
              f"{rows} (clipped, as scikit-learn does)", file=sys.stderr)


def config_from(args, **swept):
    """The TrainConfig the flags describe (a sweep's swept values given as keyword arguments)."""
    from dataclasses import fields

    from jaxann.config import TrainConfig

    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)
              if hasattr(args, f.name) and f.name not in swept}
    if values.get("epochs", 0) is None:  # --epochs not given
        values["epochs"] = LBFGS_MAX_ITER if values.get("optimizer") == "lbfgs" else TrainConfig.epochs
    if "hidden" not in swept:
        values["hidden"] = tuple(args.hidden)
    return TrainConfig(**values, **swept).validate()


def add_compile_cache_flag(p):
    p.add_argument("--compile-cache", action=argparse.BooleanOptionalAction, default=True,
                   help="keep compiled programs on disk so a second run skips compilation "
                   "(default on, unless jax_compilation_cache_dir is set; also off with JAXANN_COMPILE_CACHE=0)")

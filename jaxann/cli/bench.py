"""`jaxann bench`: training systems timed side by side, printed as one table."""

from __future__ import annotations

import argparse
import sys

from jaxann.cli.args import batch_size, config_from, int_list, positive_int


def add_arguments(p):
    from jaxann.cli.choices import DATASETS
    from jaxann.config import TrainConfig

    d = TrainConfig()
    p.description = ("Train the same network on the same data with each system and print one table: "
        "jaxann with autodiff and with backprop (and scikit-learn and PyTorch when run as "
        "`python benchmarks/bench.py` from the source checkout). The default is the lecture's "
        "configuration on MNIST when its files are found, else on digits.")
    p.add_argument("--dataset", choices=("auto", *DATASETS), default="auto",
                   help="default auto: mnist when its files are found (--data-dir, $JAXANN_DATA_DIR, "
                   "the cache), else digits")
    p.add_argument("--data-dir", help="folder with the IDX files")
    p.add_argument("--hidden", type=int_list, default=list(d.hidden), help="hidden sizes (default 50)")
    p.add_argument("--batch-size", type=batch_size, default=d.batch_size, help="default 200")
    p.add_argument("--epochs", type=positive_int, default=d.epochs, help="default 10")
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate (default 0.1)")
    p.add_argument("--repeat", type=positive_int, default=1, help="runs per system; the median is shown")
    p.add_argument("--systems", type=_systems, default=list(systems(everything=False)),
                   help=f"comma-separated, of {','.join(systems())} (default {','.join(systems(everything=False))})")
    p.add_argument("--models", type=positive_int, default=1,
                   help="K > 1: also time K models vmapped in one program against K trained in turn")
    p.add_argument("--devices", type=positive_int, default=1,
                   help="N > 1: also time data-parallel training over N devices against one")
    p.add_argument("--json", help="also write the report as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def systems(everything: bool = True) -> tuple:
    """`jaxann.bench.systems()` once that module is loaded (benchmarks/bench.py loads it and
    registers other libraries' runners first); before, jaxann's own systems, named from
    `jaxann.cli.choices` so that --help imports no JAX."""
    bench = sys.modules.get("jaxann.bench")
    if bench is not None:
        return bench.systems(everything)
    from jaxann.cli.choices import GRADS

    own = ("jaxann-autodiff", "jaxann-backprop")  # jaxann.bench.JAXANN_SYSTEMS
    return (*own, *(f"jaxann-{g}" for g in GRADS if everything and f"jaxann-{g}" not in own))


def _systems(text: str) -> list[str]:
    chosen = text.split(",")
    unknown = [s for s in chosen if s not in systems()]
    if unknown or not text:
        raise argparse.ArgumentTypeError(f"unknown system(s) {unknown}; expected some of {','.join(systems())}")
    return chosen


def run(args) -> int:
    from jaxann import bench
    from jaxann.program_store import use_program_store
    from jaxann.console import ProgressBar
    from jaxann.data import load, mnist_if_found
    from jaxann.runs import write_json

    config = config_from(args)
    use_program_store(False)  # compile cold on every repeat: the table's compile seconds
    name = args.dataset
    if name == "auto":
        name, fallback = mnist_if_found(args.data_dir)
        if fallback:
            print(f"jaxann bench: {fallback}", flush=True)
    data = load(name, args.data_dir)
    bar = ProgressBar(1, enabled=not args.quiet, label="jaxann bench")
    report = bench.run(data, config, args.systems, args.repeat, progress=bar, models=args.models,
                       devices=args.devices)
    bar.close()
    print(bench.table(report))
    if args.json:
        write_json(args.json, report)
    return 0

"""`jaxann plot NAME`: one of the lecture's figures, computed by `jaxann.experiments`."""

from __future__ import annotations

import inspect

from jaxann.cli.args import int_list, positive_int
from jaxann.errors import JaxannError

FIGURES = ("activations", "universal", "batching", "backprop", "mnist", "perceptron", "learning-rules", "history")


def add_arguments(p):
    p.description = ("Draw one figure into a PNG: activations (h and h', analytic and central "
        "difference), universal (one hidden layer of growing width fitting 1-D functions), "
        "batching (online vs mini-batch vs full batch), backprop (autodiff vs explicit backprop), "
        "mnist (weights, confusion matrix, mistakes; digits when MNIST is absent), perceptron "
        "(the perceptron rule vs gradient descent through the step), learning-rules (backprop vs "
        "feedback alignment, direct feedback alignment and sign symmetry: test accuracy and each "
        "hidden layer's angle to the gradient; MNIST when found, else digits), history (saved runs: one, "
        "or several overlaid with a legend naming what differs). "
        "Options left out take the figure's own defaults (jaxann.experiments).")
    p.add_argument("name", choices=FIGURES)
    p.add_argument("--out", help="the PNG to write (default NAME.png in the current folder)")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--epochs", type=positive_int, help="training epochs (default: the figure's own)")
    p.add_argument("--widths", type=int_list, help="universal: hidden widths (default 1,2,4,8,16,64)")
    p.add_argument("--hidden", type=int_list, help="batching, backprop, mnist, learning-rules: hidden sizes")
    p.add_argument("--dataset", choices=("auto", "digits", "mnist", "fashion-mnist"), default="auto",
                   help="batching, backprop, mnist, learning-rules: data set (default auto: mnist for "
                   "the mnist and learning-rules figures when its files are found, digits otherwise)")
    p.add_argument("--data-dir", help="folder with the IDX files")
    p.add_argument("--run-dir", action="append",
                   help="history: the folder a `jaxann train --out DIR` run wrote; repeat it to overlay runs")
    p.add_argument("--points", type=positive_int, help="perceptron: number of 2-D points (default 60)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    out = args.out or f"{args.name}.png"
    _check_out(out)  # before seconds of training, not after
    if args.name == "history" and not args.run_dir:
        raise JaxannError("the history figure needs --run-dir DIR (one or more), a folder written by "
                          "`jaxann train --out DIR`")

    from jaxann import experiments, plots
    from jaxann.console import ProgressBar
    from jaxann.data import load, mnist_if_found
    from jaxann.runs import save_figure

    def dataset():
        name = args.dataset
        if name == "auto" and args.name in ("mnist", "learning-rules"):
            name, fallback = mnist_if_found(args.data_dir)
            if fallback:
                print(f"jaxann plot: {fallback}", flush=True)
        elif name == "auto":
            name = "digits"
        return load(name, args.data_dir)

    def given(**options):  # the options on the command line; the experiment has the other defaults
        return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if v is not None}

    def figure_of(axes):
        return np.ravel(axes)[0].figure

    def about(data, experiment, activation="relu"):
        """The data set and network a figure trained, for its title."""
        hidden = args.hidden or inspect.signature(experiment).parameters["hidden"].default
        sizes = [data.raw_train.shape[1], *hidden, data.n_classes]
        return f"{data.name} ({len(data.raw_train)} training rows), network {'-'.join(map(str, sizes))} {activation}"

    def titled(draw, title):
        def draw_titled():
            fig = draw()
            fig.suptitle(title, fontsize="medium")
            return fig
        return draw_titled

    # progress on stderr while the experiment trains (on a terminal, without --quiet)
    bar = ProgressBar(1, enabled=not args.quiet, label=f"jaxann plot {args.name}")
    common = given(epochs=args.epochs, seed=args.seed)
    training = dict(common, progress=bar)
    if args.name == "activations":
        draw = lambda: figure_of(plots.activations())  # noqa: E731
    elif args.name == "universal":
        result = experiments.universal_approximation(**training, **given(widths=args.widths))
        widths = list(next(iter(result["errors"].values())))
        print(f"{'target':<16} " + " ".join(f"{w:>9}" for w in widths) + "   (final MSE per width)")
        for name, errors in result["errors"].items():
            print(f"{name:<16} " + " ".join(f"{errors[w]:>9.2e}" for w in widths))
        draw = lambda: figure_of(plots.universal(result))  # noqa: E731
    elif args.name == "batching":
        data = dataset()
        result = experiments.batching(data, **training, **given(hidden=args.hidden))
        draw = titled(lambda: figure_of(plots.batching(result)), about(data, experiments.batching))
    elif args.name == "backprop":
        data = dataset()
        result = experiments.autodiff_vs_backprop(data, **training, **given(hidden=args.hidden))
        print("largest parameter difference per epoch: " +
              ", ".join(f"{d:.1e}" for d in result["max_param_difference"]))
        draw = titled(lambda: figure_of(plots.autodiff_vs_backprop(result)),
                      about(data, experiments.autodiff_vs_backprop))
    elif args.name == "mnist":
        data = dataset()
        params = experiments.mnist(data, **training, **given(hidden=args.hidden))
        draw = titled(lambda: plots.mnist_panels(params, data), about(data, experiments.mnist))
    elif args.name == "learning-rules":
        data = dataset()
        result = experiments.learning_rules(data, **training, **given(hidden=args.hidden))
        for rule, run in result.items():
            angles = ", ".join(f"{a:.0f}" for a in run["alignment"][-1][:-1])
            print(f"{rule:<26} test accuracy {run['test_accuracy'][-1]:.4f}; hidden layers' angles to the "
                  f"gradient: {angles} degrees")
        draw = titled(lambda: figure_of(plots.learning_rules(result)),
                      about(data, experiments.learning_rules, experiments.RULES_ACTIVATION))
    elif args.name == "perceptron":
        result = experiments.perceptron(**common, **given(n=args.points))
        print(f"perceptron rule: {result['errors'][0]} -> {result['errors'][-1]} misclassified; "
              f"gradient descent through the step: {result['gd_errors'][0]} -> {result['gd_errors'][-1]}")
        draw = lambda: figure_of(plots.perceptron(result))  # noqa: E731
    else:
        draw = _history(args.run_dir, plots, figure_of)
    bar.close()
    save_figure(out, draw)
    print(f"wrote {out}")
    return 0


def _check_out(out) -> None:
    """Refuse an --out that cannot be written (a folder, a missing or read-only parent)."""
    from pathlib import Path

    from jaxann.files import check_writable

    if Path(out).is_dir():
        raise JaxannError(f"--out {out} is a folder; expected a PNG file name")
    if not Path(out).parent.is_dir():  # a figure's folder is not made for it (a misspelt path)
        raise JaxannError(f"cannot write {out}: no folder {Path(out).parent}")
    check_writable(out)


def _history(run_dirs, plots, figure_of):
    """draw() of the history figure: one run's, or several overlaid, each labelled by the
    settings that set it apart (its folder when none do)."""
    from jaxann.config import differing
    from jaxann.runs import RunFolder, settings

    runs = [(d, RunFolder(d).read_metrics()) for d in run_dirs]
    if len(runs) == 1:
        return lambda: figure_of(plots.history(runs[0][1]))
    changed = differing([settings(m) for _, m in runs])

    def label(d, m):
        values = settings(m)
        return ", ".join(f"{k}={_text(values[k])}" for k in changed) or d

    return lambda: figure_of(plots.histories([(label(d, m), m) for d, m in runs]))


def _text(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)

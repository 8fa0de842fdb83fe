"""`jaxann plot NAME`: one of the lecture's figures, computed by `jaxann.experiments`."""

from __future__ import annotations

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
        "hidden layer's angle to the gradient; MNIST when found, else digits), history (a saved run). "
        "Options left out take the figure's own defaults (jaxann.experiments).")
    p.add_argument("name", choices=FIGURES)
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--seed", type=int, help="default 0")
    p.add_argument("--epochs", type=positive_int, help="training epochs (default: the figure's own)")
    p.add_argument("--widths", type=int_list, help="universal: hidden widths (default 1,2,4,8,16,64)")
    p.add_argument("--hidden", type=int_list, help="batching, backprop, mnist, learning-rules: hidden sizes")
    p.add_argument("--dataset", choices=("auto", "digits", "mnist", "fashion-mnist"), default="auto",
                   help="batching, backprop, mnist, learning-rules: data set (default auto: mnist for "
                   "the mnist and learning-rules figures when its files are found, digits otherwise)")
    p.add_argument("--data-dir", help="folder with the IDX files")
    p.add_argument("--run-dir", help="history: the folder a `jaxann train --out DIR` run wrote")
    p.add_argument("--points", type=positive_int, help="perceptron: number of 2-D points (default 60)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    from jaxann import experiments, plots
    from jaxann.console import ProgressBar
    from jaxann.data import load, mnist_if_found
    from jaxann.runs import RunFolder, save_figure

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
        result = experiments.batching(dataset(), **training, **given(hidden=args.hidden))
        draw = lambda: figure_of(plots.batching(result))  # noqa: E731
    elif args.name == "backprop":
        result = experiments.autodiff_vs_backprop(dataset(), **training, **given(hidden=args.hidden))
        print("largest parameter difference per epoch: " +
              ", ".join(f"{d:.1e}" for d in result["max_param_difference"]))
        draw = lambda: figure_of(plots.autodiff_vs_backprop(result))  # noqa: E731
    elif args.name == "mnist":
        data = dataset()
        params = experiments.mnist(data, **training, **given(hidden=args.hidden))
        draw = lambda: plots.mnist_panels(params, data)  # noqa: E731
    elif args.name == "learning-rules":
        result = experiments.learning_rules(dataset(), **training, **given(hidden=args.hidden))
        for rule, run in result.items():
            angles = ", ".join(f"{a:.0f}" for a in run["alignment"][-1][:-1])
            print(f"{rule:<26} test accuracy {run['test_accuracy'][-1]:.4f}; hidden layers' angles to the "
                  f"gradient: {angles} degrees")
        draw = lambda: figure_of(plots.learning_rules(result))  # noqa: E731
    elif args.name == "perceptron":
        result = experiments.perceptron(**common, **given(n=args.points))
        print(f"perceptron rule: {result['errors'][0]} -> {result['errors'][-1]} misclassified; "
              f"gradient descent through the step: {result['gd_errors'][0]} -> {result['gd_errors'][-1]}")
        draw = lambda: figure_of(plots.perceptron(result))  # noqa: E731
    else:
        if not args.run_dir:
            raise JaxannError("the history figure needs --run-dir DIR, a folder written by `jaxann train --out DIR`")
        run_metrics = RunFolder(args.run_dir).read_metrics()
        draw = lambda: figure_of(plots.history(run_metrics))  # noqa: E731
    bar.close()
    save_figure(args.out, draw)
    print(f"wrote {args.out}")
    return 0

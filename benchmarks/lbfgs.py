"""solver='lbfgs' timed against scikit-learn's, side by side.

    python benchmarks/lbfgs.py [--repeat 3] [--data-dir PATH/TO/mnist]

Each library's MLPClassifier(hidden_layer_sizes=(50,), solver='lbfgs', max_iter=200,
random_state=1) fitted, alternating the two, `repeat` times after one untimed warm-up
fit each (jaxann's programs compiled and cached), on digits (1,797 rows, pixels / 16,
float64) and, when its files are found, MNIST (60,000 rows, pixels / 255, float32 as
jaxann's data set holds them: both libraries then compute in float32). Prints the median
seconds, the ratio, and each fit's final loss and iterations. Nothing here asserts a time.
"""

import argparse
import statistics
import sys
import time
import warnings


def timed_fit(cls, X, y, max_iter):
    from sklearn.exceptions import ConvergenceWarning

    model = cls(hidden_layer_sizes=(50,), solver="lbfgs", max_iter=max_iter, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - t0, model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (else $JAXANN_DATA_DIR, the cache)")
    args = parser.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier as SkClassifier

    from jaxann import MLPClassifier
    from jaxann.data import load, mnist_if_found

    X, y = load_digits(return_X_y=True)
    sets = {"digits (1,797 x 64, float64)": (X / 16.0, y)}
    if mnist_if_found(args.data_dir)[0] == "mnist":
        mnist = load("mnist", args.data_dir)
        sets["MNIST (60,000 x 784, float32)"] = (mnist.x_train, mnist.y_train)
    else:
        print("MNIST not found: digits only", file=sys.stderr)
    systems = {"scikit-learn": SkClassifier, "jaxann": MLPClassifier}
    print(f"| data (lbfgs, 50 hidden, max_iter {args.max_iter}) | scikit-learn s | jaxann s | jaxann / scikit-learn "
          "| final loss (sk / jaxann) | iterations |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, (X, y) in sets.items():
        times = {s: [] for s in systems}
        models = {}
        for s, cls in systems.items():  # warm-up: imports, jaxann's compilation
            timed_fit(cls, X, y, 2)
        for _ in range(args.repeat):
            for s, cls in systems.items():
                seconds, models[s] = timed_fit(cls, X, y, args.max_iter)
                times[s].append(seconds)
        sk, ours = (statistics.median(times[s]) for s in systems)
        print(f"| {name} | {sk:.2f} | {ours:.2f} | {ours / sk:.2f}x | "
              f"{models['scikit-learn'].loss_:.6f} / {models['jaxann'].loss_:.6f} | "
              f"{models['scikit-learn'].n_iter_} / {models['jaxann'].n_iter_} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

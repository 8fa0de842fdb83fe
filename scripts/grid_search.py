"""Many small fits: GridSearchCV over jaxann's MLPClassifier and scikit-learn's, side by side.

A grid search fits one estimator per (setting, fold). jaxann keeps each compiled epoch
(`jaxann.train.compiled_epoch`), so fits that differ only in numeric settings -- the
learning rate, alpha, momentum, the seed, the fold's values -- compile once per shape.
This script measures the whole search, wall clock, for both libraries on the same grid:

    python scripts/grid_search.py [--folds 5] [--max-iter 20] [--repeat 3]

Data: scikit-learn's digits (offline), pixels / 16. Grid: alpha in {1e-4, 1e-3, 1e-2}
x learning_rate_init in {0.1, 0.01}, hidden_layer_sizes (50,), solver 'sgd',
random_state 1. Prints each library's median seconds, best setting and best score.
"""

import argparse
import statistics
import sys
import time
import warnings

from jaxann.cli import positive_int

GRID = {"alpha": [1e-4, 1e-3, 1e-2], "learning_rate_init": [0.1, 0.01]}


def search(estimator_class, X, y, folds, max_iter):
    from sklearn.model_selection import GridSearchCV

    estimator = estimator_class(hidden_layer_sizes=(50,), max_iter=max_iter, solver="sgd", random_state=1)
    t0 = time.perf_counter()
    found = GridSearchCV(estimator, GRID, cv=folds).fit(X, y)
    return time.perf_counter() - t0, found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=positive_int, default=5, help="cross-validation folds (default 5, at least 2)")
    parser.add_argument("--max-iter", type=positive_int, default=20, help="epochs per fit (default 20)")
    parser.add_argument("--repeat", type=positive_int, default=3,
                        help="whole searches per library (default 3); jaxann's first compiles, the later ones "
                             "reuse its programs")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error(f"--folds {args.folds}: cross-validation needs at least 2")

    import jax
    import sklearn
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    import jaxann

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X = X / 16
    n_fits = args.folds * len(GRID["alpha"]) * len(GRID["learning_rate_init"])
    print(f"GridSearchCV on digits ({len(X)} rows), {n_fits} fits + 1 refit of {args.max_iter} epochs; "
          f"jax {jax.__version__} on {jax.devices()[0].platform}, scikit-learn {sklearn.__version__}")
    for name, cls in (("jaxann", jaxann.MLPClassifier), ("scikit-learn", SklearnMLP)):
        times = []
        for _ in range(args.repeat):
            seconds, found = search(cls, X, y, args.folds, args.max_iter)
            times.append(seconds)
        print(f"{name:>12}: {statistics.median(times):6.2f} s (median of {args.repeat}; first {times[0]:.2f} s)  "
              f"best {found.best_params_}  score {found.best_score_:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

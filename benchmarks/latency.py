"""Interactive calls timed against scikit-learn's: predict, predict_proba, partial_fit.

    python benchmarks/latency.py [--calls 300]

On digits (pixels / 16), an MLPClassifier(hidden_layer_sizes=(50,)) of each library,
fitted for 5 epochs, then, alternating the two libraries, the median of `calls` calls of
`predict` on one row and of `predict_proba` on 500 rows; and a fresh estimator's first
`partial_fit` on 100 rows (jaxann: with the compile cache as this machine has it) and the
median of later ones. Nothing here asserts a time.
"""

import argparse
import statistics
import sys
import time
import warnings

import numpy as np


def median_ms(call, calls: int) -> float:
    call()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    import jaxann

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X = X / 16
    libraries = {"scikit-learn": SklearnMLP, "jaxann": jaxann.MLPClassifier}
    fitted = {name: cls(hidden_layer_sizes=(50,), max_iter=5, random_state=0).fit(X, y)
              for name, cls in libraries.items()}
    rows = {name: {} for name in libraries}
    for _ in range(3):  # alternate the libraries; keep each one's best median
        for name, model in fitted.items():
            for what, call in (("predict, 1 row", lambda: model.predict(X[:1])),
                               ("predict_proba, 500 rows", lambda: model.predict_proba(X[:500]))):
                rows[name][what] = min(rows[name].get(what, np.inf), median_ms(call, args.calls))
    for name, cls in libraries.items():
        model = cls(hidden_layer_sizes=(50,), random_state=0)
        t0 = time.perf_counter()
        model.partial_fit(X[:100], y[:100], classes=np.arange(10))
        rows[name]["first partial_fit, 100 rows"] = (time.perf_counter() - t0) * 1e3
        rows[name]["later partial_fit, 100 rows"] = median_ms(lambda: model.partial_fit(X[:100], y[:100]), 50)
    print(f"| {'call':<28} | {'scikit-learn ms':>15} | {'jaxann ms':>9} | {'ratio':>6} |")
    print(f"| {'-' * 28} | {'-' * 15} | {'-' * 9} | {'-' * 6} |")
    for what in rows["jaxann"]:
        sk, ja = rows["scikit-learn"][what], rows["jaxann"][what]
        print(f"| {what:<28} | {sk:>15.3f} | {ja:>9.3f} | {ja / sk:>5.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

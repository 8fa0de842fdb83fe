"""Small interactive work: two of scikit-learn's MLP gallery examples, import swapped.

    python benchmarks/gallery.py [--repeat 3]

Written from scikit-learn's documentation (examples/neural_networks): the numbers of
"Compare Stochastic learning strategies for MLPClassifier" (7 solver settings x 4 small
data sets, up to 400 epochs each) and of "Varying regularization in Multi-layer
Perceptron" (5 alphas x 3 two-feature data sets, each model also scored on a mesh of
points for its decision surface, with solver='lbfgs' as the example has it), without the
drawing. Each example runs as a whole process, once with `sklearn.neural_network`'s
MLPClassifier and once with `jaxann`'s, alternating; jaxann first with an empty compile
cache (a user's first run) and then with the cache that run filled (every later run).
Prints median wall-clock seconds and the ratio to scikit-learn's. Nothing here asserts
a time.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

STRATEGIES = r"""
import warnings
import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler
MLPClassifier = __import__(LIBRARY, fromlist=["MLPClassifier"]).MLPClassifier

params = [
    {"solver": "sgd", "learning_rate": "constant", "momentum": 0, "learning_rate_init": 0.2},
    {"solver": "sgd", "learning_rate": "constant", "momentum": 0.9, "nesterovs_momentum": False,
     "learning_rate_init": 0.2},
    {"solver": "sgd", "learning_rate": "constant", "momentum": 0.9, "nesterovs_momentum": True,
     "learning_rate_init": 0.2},
    {"solver": "sgd", "learning_rate": "invscaling", "momentum": 0, "learning_rate_init": 0.2},
    {"solver": "sgd", "learning_rate": "invscaling", "momentum": 0.9, "nesterovs_momentum": False,
     "learning_rate_init": 0.2},
    {"solver": "sgd", "learning_rate": "invscaling", "momentum": 0.9, "nesterovs_momentum": True,
     "learning_rate_init": 0.2},
    {"solver": "adam", "learning_rate_init": 0.01},
]
iris = datasets.load_iris()
X_digits, y_digits = datasets.load_digits(return_X_y=True)
data_sets = [
    (iris.data, iris.target),
    (X_digits, y_digits),
    datasets.make_circles(noise=0.2, factor=0.5, random_state=1),
    datasets.make_moons(noise=0.3, random_state=0),
]
scores = []
for X, y in data_sets:
    X = MinMaxScaler().fit_transform(X)
    max_iter = 15 if len(X) > 1000 else 400  # digits: 15 epochs, as the example
    for param in params:
        mlp = MLPClassifier(random_state=0, max_iter=max_iter, **param)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            mlp.fit(X, y)
        scores.append(mlp.score(X, y))
print("mean training score %.4f over %d fits" % (np.mean(scores), len(scores)))
"""

REGULARIZATION = r"""
import warnings
import numpy as np
from sklearn.datasets import make_circles, make_classification, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
MLPClassifier = __import__(LIBRARY, fromlist=["MLPClassifier"]).MLPClassifier

alphas = np.logspace(-1, 1, 5)
X, y = make_classification(n_features=2, n_redundant=0, n_informative=2, random_state=0,
                           n_clusters_per_class=1)
X += 2 * np.random.RandomState(2).uniform(size=X.shape)
data_sets = [make_moons(noise=0.3, random_state=0), make_circles(noise=0.2, factor=0.5, random_state=1), (X, y)]
scores = []
for X, y in data_sets:
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=42)
    x_min, x_max = X[:, 0].min() - 0.5, X[:, 0].max() + 0.5
    y_min, y_max = X[:, 1].min() - 0.5, X[:, 1].max() + 0.5
    xx, yy = np.meshgrid(np.arange(x_min, x_max, 0.02), np.arange(y_min, y_max, 0.02))
    for alpha in alphas:
        clf = make_pipeline(StandardScaler(), MLPClassifier(solver="lbfgs", alpha=alpha, random_state=1, max_iter=2000,
                                                            early_stopping=True, hidden_layer_sizes=[10, 10]))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            clf.fit(X_train, y_train)
        scores.append(clf.score(X_test, y_test))
        surface = clf.predict_proba(np.column_stack([xx.ravel(), yy.ravel()]))[:, 1]
print("mean test score %.4f over %d fits" % (np.mean(scores), len(scores)))
"""

EXAMPLES = {"compare stochastic learning strategies": STRATEGIES, "varying regularization (lbfgs)": REGULARIZATION}


def run(code: str, library: str, env) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", f"LIBRARY = {library!r}\n" + code], env=env,
                       capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode:
        sys.exit(f"{library} failed: {r.stderr.strip().splitlines()[-1:]}")
    return seconds, r.stdout.strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"| {'example':<40} | {'scikit-learn s':>14} | {'jaxann 1st run':>14} | {'jaxann later':>12} | outputs |")
    print(f"| {'-' * 40} | {'-' * 14} | {'-' * 14} | {'-' * 12} | ------- |")
    for name, code in EXAMPLES.items():
        times = {"sk": [], "cold": [], "warm": []}
        with tempfile.TemporaryDirectory() as root:
            for i in range(args.repeat):
                times["sk"].append(run(code, "sklearn.neural_network", os.environ))
                cache = dict(os.environ, JAXANN_COMPILE_CACHE=os.path.join(root, f"cache{i}"))
                times["cold"].append(run(code, "jaxann", cache))  # an empty cache: the first run
                times["warm"].append(run(code, "jaxann", cache))  # the cache it filled
        sk, cold, warm = (statistics.median(s for s, _ in times[k]) for k in ("sk", "cold", "warm"))
        print(f"| {name:<40} | {sk:>14.2f} | {cold:>7.2f} ({cold / sk:.1f}x) | {warm:>5.2f} ({warm / sk:.1f}x) | "
              f"sklearn: {times['sk'][-1][1]}; jaxann: {times['warm'][-1][1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

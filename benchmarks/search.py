"""Hyperparameter search, whole processes side by side.

    python benchmarks/search.py [--repeat 3] [--n-jobs 1 2] [--float32] [--grid 4x4]
                                                              the grid search (CPU row)
    python benchmarks/search.py --study [--trials 256 --data-dir PATH/TO/mnist --json FILE]
                                                              an Optuna study, K = 1 vs K = 64 (GPU row)

Grid search: scikit-learn's digits, a grid of 3 alphas x 3 learning rates x 5 folds of
the lecture's network (50 relu units, sgd with Nesterov momentum, max_iter 50, early
stopping, random_state 1) -- or with --grid 4x4, 4 alphas x 4 learning rates x 5 folds
and max_iter 200, a search that takes scikit-learn about twice as long -- run as a whole
process by (a) `jaxann.model_selection.
GridSearchCV` over jaxann's MLPClassifier, (b) scikit-learn's GridSearchCV over jaxann's
MLPClassifier (each fit alone), (c) scikit-learn's GridSearchCV over scikit-learn's
MLPClassifier, each with every --n-jobs given; alternated, each jaxann process first
with an empty program store (a user's first run) and then with the store that run
filled (every later run). Prints
median wall-clock seconds, the ratio to (c), and each search's best score and settings.

Study: `jaxann tune` on MNIST (digits where it is absent) over lr, alpha, hidden and
momentum, the same number of trials asked K = 1 and K = 64 at a time, each a whole
process with its own SQLite study: wall seconds, and the best trial's validation and
test scores. Writes the figures, the device and the versions as JSON with --json.

Nothing here asserts a time. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for every
process (scikit-learn's fastest kernel); the kernel OpenBLAS ran is printed.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

SEARCH = r"""
import warnings
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
SEARCHER, ESTIMATOR, N_JOBS, EXTRA = SYSTEM
GridSearchCV = __import__(SEARCHER, fromlist=["GridSearchCV"]).GridSearchCV
MLPClassifier = __import__(ESTIMATOR, fromlist=["MLPClassifier"]).MLPClassifier
X, y = load_digits(return_X_y=True)
X = X / 16.0
mlp = MLPClassifier(hidden_layer_sizes=(50,), solver="sgd", max_iter=MAX_ITER, early_stopping=True,
                    random_state=1, **EXTRA)
grid = {"alpha": ALPHAS, "learning_rate_init": RATES}
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    search = GridSearchCV(mlp, grid, cv=5, n_jobs=N_JOBS).fit(X, y)
print("best %.4f %s" % (search.best_score_, search.best_params_))
"""

SYSTEMS = {  # name: (the search's module, the estimator's module, the estimator's extra parameters)
    "jaxann GridSearchCV, jaxann MLPClassifier": ("jaxann.model_selection", "jaxann", {}),
    "scikit-learn GridSearchCV, jaxann MLPClassifier": ("sklearn.model_selection", "jaxann", {}),
    "scikit-learn GridSearchCV, scikit-learn MLPClassifier": ("sklearn.model_selection", "sklearn.neural_network", {}),
}
# --grid: (alphas, learning rates, max_iter)
GRIDS = {"3x3": ([1e-4, 1e-3, 1e-2], [0.1, 0.03, 0.01], 50),
         "4x4": ([1e-4, 1e-3, 1e-2, 1e-1], [0.1, 0.03, 0.01, 0.003], 200)}
# --float32: jaxann's fast path on these float64 pixels, beside the drop-in
FLOAT32 = {"jaxann GridSearchCV, jaxann MLPClassifier(dtype='float32')":
           ("jaxann.model_selection", "jaxann", {"dtype": "float32"})}


def systems(n_jobs: list, float32: bool = False) -> dict:
    """Each system of SYSTEMS (with FLOAT32's first, if asked for) with each n_jobs (named
    with it unless it is the only one 1), scikit-learn's own last: the reference."""
    named = {}
    for name, (searcher, estimator, extra) in ({**FLOAT32, **SYSTEMS} if float32 else SYSTEMS).items():
        for jobs in n_jobs:
            label = name if n_jobs == [1] else name.replace("GridSearchCV", f"GridSearchCV(n_jobs={jobs})")
            named[label] = (searcher, estimator, jobs, extra)
    return named


def environment():
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return env


def blas_kernel(env) -> str:
    code = ("from threadpoolctl import threadpool_info; import numpy; "
            "print('; '.join(f\"{i['internal_api']} {i.get('architecture')} x{i['num_threads']}\" "
            "for i in threadpool_info()))")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()


def timed(command, env) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode:
        sys.exit(f"{command[:3]} failed: {r.stderr.strip().splitlines()[-1:]}")
    return seconds, r.stdout.strip()


def grid_search(args) -> dict:
    env = environment()
    print(f"BLAS: {blas_kernel(env)}")
    compared = systems(args.n_jobs, args.float32)
    runs = {name: [] for name in compared}
    later = {name: [] for name in compared if compared[name][1] == "jaxann"}
    with tempfile.TemporaryDirectory() as root:
        for _ in range(args.repeat):
            for name, system in compared.items():  # alternated, one of each per round
                alphas, rates, max_iter = GRIDS[args.grid]
                command = [sys.executable, "-c", f"SYSTEM = {system!r}\nALPHAS, RATES, MAX_ITER = {alphas!r}, "
                           f"{rates!r}, {max_iter}\n" + SEARCH]
                if system[1] == "jaxann":
                    store = dict(env, JAXANN_COMPILE_CACHE=tempfile.mkdtemp(dir=root))  # this run's own
                    runs[name].append(timed(command, store))  # an empty store: the first run
                    later[name].append(timed(command, store))  # the store it filled
                else:
                    runs[name].append(timed(command, env))
    reference = statistics.median(s for s, _ in runs[list(compared)[-1]])
    alphas, rates, max_iter = GRIDS[args.grid]
    what = f"system (digits, {len(alphas)} x {len(rates)} grid x 5 folds, max_iter {max_iter})"
    print(f"| {what:<65} | first run s | later runs s | best score |")
    print(f"| {'-' * 65} | ----------- | ------------ | ---------- |")
    table = {}
    for name in compared:
        first = statistics.median(s for s, _ in runs[name])
        again = statistics.median(s for s, _ in later[name]) if name in later else None
        cell = f"{again:.2f} ({again / reference:.2f}x)" if again is not None else "-"
        print(f"| {name:<65} | {first:.2f} ({first / reference:.2f}x) | {cell} | {runs[name][-1][1]} |")
        table[name] = {"first_run_s": first, "later_runs_s": again, "output": runs[name][-1][1],
                       "first_runs": [s for s, _ in runs[name]], "later_runs": [s for s, _ in later.get(name, [])]}
    return {"grid_search": table, "grid": args.grid}


def study(args) -> dict:
    env = environment()
    data = ["--dataset", "mnist", "--data-dir", args.data_dir] if args.data_dir else []
    out = {}
    print(f"| trials per program | trials | wall s | best validation | its test score |")
    print(f"| ------------------ | ------ | ------ | --------------- | -------------- |")
    with tempfile.TemporaryDirectory() as root:
        for k in args.k:
            command = [sys.executable, "-m", "jaxann", "tune", *data, "--lr", "1e-3:0.3:log", "--alpha",
                       "1e-6:1e-2:log", "--hidden", "32,64,128", "--momentum", "0.8:0.99", "--epochs",
                       str(args.epochs), "--trials", str(args.trials), "--trials-per-program", str(k),
                       "--storage", f"sqlite:///{os.path.join(root, f'study-{k}.db')}", "--sampler-seed", "0",
                       "--quiet"]
            seconds, text = timed(command, env)
            best = re.search(r"validation score ([0-9.]+), test score ([0-9.]+)", text)
            print(f"| {k} | {args.trials} | {seconds:.1f} | {best.group(1)} | {best.group(2)} |", flush=True)
            out[k] = {"wall_s": seconds, "best_validation": float(best.group(1)), "test": float(best.group(2))}
    return {"study": out}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--study", action="store_true", help="the Optuna study instead of the grid search")
    parser.add_argument("--n-jobs", type=int, nargs="+", default=[1],
                        help="the searches' n_jobs to compare (each system runs with each)")
    parser.add_argument("--float32", action="store_true",
                        help="also jaxann's search with MLPClassifier(dtype='float32'), the fast path")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="3x3",
                        help="the grid search's size: 3x3 (max_iter 50) or 4x4 (max_iter 200)")
    parser.add_argument("--trials", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 64], help="trials per program to compare")
    parser.add_argument("--data-dir", help="MNIST's folder (the study runs on digits without it)")
    parser.add_argument("--json", help="write the figures, device and versions to this file")
    args = parser.parse_args(argv)
    figures = study(args) if args.study else grid_search(args)
    if args.json:
        import jax
        import ml_dtypes
        import sklearn

        figures.update(device=str(jax.devices()[0].device_kind), platform=jax.default_backend(),
                       machine=platform.machine(), cores=os.cpu_count(), jax=jax.__version__,
                       ml_dtypes=ml_dtypes.__version__, sklearn=sklearn.__version__, date=datetime.date.today().isoformat(), argv=sys.argv[1:])
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The lecture's MNIST job timed as users time it: whole processes, side by side.

    JAXANN_DATA_DIR=PATH/TO/mnist python benchmarks/whole_process.py [--repeat 3]

Runs, alternating, `repeat` times each:
- jaxann, warm: `jaxann train --dataset mnist --quiet` with a compile cache a first run filled;
- jaxann, cold: the same with an empty compile cache (a new folder every run);
each with `--metrics`: a cold run's say what it compiled and the seconds that took, a
warm run's the seconds of the fit itself (its programs loaded);
- scikit-learn: the lecture's script (read the four IDX files with NumPy, pixels / 255,
  `MLPClassifier(hidden_layer_sizes=(50,), max_iter=10, alpha=1e-4, solver='sgd',
  learning_rate_init=.1, random_state=1)`, fit, both scores).
Prints each one's median wall-clock seconds and peak resident memory (the child's
ru_maxrss), jaxann's as a ratio to scikit-learn's, and a cold run's compilation against
the fit it prepares (medians). Nothing here asserts a time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SKLEARN_SCRIPT = r"""
import gzip, os, sys, warnings
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

def idx(name, offset):
    with gzip.open(os.path.join(sys.argv[1], name)) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)

X_train = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0
y_train = idx("train-labels-idx1-ubyte.gz", 8)
X_test = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784) / 255.0
y_test = idx("t10k-labels-idx1-ubyte.gz", 8)
mlp = MLPClassifier(hidden_layer_sizes=(50,), max_iter=10, alpha=1e-4, solver='sgd',
                    random_state=1, learning_rate_init=.1)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    mlp.fit(X_train, y_train)
print("Training set score: %f" % mlp.score(X_train, y_train))
print("Test set score: %f" % mlp.score(X_test, y_test))
"""


def timed(argv, env) -> tuple[float, float, str]:
    """(wall seconds, peak resident MiB, stdout) of one child process."""
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # reaps the child, with its own rusage
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        if proc.returncode:
            err.seek(0)
            sys.exit(f"{' '.join(argv[:5])} failed: {err.read().strip().splitlines()[-1:]}")
    return seconds, usage.ru_maxrss / 1024, out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("JAXANN_DATA_DIR"),
                        help="folder with the four MNIST .gz files (default $JAXANN_DATA_DIR)")
    args = parser.parse_args(argv)
    if not args.data_dir or not os.path.isfile(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz")):
        parser.error("MNIST's .gz files not found: pass --data-dir PATH/TO/mnist or set JAXANN_DATA_DIR")
    env = dict(os.environ, JAXANN_DATA_DIR=args.data_dir)
    jaxann = [sys.executable, "-m", "jaxann", "train", "--dataset", "mnist", "--quiet"]
    sklearn = [sys.executable, "-c", SKLEARN_SCRIPT, args.data_dir]
    with tempfile.TemporaryDirectory() as root:
        warm = dict(env, JAXANN_COMPILE_CACHE=os.path.join(root, "warm"))
        timed(jaxann, warm)  # fills the warm cache
        runs = {"jaxann (warm cache)": [], "jaxann (cold cache)": [], "scikit-learn": []}
        cold_metrics, warm_metrics = [], []
        for i in range(args.repeat):
            metrics = os.path.join(root, f"warm{i}.json")
            runs["jaxann (warm cache)"].append(timed([*jaxann, "--metrics", metrics], warm))
            with open(metrics) as f:
                warm_metrics.append(json.load(f))
            runs["scikit-learn"].append(timed(sklearn, env))
            metrics = os.path.join(root, f"cold{i}.json")
            runs["jaxann (cold cache)"].append(timed([*jaxann, "--metrics", metrics],
                                                     dict(env, JAXANN_COMPILE_CACHE=os.path.join(root, f"cold{i}"))))
            with open(metrics) as f:
                cold_metrics.append(json.load(f))
    base = {k: statistics.median(r[k2] for r in runs["scikit-learn"]) for k, k2 in (("s", 0), ("mib", 1))}
    print(f"lecture's MNIST job, whole process, median of {args.repeat} alternating runs")
    print(f"| {'system':<20} | {'wall s':>7} | {'x sklearn':>9} | {'peak MiB':>8} | {'x sklearn':>9} | scores |")
    print(f"| {'-' * 20} | {'-' * 7} | {'-' * 9} | {'-' * 8} | {'-' * 9} | ------ |")
    for name, results in runs.items():
        s = statistics.median(r[0] for r in results)
        mib = statistics.median(r[1] for r in results)
        scores = " / ".join(line.split(": ")[1] for line in results[-1][2].splitlines() if "set score" in line)
        print(f"| {name:<20} | {s:>7.2f} | {s / base['s']:>8.2f}x | {mib:>8.0f} | {mib / base['mib']:>8.2f}x | {scores} |")
    # the fit a compilation prepares: a warm run's, whose programs are loaded (a cold run's
    # fit_seconds holds the epoch's compilation)
    compile_s = statistics.median(m["compile_seconds"] for m in cold_metrics)
    fit_s = statistics.median(m["fit_seconds"] for m in warm_metrics)
    print(f"cold run: compiled {', '.join(sorted(cold_metrics[-1]['compiled']))} in {compile_s:.2f} s; "
          f"a warm run's fit {fit_s:.2f} s; compile / fit {compile_s / fit_s:.2f}x (medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

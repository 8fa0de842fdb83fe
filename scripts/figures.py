"""Regenerate the README's figures (docs/figures/*.png) with the same code as `jaxann plot`.

    JAXANN_DATA_DIR=../shared/data/mnist python scripts/figures.py [--out docs/figures]

The mnist figure uses MNIST when its files are found, digits otherwise; the history
figure trains a short run (digits, 15 epochs, 10% validation) into a temporary folder.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from jaxann.cli import main as jaxann


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "figures"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("activations", "universal", "batching", "backprop", "mnist", "perceptron", "learning-rules"):
        if jaxann(["plot", name, "--out", str(out / f"{name}.png")]) != 0:
            return 1
    with tempfile.TemporaryDirectory() as run:
        if jaxann(["train", "--validation-fraction", "0.1", "--epochs", "15", "--quiet", "--out", run]) != 0:
            return 1
        return jaxann(["plot", "history", "--run-dir", run, "--out", str(out / "history.png")])


if __name__ == "__main__":
    sys.exit(main())

"""`jaxann bench` with scikit-learn's and PyTorch's rows beside jaxann's.

    python benchmarks/bench.py [the flags of jaxann bench]
    JAXANN_DATA_DIR=PATH/TO/mnist python benchmarks/bench.py --repeat 3

Registers the runners of `benchmarks/runners.py` and runs `jaxann bench`, whose table
then holds every system, timed in one process on one machine.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runners import RUNNERS  # noqa: E402

from jaxann import bench  # noqa: E402
from jaxann.cli import main  # noqa: E402

if __name__ == "__main__":
    for name, runner in RUNNERS.items():
        bench.register(name, runner)
    sys.exit(main(["bench", *sys.argv[1:]]))

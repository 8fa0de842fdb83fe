"""The training step's cost of each learning rule against backprop's, robust to a shared machine.

    python benchmarks/step_cost.py [--rules backprop,sign_symmetry,...] [--hidden 800,800]
        [--rows 12000] [--repeat 9] [--json OUT.json] [--data-dir PATH/TO/mnist]

`jaxann bench` times whole fits by the wall clock; on a machine that other work shares,
those vary by 2x from run to run. Here each rule's compiled epoch (relu, SGD with Nesterov
momentum, batch 200, the first `--rows` MNIST training images: rows / 200 steps) is
compiled once, then the rules run in turn, `--repeat` rounds, each call timed by the wall
clock and by the process's CPU time (every thread's: the work done, whatever else runs).
Prints each rule's medians and their ratios to the first rule's. Nothing here asserts a
figure.
"""

import argparse
import datetime
import json
import statistics
import sys
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", default="backprop,sign_symmetry,sign_symmetry_frm,sign_symmetry_brm")
    parser.add_argument("--hidden", default="800,800")
    parser.add_argument("--rows", type=int, default=12000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--json", help="write the raw timings to this file")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (else $JAXANN_DATA_DIR, the cache)")
    args = parser.parse_args(argv)

    import jax
    import numpy as np

    from jaxann.bench import versions
    from jaxann.data import load
    from jaxann.placement import device_name
    from jaxann.program import compiled_epoch, initial_state
    from jaxann.train import TrainConfig

    mnist = load("mnist", args.data_dir)
    x = mnist.raw_train[:args.rows]
    t = np.eye(10, dtype=np.float32)[mnist.y_train[:args.rows]]
    order = np.arange(args.rows, dtype=np.int32)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    rules = args.rules.split(",")
    epochs = {}
    for rule in rules:
        config = TrainConfig(hidden=hidden, grad=rule, batch_size=200, seed=0)
        state = initial_state(config, config.sizes(x.shape[1], 10))
        call = (state, x, t, None, np.float32(mnist.x_divisor), order)
        epochs[rule] = (compiled_epoch(config, args.rows, call)[0], call)
        jax.block_until_ready(epochs[rule][0](*call))  # a first run: nothing one-off is timed
    wall = {rule: [] for rule in rules}
    cpu = {rule: [] for rule in rules}
    for _ in range(args.repeat):
        for rule in rules:
            epoch, call = epochs[rule]
            w0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(epoch(*call))
            wall[rule].append(time.perf_counter() - w0)
            cpu[rule].append(time.process_time() - c0)
    steps = -(-args.rows // 200)
    print(f"MNIST {args.rows} rows, 784-{'-'.join(map(str, hidden))}-10 relu, batch 200 ({steps} steps per call), "
          f"median of {args.repeat} alternated calls; {device_name()}")
    print("| rule | wall ms / step | ratio | CPU ms / step | ratio |")
    print("| --- | --- | --- | --- | --- |")
    base_w, base_c = statistics.median(wall[rules[0]]), statistics.median(cpu[rules[0]])
    for rule in rules:
        w, c = statistics.median(wall[rule]), statistics.median(cpu[rule])
        print(f"| {rule} | {1e3 * w / steps:.2f} | {w / base_w:.3f}x | {1e3 * c / steps:.2f} | {c / base_c:.3f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": device_name(), "versions": versions(), "date": datetime.date.today().isoformat(),
                       "rows": args.rows, "hidden": list(hidden), "batch_size": 200, "steps_per_call": steps,
                       "wall_seconds": wall, "cpu_seconds": cpu}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

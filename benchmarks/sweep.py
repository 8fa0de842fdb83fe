"""Many models as one sweep against the same models fitted one after another, side by side.

    python benchmarks/sweep.py [--models 16] [--epochs 20] [--repeat 5] [--devices 2]   CPU: digits
    python benchmarks/sweep.py --dataset mnist --counts 1,16,64,256,1024      GPU: MNIST

Default (the CPU row): K models of the lecture's network (50 relu units, SGD lr 0.1,
Nesterov 0.9, alpha 1e-4, batch 200; seeds 1..K) on digits for --epochs epochs, trained
(a) as one `jaxann.sweep.fit_many` call and (b) as K `jaxann.loop.fit` calls one after
another in one process, alternating (a) and (b) --repeat times after one untimed warm-up
of each (their programs compiled and kept). Times are whole calls (setup, training,
read-backs, the sweep's scores), medians over the repeats; throughput is models x epochs
per second. --devices N on a CPU makes N host devices (XLA_FLAGS, set here before JAX
starts) and splits the sweep's models over them, one core each; the fits one after
another run on one device, their fastest (data parallelism over two host devices is
several times slower at this size).

--counts K1,K2,... (the GPU rows): one sweep per K of the lecture's MNIST configuration
(10 epochs), wall time and throughput against K = 1.

Either way the raw figures go as JSON (with the device, versions and date) to --json
(default benchmarks/results/sweep-<device>.json). Nothing here asserts a time.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir")
    parser.add_argument("--models", type=int, default=16)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--counts", help="K values for the sweep-size table, e.g. 1,16,64,256,1024")
    parser.add_argument("--devices", type=int, default=1, help="split the sweep's models over N devices")
    parser.add_argument("--json", help="where to write the raw figures")
    args = parser.parse_args(argv)
    if args.devices > 1 and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_force_host_platform_device_count={args.devices}").strip()

    import jax

    from jaxann.bench import versions
    from jaxann.config import TrainConfig
    from jaxann.data import load
    from jaxann.loop import fit
    from jaxann.placement import device_name
    from jaxann.sweep import fit_many, grid

    data = load(args.dataset, args.data_dir)
    epochs = args.epochs or (20 if args.counts is None else 10)
    # a stopping rule that never fires: every model trains all its epochs, in both ways
    config = TrainConfig(epochs=epochs, n_iter_no_change=10_000)
    x, y, divisor = data.raw_train, data.y_train, data.x_divisor
    report = {"device": device_name(), "versions": versions(), "date": datetime.date.today().isoformat(),
              "dataset": data.name, "rows": len(x), "epochs": epochs, "sweep_devices": args.devices,
              "xla_flags": os.environ.get("XLA_FLAGS", "")}

    def sweep(K):
        members = grid(config, seed=list(range(1, K + 1)))
        t0 = time.perf_counter()
        fit_many(members, x, y, n_out=data.n_classes, x_divisor=divisor, devices=args.devices)
        return time.perf_counter() - t0

    def in_turn(K):
        t0 = time.perf_counter()
        for seed in range(1, K + 1):
            fit(replace(config, seed=seed), x, y, n_out=data.n_classes, x_divisor=divisor)
        return time.perf_counter() - t0

    if args.counts is None:
        K = args.models
        sweep(K), in_turn(K)  # warm-up: compile and keep both ways' programs
        times = {"sweep": [], "in turn": []}
        for _ in range(args.repeat):
            times["sweep"].append(sweep(K))
            times["in turn"].append(in_turn(K))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"| {K} models x {epochs} epochs on {data.name} ({device_name()}; sweep on {args.devices}) "
              "| median s | models x epochs / s |")
        print("| --- | --- | --- |")
        for k, v in med.items():
            print(f"| {k} | {v:.3f} | {K * epochs / v:.0f} |")
        print(f"sweep throughput / in-turn throughput: {med['in turn'] / med['sweep']:.2f}x "
              f"(medians of {args.repeat}, alternating)")
        report |= {"models": K, "seconds": times, "median": med, "ratio": med["in turn"] / med["sweep"]}
    else:
        counts = [int(k) for k in args.counts.split(",")]
        rows = []
        print(f"| K models ({data.name}, {epochs} epochs, {device_name()}) | median s | x the time of K=1 | "
              "throughput / K=1 |")
        print("| --- | --- | --- | --- |")
        for K in counts:
            sweep(K)  # warm-up: compile
            seconds = statistics.median(sweep(K) for _ in range(args.repeat))
            rows.append({"models": K, "seconds": seconds})
            base = rows[0]["seconds"]
            print(f"| {K} | {seconds:.3f} | {seconds / base:.2f} | {K * base / seconds:.1f} |", flush=True)
        report |= {"counts": rows}
    path = Path(args.json or Path(__file__).parent / "results" / f"sweep-{jax.devices()[0].platform}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"raw figures: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

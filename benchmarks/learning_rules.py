"""The MNIST fully connected comparison of the direct-feedback-alignment paper (Nokland,
NeurIPS 2016, Table 1): tanh networks of one to four hidden layers of 800 units and a deep
7 x 240 network, trained by backprop (BP), feedback alignment (FA) and direct feedback
alignment (DFA) -- and by the sign-concordant rules of Liao, Leibo and Poggio 2016:
uniform (SS), fixed random magnitude (FRM) and batchwise random magnitude (BRM).

    python benchmarks/learning_rules.py [--epochs 10] [--networks 2x800,7x240] [--rules BP,FA,DFA]
        [--activation tanh] [--lr 0.05] [--no-angles] [--json OUT.json] [--data-dir PATH/TO/mnist]

Every network and rule trains from the same initial weights (seed 0; the feedback comes
from the seed's own stream) with the same settings: SGD, lr `--lr` (0.05), momentum 0.9
(Nesterov), batch 100, no L2, cross-entropy on softmax outputs, `--epochs` epochs,
pixels / 255, the 60,000 training images (no validation split). Prints one row per
network and rule: the test accuracy and error in percent, the angle of each hidden
layer's update to the true gradient in the last epoch (degrees, mean over its batches;
backprop's is 0 and not measured; `--no-angles` skips them and the true gradient they need),
and the seconds per epoch (the rules but BP also compute the true gradient, for the
angle, so their seconds are not their cost: `jaxann bench` measures that). `--json` also
writes every figure, each epoch's loss and angles, the device, versions and date.
Nothing here asserts a figure.
"""

import argparse
import datetime
import json
import sys
import time

NETWORKS = {"1x800": (800,), "2x800": (800, 800), "3x800": (800, 800, 800), "4x800": (800, 800, 800, 800),
            "7x240": (240,) * 7}
RULES = {"BP": "backprop", "FA": "feedback_alignment", "DFA": "direct_feedback_alignment", "SS": "sign_symmetry",
         "FRM": "sign_symmetry_frm", "BRM": "sign_symmetry_brm"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"some of {','.join(NETWORKS)}")
    parser.add_argument("--rules", default="BP,FA,DFA", help=f"some of {','.join(RULES)}")
    parser.add_argument("--activation", default="tanh")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--no-angles", action="store_true", help="do not measure the angles to the gradient")
    parser.add_argument("--json", help="write the raw results to this file")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (else $JAXANN_DATA_DIR, the cache)")
    args = parser.parse_args(argv)

    from jaxann.bench import versions
    from jaxann.data import load
    from jaxann.placement import device_name
    from jaxann.predict import accuracy
    from jaxann.train import TrainConfig, fit

    mnist = load("mnist", args.data_dir)
    settings = (f"MNIST, {args.activation} networks, SGD lr {args.lr} momentum 0.9 (Nesterov) batch 100, "
                f"{args.epochs} epochs, seed 0")
    report = {"device": device_name(), "versions": versions(), "date": datetime.date.today().isoformat(),
              "settings": settings, "runs": []}
    print(settings)
    print("| network | rule | test accuracy | test error % | hidden layers' angles (deg) | s / epoch |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.networks.split(","):
        for short in args.rules.split(","):
            rule = RULES[short]
            config = TrainConfig(hidden=NETWORKS[name], activation=args.activation, lr=args.lr, batch_size=100,
                                 alpha=0.0, epochs=args.epochs, seed=0, grad=rule,
                                 alignment=rule != "backprop" and not args.no_angles,
                                 tol=0.0, n_iter_no_change=args.epochs + 1)
            t0 = time.perf_counter()
            result = fit(config, mnist.raw_train, mnist.y_train, n_out=10, x_divisor=mnist.x_divisor)
            seconds = result.fit_seconds / len(result.history.loss)
            acc = accuracy(result.params, mnist.raw_test, mnist.y_test, args.activation, x_divisor=mnist.x_divisor)
            angles = [float(a) for a in result.history.alignment[-1][:-1]] if result.history.alignment else []
            report["runs"].append({
                "network": name, "rule": rule, "activation": args.activation, "lr": args.lr, "epochs": args.epochs,
                "epochs_run": len(result.history.loss), "test_accuracy": float(acc),
                "loss": [float(v) for v in result.history.loss],
                "alignment": [[float(a) for a in row] for row in result.history.alignment],
                "seconds_per_epoch": seconds})
            shown = "/".join(f"{a:.0f}" for a in angles) or "-"
            print(f"  {name} {short}: {acc:.4f} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            print(f"| {name} {args.activation} | {rule} | {acc:.4f} | {100 * (1 - acc):.2f} | {shown} | "
                  f"{seconds:.2f} |", flush=True)
            if args.json:  # after every run: a long measurement leaves what it has
                with open(args.json, "w") as f:
                    json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

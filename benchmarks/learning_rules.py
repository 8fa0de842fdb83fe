"""The MNIST fully connected comparison of the direct-feedback-alignment paper (Nokland,
NeurIPS 2016, Table 1): tanh networks of one to four hidden layers of 800 units and a deep
7 x 240 network, trained by backprop (BP), feedback alignment (FA) and direct feedback
alignment (DFA).

    python benchmarks/learning_rules.py [--epochs 10] [--networks 2x800,7x240] [--data-dir PATH/TO/mnist]

Every network and rule trains from the same initial weights (seed 0; the feedback
matrices come from the seed's own stream) with the same settings: SGD, lr 0.05, momentum
0.9 (Nesterov), batch 100, no L2, cross-entropy on softmax outputs, `--epochs` epochs,
pixels / 255, the 60,000 training images (no validation split). Prints one row per
network: each rule's test error in percent, the angle of each hidden layer's update to the
true gradient in the last epoch (degrees, mean over its batches), and the seconds per
epoch. Nothing here asserts a figure.
"""

import argparse
import sys
import time

NETWORKS = {"1x800": (800,), "2x800": (800, 800), "3x800": (800, 800, 800), "4x800": (800, 800, 800, 800),
            "7x240": (240,) * 7}
RULES = {"BP": "backprop", "FA": "feedback_alignment", "DFA": "direct_feedback_alignment"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"some of {','.join(NETWORKS)}")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files (else $JAXANN_DATA_DIR, the cache)")
    args = parser.parse_args(argv)

    from jaxann.data import load
    from jaxann.predict import accuracy
    from jaxann.train import TrainConfig, fit

    mnist = load("mnist", args.data_dir)
    print(f"MNIST, tanh networks, SGD lr 0.05 momentum 0.9 batch 100, {args.epochs} epochs, seed 0")
    print("| network | BP test error % | FA test error % | DFA test error % | FA angles (deg) | "
          "DFA angles (deg) | s / epoch (BP, FA, DFA) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.networks.split(","):
        errors, angles, seconds = {}, {}, {}
        for short, rule in RULES.items():
            config = TrainConfig(hidden=NETWORKS[name], activation="tanh", lr=0.05, batch_size=100, alpha=0.0,
                                 epochs=args.epochs, seed=0, grad=rule, alignment=rule != "backprop", tol=0.0,
                                 n_iter_no_change=args.epochs + 1)
            t0 = time.perf_counter()
            result = fit(config, mnist.raw_train, mnist.y_train, n_out=10, x_divisor=mnist.x_divisor)
            seconds[short] = result.fit_seconds / len(result.history.loss)
            errors[short] = 100 * (1 - accuracy(result.params, mnist.raw_test, mnist.y_test, "tanh",
                                                x_divisor=mnist.x_divisor))
            if result.history.alignment:
                angles[short] = "/".join(f"{a:.0f}" for a in result.history.alignment[-1][:-1])
            print(f"  {name} {short}: {errors[short]:.2f}% in {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                  flush=True)
        print(f"| {name} tanh | {errors['BP']:.2f} | {errors['FA']:.2f} | {errors['DFA']:.2f} | {angles['FA']} | "
              f"{angles['DFA']} | {seconds['BP']:.2f}, {seconds['FA']:.2f}, {seconds['DFA']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The lecture's worked example on MNIST, through jaxann.

The lecture trains scikit-learn's

    MLPClassifier(hidden_layer_sizes=(50,), max_iter=10, alpha=1e-4, solver='sgd',
                  learning_rate_init=.1, random_state=1)

on MNIST (pixels / 255, 60,000 training and 10,000 test images) and prints its loss per
iteration and the two scores (0.986800 / 0.970000). This script runs the same
configuration -- 784-50-10 relu, SGD lr 0.1 with Nesterov momentum 0.9, batch 200,
alpha 1e-4, 10 epochs, seed 1 -- through jaxann's functional training loop.

    JAXANN_DATA_DIR=../shared/data/mnist python scripts/mnist_mlp.py [--grad backprop]
    JAXANN_DATA_DIR=../shared/data/mnist python scripts/mnist_mlp.py --sklearn-api

--sklearn-api runs the lecture's code verbatim, with one change, its import: jaxann's
MLPClassifier in place of scikit-learn's.

The MNIST files are looked for in --data-dir, $JAXANN_DATA_DIR and the cache, and
downloaded when missing (see jaxann.data).
"""

import argparse
import sys

from jaxann.data import load
from jaxann.errors import JaxannError
from jaxann.train import TrainConfig, accuracy, fit


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="folder with the four MNIST IDX files")
    parser.add_argument("--grad", choices=("autodiff", "backprop"), default="autodiff")
    parser.add_argument("--sklearn-api", action="store_true",
                        help="the lecture's code verbatim through jaxann.MLPClassifier")
    args = parser.parse_args(argv)
    try:
        mnist = load("mnist", args.data_dir)
        if args.sklearn_api:
            lecture(mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test)
            return 0
        config = TrainConfig(hidden=(50,), epochs=10, alpha=1e-4, optimizer="sgd", lr=0.1,
                             momentum=0.9, nesterov=True, batch_size=200, seed=1, grad=args.grad)

        def log(progress):
            print(f"Iteration {progress.epoch}, loss = {progress.history.loss[-1]:.8f}", flush=True)

        result = fit(config, mnist.x_train, mnist.y_train, n_out=10, callback=log)
    except JaxannError as e:
        print(f"mnist_mlp: error: {e}", file=sys.stderr)
        return 2
    print(f"Training set score: {accuracy(result.params, mnist.x_train, mnist.y_train, config.activation):f}")
    print(f"Test set score: {accuracy(result.params, mnist.x_test, mnist.y_test, config.activation):f}")
    return 0


def lecture(X_train, y_train, X_test, y_test):
    """The lecture's code (scikit-learn's plot_mnist_filters.py), the import changed."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from jaxann import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=(50,), max_iter=10, alpha=1e-4,
                        solver='sgd', verbose=10, random_state=1,
                        learning_rate_init=.1)

    # this example won't converge because of resource usage constraints on
    # our Continuous Integration infrastructure, so we catch the warning and
    # ignore it here
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module="jaxann")
        mlp.fit(X_train, y_train)

    print("Training set score: %f" % mlp.score(X_train, y_train))
    print("Test set score: %f" % mlp.score(X_test, y_test))


if __name__ == "__main__":
    sys.exit(main())

"""Other libraries' training, timed the way `jaxann.bench` times jaxann's.

Each runner trains the same network as jaxann (sizes, relu, SGD with Nesterov momentum,
learning rate, alpha, batch size, epochs) on the same float32 data and returns a
`jaxann.bench.Run`; the clock covers training only. `python benchmarks/bench.py`
registers them with `jaxann.bench.register`.
"""

from __future__ import annotations

import importlib.util
import time
import warnings

import numpy as np

from jaxann.bench import Run, Skipped
from jaxann.config import TrainConfig


def scikit_learn(data, config: TrainConfig) -> Run:
    """sklearn.neural_network.MLPClassifier with the same settings (its stopping rule off)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=config.hidden, activation="relu", solver="sgd",
                        alpha=config.alpha, batch_size=config.batch_size or len(data.x_train),
                        learning_rate_init=config.lr, momentum=config.momentum,
                        nesterovs_momentum=config.nesterov, max_iter=config.epochs,
                        n_iter_no_change=config.epochs + 1, random_state=config.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        mlp.fit(data.x_train, data.y_train)
        seconds = time.perf_counter() - t0
    return Run(seconds, None, mlp.score(data.x_train, data.y_train), mlp.score(data.x_test, data.y_test))


def pytorch(data, config: TrainConfig) -> Run:
    """The same network and cost in PyTorch (eager), torch.optim.SGD with Nesterov momentum."""
    if importlib.util.find_spec("torch") is None:
        raise Skipped("skipped: torch is not installed (pip install torch)")
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(config.seed)
    sizes = config.sizes(data.x_train.shape[1], data.n_classes)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).to(device)
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, nesterov=config.nesterov)
    x = torch.from_numpy(data.x_train).to(device)
    y = torch.from_numpy(data.y_train).long().to(device)
    n = len(x)
    B = config.batch_size or n
    gen = torch.Generator().manual_seed(config.seed)

    def synchronize():
        if device == "cuda":
            torch.cuda.synchronize()

    synchronize()
    t0 = time.perf_counter()
    for _ in range(config.epochs):
        order = torch.randperm(n, generator=gen).to(device)
        for start in range(0, n, B):
            rows = order[start:start + B]
            out = model(x[rows])
            # the same cost as jaxann and scikit-learn: mean cross-entropy + alpha/(2m) sum ||W||^2
            cost = torch.nn.functional.cross_entropy(out, y[rows]) + \
                config.alpha / (2 * len(rows)) * sum((W * W).sum() for W in weights)
            opt.zero_grad(set_to_none=True)
            cost.backward()
            opt.step()
    synchronize()
    seconds = time.perf_counter() - t0

    def acc(xs, ys):
        with torch.no_grad():
            pred = model(torch.from_numpy(xs).to(device)).argmax(1).cpu().numpy()
        return float(np.mean(pred == ys))

    return Run(seconds, None, acc(data.x_train, data.y_train), acc(data.x_test, data.y_test), f"torch on {device}")


RUNNERS = {"scikit-learn": scikit_learn, "pytorch": pytorch}

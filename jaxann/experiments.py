"""The lecture's experiments: the numbers behind `jaxann plot` (drawn by `jaxann.plots`).

Each function runs one experiment with the library's own training (`jaxann.loop.fit`)
and returns plain data (arrays, lists, dicts); drawing is `jaxann.plots`'s job, so
scripts can reuse either half.

    universal_approximation(widths, targets, epochs, seed)   one hidden layer, MSE fits
    batching(data, epochs, seed)                             online / mini-batch / full batch
    autodiff_vs_backprop(data, epochs, seed)                 same start, two gradient sources
    mnist(data, hidden, epochs, seed)                        the lecture's network, for the weights and mistakes
    perceptron(n, epochs, seed)                              Rosenblatt's rule vs gradient descent through the step
    learning_rules(data, hidden, epochs, seed)               backprop vs feedback alignment, DFA, sign symmetry

Each function's defaults are the figures' defaults (`jaxann plot` passes only the options
given on its command line). The training experiments take `progress(done, total, text)`,
called as their work advances (`jaxann.console.ProgressBar` is one).
"""

from __future__ import annotations

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.activations import get_activation
from jaxann.network import forward
from jaxann.train import TrainConfig, fit, set_learning_rate

# 1-D targets on [-2, 2] for the universal-approximation experiment
TARGETS = {
    "sin(2x)": lambda x: np.sin(2 * x),
    "|x|": np.abs,
    "bump exp(-4x^2)": lambda x: np.exp(-4 * x**2),
}


def _report(progress, done, total, text=""):
    if progress is not None:
        progress(done, total, text)


def universal_approximation(widths=(1, 2, 4, 8, 16, 64), targets=tuple(TARGETS), epochs: int = 2000,
                            seed: int = 0, n: int = 200, progress=None) -> dict:
    """Fit each target with one hidden layer (tanh) of each width, full-batch Adam on the MSE
    (lr 0.01 for two thirds of the epochs, then 0.001).

    Returns {"x": (n,), "targets": {name: (n,)}, "fits": {name: {width: (n,)}},
    "errors": {name: {width: final MSE}}}. The error falls as the width grows: one hidden
    layer approximates any continuous function on an interval, given enough units.
    """
    x = np.linspace(-2, 2, n, dtype=np.float32)[:, None]
    out = {"x": x[:, 0], "targets": {}, "fits": {}, "errors": {}}
    total = len(targets) * len(widths)
    for i, name in enumerate(targets):
        y = TARGETS[name](x).astype(np.float32)
        out["targets"][name] = y[:, 0]
        out["fits"][name], out["errors"][name] = {}, {}
        for j, width in enumerate(widths):
            _report(progress, i * len(widths) + j, total, f"{name}, {width} units")
            config = TrainConfig(hidden=(width,), activation="tanh", loss="mse", optimizer="adam", lr=0.01,
                                 alpha=0.0, batch_size=None, epochs=epochs, seed=seed, tol=0.0,
                                 n_iter_no_change=epochs + 1, shuffle=False)
            # Adam at lr 0.01 ends in a jitter that hides small errors: the last third of the
            # epochs runs at lr 0.001, continuing the same run (optimizer state and all)
            first = fit(replace(config, epochs=2 * epochs // 3), x, y)
            result = fit(config, x, y, resume=replace(first.progress,
                                                      state=set_learning_rate(first.progress.state, 0.001)))
            pred = np.asarray(forward(result.params, x, activation="tanh"))[:, 0]
            out["fits"][name][width] = pred
            out["errors"][name][width] = float(np.mean((pred - y[:, 0]) ** 2))
    _report(progress, total, total)
    return out


def batching(data, epochs: int = 10, seed: int = 0, hidden=(30,), modes=None, progress=None) -> dict:
    """The same network trained on the same data for the same epochs by online (batch 1),
    mini-batch (32) and full-batch gradient descent (plain SGD, a learning rate for each).

    Returns {label: {"loss": [...], "seconds": cumulative wall-clock seconds per epoch}}.
    The seconds are training alone: each mode's program is compiled, and run once, by a
    one-epoch fit before the timed one, so no mode's first epoch carries a compilation or
    the process's first-run costs.
    """
    modes = modes or {"online (batch 1), lr 0.01": (1, 0.01), "mini-batch (32), lr 0.1": (32, 0.1),
                      "full batch, lr 0.5": (None, 0.5)}
    out = {}
    for i, (label, (batch, lr)) in enumerate(modes.items()):
        _report(progress, i, len(modes), label)
        config = TrainConfig(hidden=tuple(hidden), lr=lr, momentum=0.0, nesterov=False, batch_size=batch,
                             epochs=epochs, seed=seed, tol=0.0, n_iter_no_change=epochs + 1)
        fit(replace(config, epochs=1), data.x_train, data.y_train, n_out=data.n_classes)  # warm-up, untimed
        result = fit(config, data.x_train, data.y_train, n_out=data.n_classes)
        out[label] = {"loss": result.history.loss,
                      "seconds": np.cumsum(result.history.seconds).tolist()}
    _report(progress, len(modes), len(modes))
    return out


def autodiff_vs_backprop(data, epochs: int = 10, seed: int = 0, hidden=(30,), progress=None) -> dict:
    """Train from the same initialisation with grad="autodiff" and grad="backprop".

    Returns {"loss": {grad: [...]}, "max_param_difference": [per epoch, max |theta_ad -
    theta_bp| over all parameters]}.
    """
    params_by_epoch, losses = {}, {}
    for i, grad in enumerate(("autodiff", "backprop")):
        config = TrainConfig(hidden=tuple(hidden), epochs=epochs, seed=seed, grad=grad, tol=0.0,
                             n_iter_no_change=epochs + 1)
        snapshots = []

        def after_epoch(p, s=snapshots, i=i, grad=grad):
            s.append(jax.tree.map(np.asarray, p.state.params))
            _report(progress, i * epochs + p.epoch, 2 * epochs, f"{grad}, epoch {p.epoch}")

        result = fit(config, data.x_train, data.y_train, n_out=data.n_classes, callback=after_epoch)
        params_by_epoch[grad], losses[grad] = snapshots, result.history.loss
    diffs = [max(float(np.max(np.abs(a - b))) for a, b in zip(jax.tree.leaves(pa), jax.tree.leaves(pb)))
             for pa, pb in zip(params_by_epoch["autodiff"], params_by_epoch["backprop"])]
    return {"loss": losses, "max_param_difference": diffs}


def mnist(data, hidden=(50,), epochs: int = 10, seed: int = 0, progress=None):
    """The lecture's network (SGD, Nesterov momentum, lr 0.1, batch 200) trained on data;
    its parameters, for the first-layer weights and the confusion matrix."""
    config = TrainConfig(hidden=tuple(hidden), epochs=epochs, seed=seed)
    return fit(config, data.x_train, data.y_train, n_out=data.n_classes,
               callback=lambda p: _report(progress, p.epoch, epochs, f"epoch {p.epoch}")).params


LEARNING_RULES = ("backprop", "feedback_alignment", "direct_feedback_alignment", "sign_symmetry")
RULES_ACTIVATION = "tanh"  # the learning-rules comparison's network (and its figure's title)


def learning_rules(data, hidden=(100, 100), epochs: int = 10, seed: int = 0, rules=LEARNING_RULES,
                   progress=None) -> dict:
    """The same tanh network (SGD, lr 0.05, momentum 0.9, batch 100) trained from the same
    start by backprop and by each rule that sends the error back through other matrices.

    Returns {rule: {"test_accuracy": [per epoch], "alignment": [per epoch, per layer: the
    angle in degrees between the rule's update and the true gradient]}}.
    """
    from jaxann.predict import accuracy

    out = {}
    for i, rule in enumerate(rules):
        config = TrainConfig(hidden=tuple(hidden), activation=RULES_ACTIVATION, lr=0.05, batch_size=100, epochs=epochs,
                             seed=seed, grad=rule, alignment=True, tol=0.0, n_iter_no_change=epochs + 1)
        scores = []

        def after_epoch(p, scores=scores, i=i, rule=rule):
            scores.append(accuracy(p.state.params, data.raw_test, data.y_test, RULES_ACTIVATION,
                                   x_divisor=data.x_divisor))
            _report(progress, i * epochs + p.epoch, len(rules) * epochs, f"{rule}, epoch {p.epoch}")

        result = fit(config, data.raw_train, data.y_train, n_out=data.n_classes, x_divisor=data.x_divisor,
                     callback=after_epoch)
        out[rule] = {"test_accuracy": scores, "alignment": result.history.alignment}
    return out


def separable_points(n: int = 60, seed: int = 0):
    """n 2-D points with labels 0/1, split by a random line with a margin (linearly separable)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, np.pi)
    normal = np.array([np.cos(angle), np.sin(angle)])
    x = rng.uniform(-1, 1, (4 * n, 2))
    side = x @ normal - 0.1
    keep = np.abs(side) > 0.15  # a margin, so the perceptron converges quickly
    x, side = x[keep][:n], side[keep][:n]
    return x.astype(np.float32), (side > 0).astype(np.int32)


def perceptron(n: int = 60, epochs: int = 20, seed: int = 0, lr: float = 0.1) -> dict:
    """Rosenblatt's perceptron rule with the step activation h(z) = [z >= 0], and the same
    unit trained by gradient descent on the squared error through the step.

    Perceptron rule, one example at a time: w <- w + lr (y - h(w.x + b)) x, b likewise.
    Gradient descent: dE/dw = 2 (h(z) - y) h'(z) x with h'(z) = 0 -- the unit never moves.
    Returns {"x", "y", "boundaries": [(w, b) after each epoch, starting with the initial
    one], "errors": [misclassified points per epoch], "gd_boundaries": [...], "gd_errors": [...]}.
    """
    x, y = separable_points(n, seed)
    h = get_activation("step").h
    rng = np.random.default_rng(seed + 1)
    w0, b0 = rng.normal(size=2).astype(np.float32), np.float32(rng.normal())

    def errors(w, b):
        return int(np.sum(np.asarray(h(jnp.asarray(x @ w + b))) != y))

    w, b = w0.copy(), b0
    boundaries, errs = [(w.copy(), float(b))], [errors(w, b)]
    for _ in range(epochs):
        for xi, yi in zip(x, y):
            update = lr * (yi - float(h(jnp.float32(xi @ w + b))))
            w, b = w + update * xi, np.float32(b + update)
        boundaries.append((w.copy(), float(b)))
        errs.append(errors(w, b))

    def squared_error(theta):
        return jnp.mean((h(jnp.asarray(x) @ theta["w"] + theta["b"]) - y) ** 2)

    grad = jax.jit(jax.grad(squared_error))
    theta = {"w": jnp.asarray(w0), "b": jnp.asarray(b0)}
    gd_boundaries, gd_errs = [(np.asarray(theta["w"]), float(theta["b"]))], [errors(w0, b0)]
    for _ in range(epochs):
        g = grad(theta)
        theta = jax.tree.map(lambda p, d: p - lr * d, theta, g)
        gd_boundaries.append((np.asarray(theta["w"]), float(theta["b"])))
        gd_errs.append(errors(np.asarray(theta["w"]), float(theta["b"])))
    return {"x": x, "y": y, "boundaries": boundaries, "errors": errs,
            "gd_boundaries": gd_boundaries, "gd_errors": gd_errs}


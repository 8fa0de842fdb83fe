"""Figures. Each function draws on `ax` (or `axes`; new ones when None) and returns them;
only scripts and the command line save or show figures (`jaxann plot NAME --out FILE`).

    loss_curve(history)                      the epoch loss
    activations(names)                       h(z) and, beside it, h'(z) analytic + central difference
    universal(result)                        fits of growing width over 1-D targets
    batching(result)                         loss against epochs and against seconds
    autodiff_vs_backprop(result)             two loss curves, and their parameters' largest difference
    mnist_panels(params, data, activation)   first-layer weights, confusion matrix, misclassified digits
    confusion_matrix(confusion, classes)     counts of true (rows) against predicted (columns) classes
    perceptron(result)                       boundaries over the epochs: the rule vs gradient descent
    history(metrics)                         loss and accuracy curves of a saved run
    histories(runs)                          several saved runs' curves overlaid, one legend entry each
    learning_rules(result)                   test accuracy per rule; hidden layers' angles to the gradient
    sweep(result)                            a sweep's loss curves; each final score against each swept setting

The numbers come from `jaxann.experiments` (or a training run); this module only draws.
"""

from __future__ import annotations

import numpy as np

FIGSIZE = (6, 4)  # inches, at 100 dpi: 600 x 400 pixels
WIDE = (12, 4.5)


def _axes(ax, figsize=FIGSIZE):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _row(axes, n, figsize=WIDE):
    if axes is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, n, figsize=figsize, layout="constrained")
    return axes


def loss_curve(history, ax=None, label=None):
    """The epoch loss against the epoch number (1-based)."""
    ax = _axes(ax)
    epochs = range(1, len(history.loss) + 1)
    ax.plot(epochs, history.loss, marker="o", label=label or "training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (with L2 term)")
    ax.set_title("Loss curve")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def activations(names=None, z_range=(-5.0, 5.0), eps=1e-3, axes=None):
    """Left: h(z) for each activation. Right: the analytic h'(z) (lines) and the lecture's
    central difference (h(z + eps) - h(z - eps)) / (2 eps) (dots) drawn together; the
    step's derivative, 0 everywhere (undefined at its jump, taken as 0), is marked at 0."""
    import jax.numpy as jnp

    from jaxann.activations import ACTIVATIONS, derivative

    names = list(names or ACTIVATIONS)
    axes = _row(axes, 2)
    z = np.linspace(*z_range, 401, dtype=np.float32)
    z_dots = np.linspace(*z_range, 41, dtype=np.float32) + 0.0625  # off the kinks at 0
    for name in names:
        h, dh = ACTIVATIONS[name]
        (line,) = axes[0].plot(z, np.asarray(h(jnp.asarray(z))), label=name)
        axes[1].plot(z, np.asarray(dh(jnp.asarray(z))), color=line.get_color(), label=f"{name}'")
        axes[1].plot(z_dots, np.asarray(derivative(h, jnp.asarray(z_dots), eps)), ".", color=line.get_color(),
                     markersize=4)
    if "step" in names:
        axes[1].plot([0], [0], "o", markersize=9, markerfacecolor="none", color="black")
        axes[1].annotate("step: h'(0) taken as 0\n(no gradient anywhere)", (0, 0), (0.6, -0.45),
                         fontsize="small", arrowprops={"arrowstyle": "->"})
    axes[0].set_title("Activations h(z)")
    axes[1].set_title(f"h'(z): analytic (lines), central difference, eps {eps:g} (dots)")
    for ax, label in zip(axes, ("h(z)", "h'(z)")):
        ax.set_xlabel("z")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", ncol=2)
    axes[0].set_ylim(-1.5, 5.1)
    axes[1].set_ylim(-0.6, 1.6)
    return axes


def universal(result, axes=None):
    """One panel per target: the target (black) and the fit of each width."""
    names = list(result["targets"])
    axes = _row(axes, len(names), figsize=(4.5 * len(names), 4))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names):
        ax.plot(result["x"], result["targets"][name], color="black", linewidth=3, alpha=0.4, label="target")
        for width, fit in result["fits"][name].items():
            ax.plot(result["x"], fit, label=f"{width} units (MSE {result['errors'][name][width]:.1e})")
        ax.set_title(f"Universal approximation: {name}")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    return axes


def batching(result, axes=None):
    """Left: loss against epochs. Right: the same losses against wall-clock seconds."""
    axes = _row(axes, 2)
    for label, run in result.items():
        epochs = range(1, len(run["loss"]) + 1)
        axes[0].plot(epochs, run["loss"], marker="o", label=label)
        axes[1].plot(run["seconds"], run["loss"], marker="o", label=label)
    axes[0].set_xlabel("epoch")
    axes[1].set_xlabel("wall-clock seconds")
    axes[0].set_title("Online vs mini-batch vs full batch: per epoch")
    axes[1].set_title("... and per second")
    for ax in axes:
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return axes


def autodiff_vs_backprop(result, axes=None):
    """Left: both loss curves. Right: per epoch, max |theta_autodiff - theta_backprop|."""
    axes = _row(axes, 2)
    for grad, style in (("autodiff", "-o"), ("backprop", "--x")):
        loss = result["loss"][grad]
        axes[0].plot(range(1, len(loss) + 1), loss, style, label=f"grad={grad}")
    diffs = result["max_param_difference"]
    axes[1].semilogy(range(1, len(diffs) + 1), np.maximum(diffs, 1e-17), "o-", color="C3")
    axes[0].set_title("Same start, two gradient sources")
    axes[0].set_ylabel("training loss")
    axes[1].set_title("Largest parameter difference (0 drawn at 1e-17)")
    axes[1].set_ylabel("max |theta_autodiff - theta_backprop|")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].legend()
    return axes


def mnist_panels(params, data, activation="relu", n_weights=16, n_wrong=16, fig=None):
    """First-layer weights as images, the test confusion matrix, and misclassified test digits."""
    import matplotlib.pyplot as plt

    from jaxann.predict import predict

    fig = fig or plt.figure(figsize=(15, 5.2), layout="constrained")
    left, middle, right = fig.subfigures(1, 3, width_ratios=[1, 1.1, 1])
    rows, cols = data.image_shape
    W = np.asarray(params[0]["W"])
    k = min(n_weights, W.shape[1])
    side = int(np.ceil(np.sqrt(k)))
    axes = left.subplots(side, side)
    vmax = np.abs(W[:, :k]).max()
    for j, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if j < k:
            ax.imshow(W[:, j].reshape(rows, cols), cmap="RdBu", vmin=-vmax, vmax=vmax)
    left.suptitle(f"First-layer weights W^1[:, j], {k} of {W.shape[1]} units")
    pred = predict(params, data.x_test, activation)
    n_classes = data.n_classes
    confusion = np.zeros((n_classes, n_classes), int)
    np.add.at(confusion, (data.y_test, pred), 1)
    confusion_matrix(confusion, range(n_classes), ax=middle.subplots(),
                     title=f"{data.name} test confusion matrix (accuracy {np.mean(pred == data.y_test):.4f})")
    wrong = np.flatnonzero(pred != data.y_test)[:n_wrong]
    side = int(np.ceil(np.sqrt(max(len(wrong), 1))))
    axes = right.subplots(side, side)
    for ax, i in zip(np.ravel(axes), list(wrong) + [None] * side * side):
        ax.axis("off")
        if i is not None:
            ax.imshow(data.x_test[i].reshape(rows, cols), cmap="gray_r")
            ax.set_title(f"true {data.y_test[i]}, pred {pred[i]}", fontsize="x-small")
    right.suptitle(f"Misclassified test digits ({len(wrong)} of {int(np.sum(pred != data.y_test))})")
    return fig


def confusion_matrix(confusion, classes, ax=None, title="Confusion matrix"):
    """confusion (k, k): entry [i, j] counts the rows of class classes[i] predicted
    classes[j], drawn as an image with each count written in its cell."""
    ax = _axes(ax, figsize=(5.5, 5))
    confusion = np.asarray(confusion)
    k = len(confusion)
    ax.imshow(confusion, cmap="Blues")
    for i in range(k):
        for j in range(k):
            ax.text(j, i, confusion[i, j], ha="center", va="center", fontsize="x-small",
                    color="white" if confusion[i, j] > confusion.max() / 2 else "black")
    labels = [str(c) for c in classes]
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(k), labels)
    ax.set_yticks(range(k), labels)
    ax.set_title(title)
    return ax


def _boundary(ax, w, b, lim, **style):
    """The line w.x + b = 0 inside the square [-lim, lim]^2."""
    xs = np.linspace(-lim, lim, 2)
    if abs(w[1]) > 1e-12:
        ax.plot(xs, -(w[0] * xs + b) / w[1], **style)
    else:
        ax.axvline(-b / w[0], **style)


def perceptron(result, axes=None):
    """Left: the perceptron rule's boundary after each epoch (light to dark). Right: gradient
    descent through the step -- the boundary never moves."""
    import matplotlib.pyplot as plt

    axes = _row(axes, 2, figsize=(11, 5))
    x, y = result["x"], result["y"]
    for ax, key, title in ((axes[0], "boundaries", "Perceptron rule"),
                           (axes[1], "gd_boundaries", "Gradient descent via the step")):
        ax.scatter(*x[y == 1].T, marker="o", label="y = 1")
        ax.scatter(*x[y == 0].T, marker="x", label="y = 0")
        bounds = result[key]
        colors = plt.cm.viridis(np.linspace(0, 1, len(bounds)))
        for k, ((w, b), color) in enumerate(zip(bounds, colors)):
            _boundary(ax, w, b, 1.2, color=color, alpha=0.8, linewidth=1 + (k == len(bounds) - 1),
                      label="start" if k == 0 else (f"after epoch {k}" if k == len(bounds) - 1 else None))
        errors = result["errors" if key == "boundaries" else "gd_errors"]
        ax.set_title(f"{title}: {errors[0]} -> {errors[-1]} misclassified")
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-1.2, 1.2)
        ax.set_xlabel("x_1")
        ax.set_ylabel("x_2")
        ax.legend(fontsize="small", loc="lower left")
        ax.grid(alpha=0.3)
    return axes


def history(metrics, axes=None):
    """Loss (left) and accuracy (right) per epoch of a saved `jaxann train --out DIR` run
    (its metrics as `jaxann.runs.RunFolder.read_metrics` gives them)."""
    axes = _row(axes, 2)
    h = metrics["history"]
    epochs = range(1, len(h["loss"]) + 1)
    axes[0].plot(epochs, h["loss"], "o-", label="training loss")
    if h.get("validation_loss"):  # runs written before jaxann recorded it have none
        axes[0].plot(epochs[:len(h["validation_loss"])], h["validation_loss"], "s-",
                     label="validation loss (no L2 term)")
    if h["train_accuracy"]:
        axes[1].plot(epochs, h["train_accuracy"], "o-", label="training accuracy (running, per epoch)")
    if h["validation_score"]:
        axes[1].plot(epochs, h["validation_score"], "s-", label="validation score")
    axes[1].axhline(metrics["test_accuracy"], color="gray", linestyle="--",
                    label=f"final test accuracy {metrics['test_accuracy']:.4f}")
    axes[0].set_ylabel("loss (with L2 term)")
    axes[1].set_ylabel("accuracy")
    c = metrics["config"]
    axes[0].set_title(f"{metrics.get('dataset', {}).get('name', '')} {'-'.join(map(str, metrics.get('dataset', {}).get('sizes', [])))} "
                      f"{c['activation']}, {c['optimizer']} lr {c['lr']:g}")
    axes[1].set_title("Accuracy")
    return _per_epoch(axes)


def _per_epoch(axes):
    """Axes over epochs: integer ticks, a grid, a legend."""
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return axes


def histories(runs, axes=None):
    """Loss (left) and validation score, else running training accuracy, (right) per epoch
    of several saved runs overlaid: runs is [(label, metrics)], each label naming what sets
    the run apart; each run's final test accuracy is a dashed line in its colour."""
    axes = _row(axes, 2)
    for k, (label, metrics) in enumerate(runs):
        color, h = f"C{k % 10}", metrics["history"]
        epochs = range(1, len(h["loss"]) + 1)
        axes[0].plot(epochs, h["loss"], "o-", color=color, markersize=3, label=label)
        score = h["validation_score"] or h["train_accuracy"]
        if score:
            axes[1].plot(epochs, score, "o-", color=color, markersize=3,
                         label=f"{label} ({'validation' if h['validation_score'] else 'training'})")
        axes[1].axhline(metrics["test_accuracy"], color=color, linestyle="--", linewidth=1)
    names = {m.get("dataset", {}).get("name") for _, m in runs} - {None}
    axes[0].set(ylabel="loss (with L2 term)", title=f"{', '.join(sorted(names)) or 'Runs'}: loss per epoch")
    axes[1].set(ylabel="accuracy", title="Accuracy per epoch (dashed: final test accuracy)")
    return _per_epoch(axes)


def learning_rules(result, axes=None):
    """Left: test accuracy against epochs, one line per learning rule. Right: each hidden
    layer's angle to the true gradient over training (backprop's is 0, left out)."""
    axes = _row(axes, 2)
    styles = ["-", "--", ":", "-."]
    for k, (rule, run) in enumerate(result.items()):
        color = f"C{k}"
        epochs = range(1, len(run["test_accuracy"]) + 1)
        axes[0].plot(epochs, run["test_accuracy"], marker="o", color=color, label=rule)
        if rule == "backprop":
            continue
        angles = np.asarray(run["alignment"])[:, :-1]  # hidden layers; the output layer's is the gradient
        for layer in range(angles.shape[1]):
            axes[1].plot(epochs, angles[:, layer], color=color, linestyle=styles[layer % len(styles)],
                         label=f"{rule}, layer {layer + 1}")
    axes[0].set(xlabel="epoch", ylabel="test accuracy", title="Learning rules: test accuracy")
    axes[1].set(xlabel="epoch", ylabel="angle to the true gradient (degrees)", ylim=(0, 90),
                title="Each hidden layer's update vs the gradient")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return axes


SCALE_LOG = ("lr", "alpha", "epsilon", "tol")  # settings swept over orders of magnitude


def sweep(result, axes=None, score=None):
    """Left: every model's loss curve (a `jaxann.sweep.SweepResult`). Then one panel per
    swept setting (at most three): each model's final score (`score`, default "test" when
    evaluated, else "train") against that setting's value."""
    names = [n for n in _differing(result.configs)][:3]
    axes = np.atleast_1d(_row(axes, 1 + len(names), figsize=(4.5 * (1 + len(names)), 4)))
    score = score or ("test" if "test" in result.scores else "train")
    values = result.scores[score]
    for history in result.histories:
        axes[0].plot(range(1, len(history.loss) + 1), history.loss, alpha=0.6)
    axes[0].set(xlabel="epoch", ylabel="loss (with L2 term)", yscale="log",
                title=f"Loss curves of {len(result.configs)} models")
    for ax, name in zip(axes[1:], names):
        settings = [c.to_dict()[name] for c in result.configs]
        if name == "hidden":
            settings = ["-".join(map(str, h)) for h in settings]
        elif name == "batch_size":
            settings = ["full" if b is None else str(b) for b in settings]
        ax.scatter(settings, values, alpha=0.7)
        if name in SCALE_LOG:
            ax.set_xscale("log")
        ax.set(xlabel=name, ylabel=f"{score} score", title=f"{score} score against {name}")
    for ax in axes:
        ax.grid(alpha=0.3)
    return axes


def _differing(configs):
    from jaxann.sweep import differing  # the sweep's own notion of a swept setting

    return differing(configs)

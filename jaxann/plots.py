"""Figures. Each function draws on `ax` (a new figure's axes when None) and returns the
axes; only scripts and the command line save or show figures."""

from __future__ import annotations


def _axes(ax, figsize=(6, 4)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


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

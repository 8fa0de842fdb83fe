"""Many models in one compiled program: sweeps over seeds and numeric hyperparameters.

    result = fit_many(config, x, y, seeds=[1, 2, 3], lr=[0.1, 0.03], alpha=[1e-4], momentum=[0.9])

trains the grid seeds x lr x alpha x momentum (K models) at once: the training step of
`jaxann.train` is `jax.vmap`-ed over the models' parameters, optimizer states (which
hold each model's learning rate and momentum) and alphas, and over each model's row
orders, while the data are shared. One compilation serves the whole grid, and one
device call trains all K models for an epoch -- on a GPU, where one small network
leaves most of the chip idle, K models cost little more than one.

Each model's result equals training it alone with `jaxann.train.fit` and the same seed
and settings, to rounding: vmap batches the matrix products, which sums in another
order (measured on digits, 16 models, 10 epochs: parameters within 1e-16 relative in
float64, 6e-8 in float32).

What a sweep leaves out: early stopping (every model trains config.epochs epochs; tol
and n_iter_no_change are not applied), validation splits and the 'adaptive' schedule
(each would stop or change models at different epochs) -- asking for them is an error.
Architecture, optimizer, batch size and Nesterov are shared by all models.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.compiling import counting
from jaxann.config import TrainConfig
from jaxann.errors import JaxannError
from jaxann.inputs import check_data
from jaxann.loop import History, epoch_order, start
from jaxann.losses import target_rows
from jaxann.predict import accuracy
from jaxann.program import Metrics, compiled_epoch
from jaxann.rules import Schedule, Stopping, divergence


@dataclass
class SweepResult:
    configs: list  # the K members' TrainConfigs (seed, lr, alpha, momentum filled in)
    params: list  # K parameter tuples
    histories: list  # K Histories (loss and running train accuracy per epoch)
    compile_seconds: float
    fit_seconds: float


def grid(config: TrainConfig, seeds=None, lr=None, alpha=None, momentum=None) -> list:
    """The K member configs of the grid seeds x lr x alpha x momentum (each default: config's)."""
    axes = [seeds or [config.seed], lr or [config.lr], alpha or [config.alpha], momentum or [config.momentum]]
    return [replace(config, seed=s, lr=float(r), alpha=float(a), momentum=float(m)).validate()
            for s, r, a, m in itertools.product(*axes)]


def fit_many(config: TrainConfig, x, y, *, n_out: int | None = None, seeds=None, lr=None, alpha=None,
             momentum=None, callback=None) -> SweepResult:
    """Train the grid (see `grid`) on rows x (n, n_0) and labels / targets y as one program.

    callback(epoch, losses) runs after each epoch with the K losses (a list).
    """
    config.validate()
    if config.validation_fraction > 0:
        raise JaxannError("a sweep trains every model for all its epochs: validation_fraction must be 0")
    if config.optimizer == "lbfgs":
        raise JaxannError("a sweep trains sgd or adam models; run L-BFGS with `fit`, one model at a time")
    if config.optimizer == "sgd" and config.lr_schedule == "adaptive":
        raise JaxannError("the 'adaptive' schedule changes models at different epochs: use it with "
                          "`fit`, one model at a time")
    members = grid(config, seeds, lr, alpha, momentum)
    with counting() as compiled:
        return _fit_many(config, members, x, y, n_out, callback, compiled)


def _fit_many(config, members, x, y, n_out, callback, compiled) -> SweepResult:
    x, y, n_out = check_data(x, y, n_out)
    n, dtype = x.shape[0], jnp.dtype(config.dtype)
    sizes = config.sizes(x.shape[1], n_out)
    # each member's initial state from one compiled program, stacked on the host (no program)
    progress = [start(m, sizes=sizes) for m in members]
    states = jax.device_put(jax.tree.map(lambda *leaves: np.stack(leaves), *(jax.device_get(p.state) for p in progress)))
    t = target_rows(y, n_out, dtype)
    x_dev, t_dev = jax.device_put(np.asarray(x, dtype)), jax.device_put(t)

    def orders(k):
        return np.stack([epoch_order(m.seed, k, n, config.shuffle) for m in members])

    epoch, _ = compiled_epoch(config, n, (states, x_dev, t_dev, None, None, orders(0)), models=True)
    histories = [History() for _ in members]
    schedule = Schedule.of(config, lr0=np.array([m.lr for m in members]))
    fit_start = time.perf_counter()
    for k in range(config.epochs):
        t_epoch = time.perf_counter()
        states, metrics = epoch(states, x_dev, t_dev, None, None, orders(k))
        # the epoch's one read-back
        losses, correct, _, finite, _ = Metrics.unpack(jax.device_get(metrics))
        losses = losses.tolist()
        # every model trains every epoch: the rule never stops them, the schedule sets the rates
        states = schedule.after_epoch(states, (k + 1) * n, Stopping(), config.n_iter_no_change)[0]
        seconds = time.perf_counter() - t_epoch
        for h, loss, c, ok in zip(histories, losses, correct, finite):
            if h.stopped:
                continue
            h.loss.append(loss)
            if y.ndim == 1:
                h.train_accuracy.append(float(c) / n)
            h.seconds.append(seconds)
            h.stopped = divergence(loss, ok, k + 1)
        if callback is not None:
            callback(k + 1, losses)
    fit_seconds = time.perf_counter() - fit_start
    stacked = jax.device_get(states.params)
    params = [jax.tree.map(lambda a, i=i: a[i], stacked) for i in range(len(members))]
    return SweepResult(members, params, histories, compiled.seconds, fit_seconds)


def member_settings(config: TrainConfig) -> dict:
    """The swept settings of one member, for tables and metrics."""
    return {"seed": config.seed, "lr": config.lr, "alpha": config.alpha, "momentum": config.momentum}


def accuracies(result: SweepResult, x, y, activation: str) -> list:
    """Each model's accuracy on rows x with labels (or targets) y."""
    return [accuracy(p, x, y, activation) for p in result.params]


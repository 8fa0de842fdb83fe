"""The decisions taken between epochs: scikit-learn's stopping rule and learning-rate schedules.

Both are small immutable objects that the training loop (`jaxann.loop`) consults after
each epoch, for each model; neither runs on the device.

    stopping = stopping.after_epoch(loss, tol)                   no validation set
    stopping = stopping.after_epoch(loss, tol, score)            with one (improved: a new best)
    stopping.trips(n_iter_no_change)                             whether to stop
    lr, answered = schedule.after_epoch(lr, samples_seen, tripped)   the next epoch's rate
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from jaxann.config import TrainConfig

MIN_ADAPTIVE_LR = 1e-6  # 'adaptive' stops once the rate is this small


def divergence(loss: float, params_finite: bool, epoch: int) -> str:
    """Why training must stop after `epoch` (1-based): a non-finite loss or parameters;
    "" while both are finite."""
    if not math.isfinite(loss):
        return f"the loss became {loss} in epoch {epoch}"
    if not params_finite:
        return f"the parameters became infinite or NaN in epoch {epoch}"
    return ""


@dataclass(frozen=True)
class Stopping:
    """The stopping rule's memory, carried from epoch to epoch (and over resumed runs).

    Without a validation set an epoch improves when its loss falls below best_loss - tol;
    with one, when its score rises above best_score + tol (and the best epoch's parameters
    are kept). no_improvement counts the epochs running that did not improve.
    """

    best_loss: float = math.inf
    best_score: float = -math.inf
    best_params: tuple | None = None
    no_improvement: int = 0

    def after_epoch(self, loss: float, tol: float, score: float | None = None, params=None) -> "Stopping":
        if score is None:
            worse = loss > self.best_loss - tol
            return replace(self, best_loss=min(self.best_loss, loss),
                           no_improvement=self.no_improvement + 1 if worse else 0)
        worse = score < self.best_score + tol
        best = score > self.best_score
        return replace(self, best_score=score if best else self.best_score,
                       best_params=params if best else self.best_params,
                       no_improvement=self.no_improvement + 1 if worse else 0)

    def trips(self, n_iter_no_change: int) -> bool:
        return self.no_improvement > n_iter_no_change


@dataclass(frozen=True)
class Schedule:
    """scikit-learn's learning-rate schedules (sgd only; Adam keeps its rate constant).

    constant:   lr stays lr0
    invscaling: lr = lr0 / (s + 1) ** power_t after each epoch, s = samples seen so far
    adaptive:   when the stopping rule trips, lr / 5 (and the rule counts afresh), until
                lr <= 1e-6, when the trip stops training
    The schedule only sets rates; the stopping rule (`Stopping`) decides when to stop.
    """

    kind: str
    lr0: float
    power_t: float

    @classmethod
    def of(cls, config: TrainConfig) -> "Schedule":
        kind = config.lr_schedule if config.optimizer == "sgd" else "constant"
        return cls(kind, config.lr, config.power_t)

    def after_epoch(self, lr: float, samples_seen: int, tripped: bool) -> tuple[float, bool]:
        """(the rate for the next epoch, whether it answers the stopping rule's trip: then
        training goes on at the lower rate, and the rule's count starts again)."""
        if self.kind == "invscaling":
            return self.lr0 / (samples_seen + 1) ** self.power_t, False
        if self.kind == "adaptive" and tripped and lr > MIN_ADAPTIVE_LR:
            return lr / 5, True
        return lr, False

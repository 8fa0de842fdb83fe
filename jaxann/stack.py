"""A program's models as the loop holds them, and compacting them.

    stack = Stack(stacked, placement)     one model's unstacked state, or K stacked (vmapped)
    worth_compacting(members, models, devices)   most of a stacked program's models stopped?
    models = compacted(members, devices)         the members still training (and padding)
    everyone = merged(everyone, state, best, models, stack)   every member's arrays, on the host

A stacked program computes every model's epoch, a stopped one's too (it is frozen: its
arrays come back unchanged), and on a CPU a model's slot costs what training it does. So
`jaxann.loop.run_epochs` compacts a program whose models still training fill at most
1/COMPACT_AT of its slots, while one of them may yet train COMPACT_EPOCHS x its
n_iter_no_change epochs: they go on in a program of their own (compiled, or loaded from the
program store, like any other), the stopped ones' arrays kept on the host. The rule reads
only which members have stopped, so every run of the same inputs compacts at the same
rounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxann import compiling
from jaxann.placement import Placement
from jaxann.program import Metrics, TrainState, set_learning_rate

# a stacked program is compacted once its models still training fill at most 1/COMPACT_AT of
# its slots and COMPACT_EPOCHS x n_iter_no_change epochs or more may remain: the smaller
# program is a compilation of its own, which that many epochs repay
COMPACT_AT = 4
COMPACT_EPOCHS = 2


@dataclass(frozen=True)
class Stack:
    """How the loop reaches its models' arrays: one model's unstacked state (stacked
    False), or K states stacked along a leading axis and trained by the vmapped epoch,
    which leaves a model that is done, or whose epoch diverged, as it was."""

    stacked: bool
    placement: Placement

    def metrics(self, packed) -> Metrics:
        """The round's Metrics, each field with a leading model axis (K,)."""
        host = self.placement.gather(packed)
        return Metrics.unpack(host if self.stacked else np.asarray(host)[None])

    def accept(self, new, old, keep: list):
        """The state after a round: the program's (stacked: it already froze the models
        that stopped or diverged), or for one model, the old one unless kept."""
        return new if self.stacked or keep[0] else old

    def with_rates(self, state: TrainState, lrs: list) -> TrainState:
        return set_learning_rate(state, np.asarray(lrs) if self.stacked else lrs[0])

    def keep_best(self, best, params, improved: list):
        """Each model's best parameters: params where the score improved, else best's."""
        if not self.stacked:
            return params if improved[0] else best
        if best is None:
            return params
        mask = self.placement.feed(np.asarray(improved))
        program, _ = compiling.compiled("keep_best", lambda: _select, (mask, params, best))
        return program(mask, params, best)


def _select(mask, new, old):
    return jax.tree.map(lambda a, b: jnp.where(mask.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), new, old)


def padded_count(going: int, devices: int) -> int:
    return -(-going // devices) * devices


def worth_compacting(members: list, models: list, devices: int) -> bool:
    """Whether a program of the members still training (padded to a multiple of the
    devices) would fill at most 1/COMPACT_AT of this one's slots while one of them may
    train COMPACT_EPOCHS x its n_iter_no_change epochs or more."""
    going = [members[i] for i in models if not members[i].done]
    return 0 < padded_count(len(going), devices) * COMPACT_AT <= len(models) and any(
        m.config.epochs - m.epoch >= COMPACT_EPOCHS * m.config.n_iter_no_change for m in going)


def compacted(members: list, devices: int) -> list:
    """The members still training, then as many of the stopped ones (the first) as make a
    multiple of the devices: they stay frozen."""
    going = [i for i, m in enumerate(members) if not m.done]
    stopped = [i for i, m in enumerate(members) if m.done]
    return going + stopped[:padded_count(len(going), devices) - len(going)]


def restacked(stack: Stack, K: int) -> Stack:
    """A Stack of K models over stack's devices."""
    return Stack(True, Placement.models(stack.placement.devices, K))


def taken(everyone, models: list, stack: Stack) -> tuple:
    """The (state, best) of a program of `models`, from every member's on the host."""
    return tuple(None if tree is None else stack.placement.stack(jax.tree.map(lambda a: a[models], tree))
                 for tree in everyone)


def merged(everyone, state, best, models, stack: Stack) -> tuple:
    """Every member's (state, best) as new host arrays: the program's (everyone None: it
    holds them all), or everyone's with the program's models written over their members'."""
    state, best = stack.placement.gather(state), None if best is None else stack.placement.gather(best)
    if everyone is None:
        return jax.tree.map(np.array, state), None if best is None else jax.tree.map(np.array, best)
    all_state, all_best = everyone
    if best is not None and all_best is None:  # the first best came after the compaction
        all_best = all_state.params
    return _written(all_state, state, models), None if best is None else _written(all_best, best, models)


def _written(whole, part, models: list):
    """A copy of the tree whole with part's models written over its entries `models`."""
    def write(a, b):
        a = np.array(a)
        a[models] = b
        return a

    return jax.tree.map(write, whole, part)

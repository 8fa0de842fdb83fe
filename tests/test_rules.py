"""`jaxann.rules`: scikit-learn's stopping rule and learning-rate schedules, step by step."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxann.config import TrainConfig
from jaxann.program import initial_state, learning_rate, set_learning_rate
from jaxann.rules import Schedule, Stopping


def test_loss_rule_counts_epochs_that_fail_to_beat_the_best_by_tol():
    s = Stopping()
    counts = []
    for loss in (1.0, 0.95, 0.949, 0.90, 0.91):  # tol 0.01: 0.949 and 0.91 do not improve enough
        s = s.after_epoch(loss, tol=0.01)
        counts.append(s.no_improvement)
    assert counts == [0, 0, 1, 0, 1] and s.best_loss == 0.90
    assert not s.trips(1) and s.after_epoch(0.92, tol=0.01).trips(1)  # 2 > 1


def test_score_rule_keeps_the_best_parameters():
    s = Stopping()
    for score, params in ((0.5, "a"), (0.7, "b"), (0.69, "c"), (0.705, "d")):
        s = s.after_epoch(loss=1.0, tol=0.01, score=score, params=params)
    # 0.705 is a new best (kept) but not better by more than tol: it counts as no improvement
    assert (s.best_score, s.best_params, s.no_improvement) == (0.705, "d", 2)
    assert s.best_loss == math.inf  # the loss is not what this rule watches


def test_invscaling_sets_lr0_over_samples_seen_to_the_power_t():
    config = TrainConfig(lr=0.5, lr_schedule="invscaling", power_t=0.5)
    lr, answered = Schedule.of(config).after_epoch(0.5, 99, tripped=False)
    assert lr == pytest.approx(0.5 / 10) and not answered  # (99 + 1) ** 0.5 = 10
    # a trip is the stopping rule's to act on: invscaling does not answer it
    assert Schedule.of(config).after_epoch(0.5, 99, tripped=True) == (lr, False)


def test_adaptive_divides_by_five_until_the_floor_then_leaves_the_trip_to_stop():
    schedule = Schedule.of(TrainConfig(lr=1e-5, lr_schedule="adaptive"))
    assert schedule.after_epoch(1e-5, 0, tripped=False) == (1e-5, False)  # no trip: the rate stays
    lr, answered = schedule.after_epoch(1e-5, 0, tripped=True)
    assert answered and lr == pytest.approx(2e-6)
    # at 2e-6 one more division: 4e-7 <= 1e-6; a rate at the floor no longer answers
    lr, answered = schedule.after_epoch(lr, 0, tripped=True)
    assert answered and lr == pytest.approx(4e-7)
    assert schedule.after_epoch(lr, 0, tripped=True) == (lr, False)


def test_adam_ignores_the_sgd_schedules():
    config = TrainConfig(optimizer="adam", lr=0.01, lr_schedule="invscaling")
    assert Schedule.of(config).after_epoch(0.01, 1000, tripped=False) == (0.01, False)


def test_a_stacked_state_takes_one_rate_per_model():
    config = TrainConfig()
    one = initial_state(config, [2, 3, 2])
    states = jax.tree.map(lambda *a: jnp.stack(a), one, one)
    np.testing.assert_allclose(learning_rate(set_learning_rate(states, [0.05, 0.15])), [0.05, 0.15], rtol=1e-6)

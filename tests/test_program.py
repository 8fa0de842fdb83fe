"""`jaxann.program`: one compiled epoch per program, kept and reused exactly."""

from dataclasses import replace

import jax
import numpy as np
import pytest

import jaxann.program as program_mod
from jaxann import compiling
from jaxann.config import TrainConfig
from jaxann.loop import fit


def test_no_recompilation_between_epochs(monkeypatch, fresh_programs, small_problem):
    traces = []
    real_make_step = program_mod.make_step

    def counting_make_step(*args):
        step = real_make_step(*args)

        def counted(state, batch):
            traces.append(1)  # runs once per trace, never per executed step
            return step(state, batch)

        return counted

    monkeypatch.setattr(program_mod, "make_step", counting_make_step)
    x, y = small_problem(n=30)
    result = fit(TrainConfig(hidden=(5,), epochs=6, batch_size=7), x, y)
    assert len(result.history.loss) == 6
    assert len(traces) == 1  # one trace of the step serves all six epochs
    assert result.compile_seconds > 0
    # another fit of the same program (other seed, rates, alpha, data values) reuses it
    again = fit(TrainConfig(hidden=(5,), epochs=2, batch_size=7, seed=3, lr=0.3, momentum=0.5, alpha=0.1), -x, y)
    assert len(traces) == 1 and again.compiled == [] and again.compile_seconds == 0.0
    fit(TrainConfig(hidden=(5,), epochs=2, batch_size=8), x, y)  # another batch size: another program
    assert len(traces) == 2


@pytest.mark.parametrize("first, second", [
    ({}, {"lr": 0.02, "momentum": 0.5, "alpha": 0.3, "seed": 4}),
    ({"nesterov": False}, {"nesterov": False, "lr": 0.3, "momentum": 0.0, "lr_schedule": "invscaling"}),
    ({"optimizer": "adam", "lr": 0.01}, {"optimizer": "adam", "lr": 0.003, "beta1": 0.5, "beta2": 0.9,
                                         "epsilon": 1e-3, "seed": 2}),
], ids=["sgd", "sgd-plain-invscaling", "adam"])
def test_a_kept_program_trains_exactly_as_a_fresh_compilation(monkeypatch, first, second, x64, fresh_programs,
                                                               small_problem):
    # the kept program must read every numeric setting from its inputs, none baked in at its
    # first compilation: a fit through it equals the same fit compiled afresh, bit for bit
    x, y = small_problem(n=23, n_in=4, n_out=3)
    base = {"hidden": (6,), "epochs": 4, "batch_size": 5, "activation": "tanh", "dtype": "float64"}
    fit(TrainConfig(**base, **first), x, y)
    kept = fit(TrainConfig(**base, **second), x, y)
    assert kept.compiled == [] and kept.compile_seconds == 0.0
    monkeypatch.setattr(compiling, "_KEPT", compiling.OrderedDict())
    fresh = fit(TrainConfig(**base, **second), x, y)
    assert fresh.compiled == ["epoch"] and fresh.compile_seconds > 0
    assert kept.history.loss == fresh.history.loss
    for a, b in zip(jax.tree.leaves(kept.params), jax.tree.leaves(fresh.params)):
        np.testing.assert_array_equal(a, b)


def test_every_program_field_is_in_the_key_and_no_other(fresh_programs, small_problem):
    # a field that shapes the program compiles anew; input and loop fields reuse the program
    base = TrainConfig(hidden=(5,), epochs=1, batch_size=4)
    x, y = small_problem(n=12)
    fit(base, x, y)
    for change in ({"activation": "tanh"}, {"grad": "backprop"}, {"optimizer": "adam"},
                   {"loss": "mse"}, {"batch_size": 3}, {"hidden": (6,)}, {"alignment": True},
                   {"grad": "feedback_alignment"}):
        assert "epoch" in fit(replace(base, **change), x, y).compiled, change
    for change in ({"lr": 0.5}, {"alpha": 0.3}, {"seed": 9}, {"epochs": 2}, {"tol": 1.0}, {"shuffle": False},
                   {"lr_schedule": "invscaling"}, {"init": "he_normal"}, {"max_fun": 5},
                   {"feedback_scale": 2.0}, {"nesterov": False}, {"momentum": 0.0, "nesterov": False}):
        assert "epoch" not in fit(replace(base, **change), x, y).compiled, change


def test_program_config_resets_what_the_program_does_not_read():
    config = TrainConfig(lr=0.7, alpha=0.2, seed=5, epochs=3, activation="tanh", batch_size=7)
    program = config.program_config()
    assert (program.lr, program.alpha, program.seed, program.epochs) == (0.1, 1e-4, 1, 10)
    assert (program.activation, program.batch_size) == ("tanh", 7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_inside_a_program_finds_each_non_finite_entry(dtype, x64):
    """`program.all_finite`, compiled: a * 0 is NaN for an infinite or NaN entry and 0 for
    any finite one, the largest included (the compiled program must not fold a * 0 to 0)."""
    check = jax.jit(program_mod.all_finite)
    big = np.finfo(dtype).max
    tree = ({"W": np.full((4, 3), big, dtype), "b": np.zeros(3, dtype)}, {"W": np.ones((3, 2), dtype)})
    assert bool(check(tree))
    for leaf in (("W", 0), ("b", 0), ("W", 1)):
        for value in (np.inf, -np.inf, np.nan):
            broken = jax.tree.map(np.copy, tree)
            broken[leaf[1]][leaf[0]].flat[-1] = value
            assert not bool(check(broken)), (leaf, value)

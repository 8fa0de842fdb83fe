"""Sweeps: many models in one compiled program, each equal to training it alone."""

import json

import jax
import numpy as np
import pytest

from jaxann.cli import main
from jaxann.config import TrainConfig
from jaxann.data import load
from jaxann.gradcheck import relative_error
from jaxann.loop import fit
from jaxann.sweep import fit_many, grid


@pytest.fixture(scope="module")
def digits():
    return load("digits")


@pytest.mark.parametrize("optimizer,schedule", [("sgd", "constant"), ("sgd", "invscaling"), ("adam", "constant")])
def test_each_swept_model_equals_training_it_alone_float64(digits, optimizer, schedule, x64):
    config = TrainConfig(hidden=(12,), epochs=4, optimizer=optimizer, lr_schedule=schedule,
                         lr=0.1 if optimizer == "sgd" else 0.01, dtype="float64")
    result = fit_many(config, digits.x_train, digits.y_train, n_out=10, seeds=[1, 2], lr=[config.lr, config.lr / 3],
                      alpha=[1e-4, 1e-1], momentum=[0.9, 0.5])
    assert len(result.configs) == 16 and len({(m.seed, m.lr, m.alpha, m.momentum) for m in result.configs}) == 16
    for member, params, history in zip(result.configs, result.params, result.histories):
        alone = fit(member, digits.x_train, digits.y_train, n_out=10)
        # float64, the same sums batched differently by vmap: measured <= 1e-16 relative
        assert relative_error(params, alone.params) < 1e-12
        np.testing.assert_allclose(history.loss, alone.history.loss, rtol=1e-12)


def test_swept_models_match_alone_in_float32(digits):
    # full float32 matmuls: a GPU's default TF32 rounds to ~1e-3, and vmapped and single
    # products round differently (measured 2e-5 apart after 10 epochs on an H200)
    with jax.default_matmul_precision("float32"):
        config = TrainConfig(hidden=(20,), epochs=10)
        result = fit_many(config, digits.x_train, digits.y_train, n_out=10, seeds=[1, 2], lr=[0.1, 0.03])
        for member, params in zip(result.configs, result.params):
            alone = fit(member, digits.x_train, digits.y_train, n_out=10)
            # float32 rounding (~6e-8 per operation) carried through 10 epochs: measured 6e-8
            assert relative_error(params, alone.params) < 1e-5


def test_grid_order_and_refusals(digits):
    members = grid(TrainConfig(), seeds=[1, 2], lr=[0.1, 0.2])
    assert [(m.seed, m.lr) for m in members] == [(1, 0.1), (1, 0.2), (2, 0.1), (2, 0.2)]
    with pytest.raises(ValueError, match="learning rate -1.0 must be a positive number"):
        grid(TrainConfig(), lr=[0.1, -1.0])
    with pytest.raises(ValueError, match="validation_fraction must be 0"):
        fit_many(TrainConfig(validation_fraction=0.1), digits.x_train, digits.y_train)
    with pytest.raises(ValueError, match="'adaptive' schedule"):
        fit_many(TrainConfig(lr_schedule="adaptive"), digits.x_train, digits.y_train)


def test_sweep_command_prints_a_table_and_writes_one_entry_per_model(tmp_path, capsys):
    metrics, plot = tmp_path / "m.json", tmp_path / "curves.png"
    assert main(["sweep", "--seeds", "1,2", "--lr", "0.1,0.03", "--alpha", "0.0001", "--epochs", "3",
                 "--hidden", "16", "--metrics", str(metrics), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("|") and ln[2:7].strip().isdigit()]
    assert len(rows) == 4
    entries = json.loads(metrics.read_text())
    assert [(e["seed"], e["lr"]) for e in entries] == [(1, 0.1), (1, 0.03), (2, 0.1), (2, 0.03)]
    for e in entries:
        for key in ("train_accuracy", "test_accuracy", "loss_curve", "fit_seconds", "compile_seconds",
                    "device", "config"):
            assert key in e
        assert len(e["loss_curve"]) == 3 and e["config"]["lr"] == e["lr"]
    # the sweep's first model is `jaxann train` with its settings, to float32 rounding
    single = tmp_path / "single.json"
    assert main(["train", "--seed", "1", "--lr", "0.1", "--epochs", "3", "--hidden", "16", "--quiet",
                 "--metrics", str(single)]) == 0
    np.testing.assert_allclose(entries[0]["loss_curve"], json.loads(single.read_text())["loss_curve"], rtol=1e-5)
    from PIL import Image
    assert Image.open(plot).size == (600, 400)

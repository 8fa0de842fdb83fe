"""Sweeps: many models, one program per shape, each model equal to training it alone."""

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxann.checkpoint import CheckpointError, load_sweep, save_sweep
from jaxann.cli import main
from jaxann.compiling import counting
from jaxann.config import TrainConfig
from jaxann.data import load
from jaxann.errors import JaxannError
from jaxann.gradcheck import relative_error
from jaxann.loop import fit
from jaxann.predict import accuracy
from jaxann.sweep import fit_many, grid, read_settings, settings


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def assert_equals_fit_alone(result, x, y, rtol, **kwargs):
    """Each model's history, stopping, best validation score and parameters against `fit`."""
    for member, params, history in zip(result.configs, result.params, result.histories):
        alone = fit(member, x, y, **kwargs)
        assert len(history.loss) == len(alone.history.loss)
        assert history.stopped == alone.history.stopped and history.lr_changes == alone.history.lr_changes
        np.testing.assert_allclose(history.loss, alone.history.loss, rtol=rtol)
        np.testing.assert_allclose(history.train_accuracy, alone.history.train_accuracy, rtol=rtol)
        # accuracies are counts over the rows (equal unless rounding flips a row); R^2 sums rounded
        np.testing.assert_allclose(history.validation_score, alone.history.validation_score, rtol=rtol)
        assert relative_error(params, alone.params) < rtol
    return [len(h.loss) for h in result.histories]


def test_every_model_stops_on_its_own_epoch_and_equals_fit_alone_float64(digits, x64):
    # validation split per seed, early stopping on it, the adaptive and invscaling schedules,
    # Nesterov SGD: models stop at different epochs, frozen while the others go on
    base = TrainConfig(hidden=(12,), epochs=30, dtype="float64", validation_fraction=0.2, n_iter_no_change=2,
                       tol=1e-3)
    members = grid(base, seed=[1, 2], lr=[0.1, 0.02], lr_schedule=["constant", "adaptive", "invscaling"])
    result = fit_many(members, digits.x_train, digits.y_train, n_out=10)
    # float64, the same sums batched by vmap: measured <= 1.5e-16 relative
    epochs = assert_equals_fit_alone(result, digits.x_train, digits.y_train, 1e-12, n_out=10)
    assert len(set(epochs)) >= 3 and min(epochs) < 30 and max(epochs) == 30, epochs
    assert any(h.lr_changes for h in result.histories)  # 'adaptive' lowered some model's rate
    assert result.scores["validation"] == [max(h.validation_score) for h in result.histories]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_any_numeric_setting_is_an_axis(digits, optimizer, x64):
    base = TrainConfig(hidden=(10,), epochs=6, optimizer=optimizer, lr=0.1 if optimizer == "sgd" else 0.01,
                       dtype="float64", n_iter_no_change=1, tol=1e-2, grad="feedback_alignment")
    axes = ({"momentum": [0.9, 0.5], "power_t": [0.5, 0.25], "lr_schedule": ["invscaling"]} if optimizer == "sgd"
            else {"beta1": [0.9, 0.8], "beta2": [0.999, 0.99], "epsilon": [1e-8, 1e-4]})
    members = grid(base, seed=[3, 4], alpha=[1e-4, 1e-1], feedback_scale=[1.0, 0.5], **axes)
    result = fit_many(members, digits.x_train, digits.y_train, n_out=10)
    assert len(result.configs) == (32 if optimizer == "sgd" else 64)
    assert_equals_fit_alone(result, digits.x_train, digits.y_train, 1e-12, n_out=10)


def test_float32_models_match_alone(digits):
    # full float32 matmuls: a GPU's default TF32 rounds to ~1e-3, and vmapped and single
    # products round differently (measured 2e-5 apart after 10 epochs on an H200)
    with jax.default_matmul_precision("float32"):
        result = fit_many(grid(TrainConfig(hidden=(20,), epochs=10), seed=[1, 2], lr=[0.1, 0.03]),
                          digits.x_train, digits.y_train, n_out=10)
        for member, params in zip(result.configs, result.params):
            alone = fit(member, digits.x_train, digits.y_train, n_out=10)
            # float32 rounding (~6e-8 per operation) carried through 10 epochs: measured 6e-8
            assert relative_error(params, alone.params) < 1e-5


def test_architectures_and_batch_sizes_go_into_one_program_each_and_one_table(digits, x64):
    members = grid(TrainConfig(epochs=3, dtype="float64"), hidden=[(8,), (6, 4)], batch_size=[64, None],
                   seed=[1, 2])[::2] + [TrainConfig(epochs=3, dtype="float64", hidden=(8,), batch_size=64, seed=2)]
    with counting() as ledger:
        result = fit_many(members, digits.x_train, digits.y_train, n_out=10)
    assert ledger.names.count("epoch") == 4  # 2 architectures x 2 batch sizes
    assert_equals_fit_alone(result, digits.x_train, digits.y_train, 1e-12, n_out=10)
    rows = result.table()  # in the members' order, the last one trained with the first
    assert [(r["hidden"], r["batch_size"], r["seed"]) for r in rows] == [
        ("8", 64, 1), ("8", None, 1), ("6-4", 64, 1), ("6-4", None, 1), ("8", 64, 2)]
    assert {r["epochs"] for r in rows} == {3}


def test_scores_come_from_one_program_per_data_set_and_equal_predictions(digits):
    result = fit_many(grid(TrainConfig(hidden=(16,), epochs=3), seed=[1, 2, 3, 4]), digits.x_train, digits.y_train)
    with counting() as ledger:
        test = result.evaluate(digits.x_test, digits.y_test)
    assert ledger.names == ["scores"]  # one compiled program for the four models
    for params, score, train in zip(result.params, test, result.scores["train"]):
        assert score == pytest.approx(accuracy(params, digits.x_test, digits.y_test, "relu"), abs=1e-12)
        assert train == pytest.approx(accuracy(params, digits.x_train, digits.y_train, "relu"), abs=1e-12)
    assert len(set(test)) > 1


def test_regression_targets_score_r2_as_scikit_learn(x64):
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    y = np.stack([x @ rng.normal(size=5), np.sin(x[:, 0])], axis=1)
    weights = rng.uniform(0.5, 2.0, size=300)
    base = TrainConfig(hidden=(8,), loss="squared_error", epochs=25, lr=0.01, dtype="float64",
                       validation_fraction=0.2, n_iter_no_change=3)
    result = fit_many(grid(base, seed=[1, 2], alpha=[1e-4, 1.0]), x, y, sample_weight=weights)
    assert_equals_fit_alone(result, x, y, 1e-12, sample_weight=weights)
    for params, score in zip(result.params, result.evaluate(x, y, "all", sample_weight=weights)):
        from jaxann.predict import outputs

        # the same float64 sums in another order: 1e-12
        assert score == pytest.approx(r2_score(y, outputs(params, x, "relu"), sample_weight=weights), abs=1e-12)


def test_grids_and_explicit_settings_from_files(tmp_path):
    members = grid(TrainConfig(), seed=[1, 2], lr=[0.1, 0.2])
    assert [(m.seed, m.lr) for m in members] == [(1, 0.1), (1, 0.2), (2, 0.1), (2, 0.2)]
    (tmp_path / "s.csv").write_text('lr,hidden,batch_size,nesterov\n0.05,"100,50",full,false\n0.2,30,64,true\n')
    (tmp_path / "s.json").write_text(json.dumps([{"lr": 0.05, "hidden": [100, 50], "batch_size": None,
                                                  "nesterov": False}, {"lr": 0.2, "hidden": [30],
                                                                       "batch_size": 64}]))
    for name in ("s.csv", "s.json"):
        members = settings(TrainConfig(), read_settings(tmp_path / name), seed=[7, 8])
        assert [(m.lr, m.hidden, m.batch_size, m.nesterov, m.seed) for m in members] == [
            (0.05, (100, 50), None, False, 7), (0.05, (100, 50), None, False, 8),
            (0.2, (30,), 64, True, 7), (0.2, (30,), 64, True, 8)]
    (tmp_path / "bad.csv").write_text("lr,colour\n0.1,red\n")
    with pytest.raises(JaxannError, match="unknown setting 'colour'"):
        read_settings(tmp_path / "bad.csv")
    (tmp_path / "bad2.csv").write_text("lr\nfast\n")
    with pytest.raises(JaxannError, match="row 1: lr = 'fast' is not a valid value"):
        read_settings(tmp_path / "bad2.csv")
    with pytest.raises(JaxannError, match="learning rate -1.0 must be a positive number"):
        grid(TrainConfig(), lr=[0.1, -1.0])
    with pytest.raises(JaxannError, match="unknown settings colour"):
        grid(TrainConfig(), colour=["red"])
    with pytest.raises(JaxannError, match="L-BFGS"):
        fit_many([TrainConfig(optimizer="lbfgs")], np.ones((4, 2)), np.array([0, 1, 0, 1]))


def test_a_resumed_sweep_equals_the_uninterrupted_one_bit_for_bit(digits, tmp_path):
    members = grid(TrainConfig(epochs=8, validation_fraction=0.2, n_iter_no_change=1, tol=1e-2),
                   seed=[1, 2], hidden=[(12,), (20,)])
    whole = fit_many(members, digits.x_train, digits.y_train)
    path = tmp_path / "sweep.npz"
    rounds = []

    def save_at_the_tenth_round(step):
        rounds.append(step.snapshot())
        if len(rounds) == 10:  # the second program's second epoch
            save_sweep(path, rounds[-1])

    fit_many(members, digits.x_train, digits.y_train, callback=save_at_the_tenth_round)
    assert rounds[0].groups[1] is None and rounds[9].groups[1] is not None
    # a kept progress does not change as the sweep goes on
    assert [len(r.history.loss) for r in rounds[0].groups[0][1]] == [1, 1]
    resumed = fit_many(members, digits.x_train, digits.y_train, resume=load_sweep(path))
    for a, b in zip(whole.histories, resumed.histories):
        assert a.loss == b.loss and a.validation_score == b.validation_score and a.stopped == b.stopped
    for a, b in zip(whole.params, resumed.params):
        assert all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    with pytest.raises(JaxannError, match="written by a sweep of other models"):
        fit_many(grid(TrainConfig(epochs=8), seed=[1, 2]), digits.x_train, digits.y_train, resume=load_sweep(path))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="not a readable jaxann sweep checkpoint"):
        load_sweep(path)


def run_sweep(*args, devices=None, timeout=300):
    env = dict(os.environ)
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return subprocess.run([sys.executable, "-m", "jaxann", "sweep", "--quiet", "--no-compile-cache", *args],
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_models_split_over_host_devices_equal_one_device(tmp_path):
    common = ["--seeds", "1,2,3", "--lr", "0.1,0.05", "--hidden", "16", "--epochs", "6",
              "--validation-fraction", "0.2", "--n-iter-no-change", "1", "--tol", "0.01"]
    one = run_sweep(*common, "--metrics", str(tmp_path / "one.json"))
    # 6 models over 4 devices: padded with 2 idle copies
    four = run_sweep(*common, "--devices", "4", "--metrics", str(tmp_path / "four.json"), devices=4)
    assert one.returncode == 0 and four.returncode == 0, (one.stderr, four.stderr)
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("one.json", "four.json"))
    assert len(a) == len(b) == 6 and "4 devices" in b[0]["device"]
    for x, y in zip(a, b):
        # float32, each model's arithmetic on one device either way: measured equal
        np.testing.assert_allclose(x["loss_curve"], y["loss_curve"], rtol=1e-6)
        assert x["stopped"] == y["stopped"] and abs(x["test_accuracy"] - y["test_accuracy"]) <= 0.005
    r = run_sweep("--devices", "8", devices=4)
    assert r.returncode == 2 and "8 devices asked for, 4 available" in r.stderr and "Traceback" not in r.stderr


COMPACTED = r"""
import json, sys
import numpy as np
from jaxann import stack
from jaxann.config import TrainConfig
from jaxann.data import load
from jaxann.sweep import fit_many, grid
digits = load("digits")
# 15 models (padded to 16 over 4 devices), 12 of which stop after 3 epochs (tol 1 or more):
# the 3 still training go on in a program of 4 (one stopped model pads it)
members = grid(TrainConfig(hidden=(16,), epochs=12, validation_fraction=0.2, n_iter_no_change=1),
               seed=[1, 2, 3], tol=[10.0, 5.0, 2.0, 1.0, 0.0])
on = fit_many(members, digits.x_train, digits.y_train, devices=4)
stack.COMPACT_AT = 10 ** 9
off = fit_many(members, digits.x_train, digits.y_train)
print(json.dumps({
    "compiled": [on.compiled.count("epoch"), off.compiled.count("epoch")],
    "epochs": [len(h.loss) for h in on.histories],
    "loss": max(float(np.max(np.abs(np.subtract(a.loss, b.loss)) / np.abs(b.loss)))
                for a, b in zip(on.histories, off.histories)),
    "same_lengths": all(len(a.loss) == len(b.loss) and a.stopped == b.stopped
                        for a, b in zip(on.histories, off.histories)),
    "params": max(float(np.max(np.abs(u - v)) / np.max(np.abs(v)))
                  for a, b in zip(on.params, off.params) for u, v in zip(jax_leaves(a), jax_leaves(b))),
}))
"""


@pytest.mark.slow
def test_a_compacted_program_over_host_devices_equals_one_uncompacted(tmp_path):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAXANN_COMPILE_CACHE="0")
    script = COMPACTED.replace("import numpy as np", "import numpy as np\nfrom jax.tree import leaves as jax_leaves")
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    epochs = sorted(out["epochs"])
    assert epochs[:12] == [3] * 12 and min(epochs[12:]) >= 10, epochs  # compacted after the third
    assert out["compiled"] == [2, 1] and out["same_lengths"]
    # float32, each model's arithmetic on one device either way, in programs of 16, 4 and 15
    # models: measured equal to ~1e-7
    assert out["loss"] < 1e-6 and out["params"] < 1e-5, out


def test_a_sweep_resumed_after_a_compaction_equals_the_uninterrupted_one_bit_for_bit(digits, tmp_path, fresh_programs):
    members = grid(TrainConfig(hidden=(12,), epochs=10, validation_fraction=0.2, n_iter_no_change=1),
                   seed=[1, 2], tol=[10.0, 5.0, 2.0, 0.0])
    whole = fit_many(members, digits.x_train, digits.y_train)
    assert whole.compiled.count("epoch") == 2  # 8 models, then the 2 still training
    path, rounds, kept = tmp_path / "sweep.npz", [], []

    def save_at_the_fifth_round(step):
        rounds.append(step.snapshot())
        kept.append([np.array(a) for a in jax.tree.leaves(rounds[-1].groups[0][2])])
        if len(rounds) == 5:  # two rounds after the compaction
            save_sweep(path, rounds[-1])

    fit_many(members, digits.x_train, digits.y_train, callback=save_at_the_fifth_round)
    assert rounds[4].groups[0][4] is not None and len(rounds[4].groups[0][4]) == 2
    # a kept snapshot does not change as the sweep goes on
    for snapshot, arrays in zip(rounds, kept):
        assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(snapshot.groups[0][2]), arrays))
    resumed = fit_many(members, digits.x_train, digits.y_train, resume=load_sweep(path))
    for a, b in zip(whole.histories, resumed.histories):
        assert a.loss == b.loss and a.validation_score == b.validation_score and a.stopped == b.stopped
    for a, b in zip(whole.params, resumed.params):
        assert all(np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.slow
def test_two_processes_share_one_sweep(tmp_path):
    from test_placement import free_port

    common = ["--seeds", "1,2,3,4", "--hidden", "16", "--epochs", "4"]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_COORDINATOR_ADDRESS"] = f"127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([sys.executable, "-m", "jaxann", "sweep", "--quiet", "--no-compile-cache", *common,
                               "--devices", "2", "--distributed", "--num-processes", "2", "--process-id", str(i),
                               "--metrics", str(tmp_path / f"p{i}.json")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    one = run_sweep(*common, "--metrics", str(tmp_path / "one.json"))
    assert one.returncode == 0, one.stderr
    single = json.loads((tmp_path / "one.json").read_text())
    for i in range(2):
        entries = json.loads((tmp_path / f"p{i}.json").read_text())
        assert "2 devices" in entries[0]["device"]
        for a, b in zip(entries, single):  # each model on one device either way: float32 rounding at most
            np.testing.assert_allclose(a["loss_curve"], b["loss_curve"], rtol=1e-6)


@pytest.mark.slow
def test_a_killed_sweep_resumes_to_the_same_results(tmp_path):
    common = ["--seeds", "1,2", "--hidden", "16", "32", "--epochs", "40", "--validation-fraction", "0.2",
              "--n-iter-no-change", "3"]
    assert run_sweep(*common, "--results", str(tmp_path / "whole.csv")).returncode == 0
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "jaxann", "sweep", "--no-compile-cache", *common, "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = out / "checkpoint.npz"
    deadline = time.time() + 240
    while time.time() < deadline and not (checkpoint.exists() and checkpoint.stat().st_size > 0):
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not (out / "results.csv").exists()
    resumed = run_sweep(*common, "--out", str(out), "--resume", "--results", str(tmp_path / "resumed.csv"))
    assert resumed.returncode == 0, resumed.stderr
    whole, again = (list(csv.DictReader((tmp_path / f).open())) for f in ("whole.csv", "resumed.csv"))
    drop = ("seconds",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in whole] == \
        [{k: v for k, v in r.items() if k not in drop} for r in again]


def test_sweep_command_table_results_metrics_and_figure(tmp_path, capsys):
    metrics, plot, results = tmp_path / "m.json", tmp_path / "curves.png", tmp_path / "r.csv"
    assert main(["sweep", "--seeds", "1,2", "--lr", "0.1,0.03", "--epochs", "3", "--hidden", "16", "8,8",
                 "--metrics", str(metrics), "--plot", str(plot), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "jaxann sweep: 8 models (2 programs) on digits" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("|") and ln[2:7].strip().isdigit()]
    assert len(rows) == 8
    entries = json.loads(metrics.read_text())
    assert [(e["config"]["seed"], e["config"]["lr"], e["config"]["hidden"]) for e in entries[:3]] == [
        (1, 0.1, [16]), (1, 0.1, [8, 8]), (1, 0.03, [16])]
    table = list(csv.DictReader(results.open()))
    assert list(table[0]) == ["model", "hidden", "lr", "seed", "epochs", "stopped", "final_loss", "best_validation",
                              "train_score", "test_score", "seconds"]
    assert [float(r["test_score"]) for r in table] == [e["test_accuracy"] for e in entries]
    # the sweep's first model is `jaxann train` with its settings, to float32 rounding
    single = tmp_path / "single.json"
    assert main(["train", "--seed", "1", "--lr", "0.1", "--epochs", "3", "--hidden", "16", "--quiet",
                 "--metrics", str(single)]) == 0
    np.testing.assert_allclose(entries[0]["loss_curve"], json.loads(single.read_text())["loss_curve"], rtol=1e-5)
    from PIL import Image
    assert Image.open(plot).size == (1800, 400)  # the curves and three swept settings


def test_sweep_command_refuses_bad_input_in_one_line(tmp_path, capsys):
    (tmp_path / "s.csv").write_text("lr\n-1\n")
    for argv, message in ((["--settings", str(tmp_path / "s.csv")], "learning rate -1.0 must be a positive number"),
                          (["--settings", str(tmp_path / "none.csv")], "cannot read"),
                          (["--resume"], "--resume needs --out DIR"),
                          (["--lr", "0.1,x"], "is not a comma-separated list of numbers")):
        with pytest.raises(SystemExit) if "comma" in message else contextlib.nullcontext():
            code = main(["sweep", "--epochs", "1", *argv])
            assert code == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1

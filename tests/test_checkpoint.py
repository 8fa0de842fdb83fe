"""Checkpoints that resume exactly, the run folder, divergence, and fuzzing of the checkpoint readers."""

import json
import signal
import subprocess
import sys
import time
import zipfile

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxann.checkpoint import CheckpointError, load_checkpoint, load_params, save_checkpoint
from jaxann.cli import main
from jaxann.data import load
from jaxann.config import TrainConfig
from jaxann.loop import fit

FLAGS = ["--hidden", "16", "--batch-size", "50", "--quiet"]


def train(out, *extra):
    return main(["train", *FLAGS, "--out", str(out), *extra])


def params_and_curve(out):
    params = load_params(out / "params.npz")
    return params, json.loads((out / "metrics.json").read_text())["loss_curve"]


def assert_same_run(a, b):
    (pa, ca), (pb, cb) = params_and_curve(a), params_and_curve(b)
    assert ca == cb  # bit for bit: floats compared with ==
    for la, lb in zip(pa, pb):
        np.testing.assert_array_equal(la["W"], lb["W"])
        np.testing.assert_array_equal(la["b"], lb["b"])


@pytest.mark.parametrize("extra", [[], ["--optimizer", "adam", "--lr", "0.01"],
                                   ["--validation-fraction", "0.2", "--lr-schedule", "invscaling"],
                                   ["--grad", "feedback_alignment", "--hidden", "20,10", "--alignment"],
                                   ["--grad", "sign_symmetry_brm", "--hidden", "20,10"]],
                         ids=["sgd", "adam", "validation-invscaling", "feedback-alignment", "sign-symmetry-brm"])
def test_resumed_run_equals_the_uninterrupted_one(tmp_path, extra):
    assert train(tmp_path / "whole", "--epochs", "6", *extra) == 0
    assert train(tmp_path / "parts", "--epochs", "2", *extra) == 0
    assert train(tmp_path / "parts", "--epochs", "6", "--resume", *extra) == 0
    assert_same_run(tmp_path / "whole", tmp_path / "parts")


def test_checkpoint_every_n_epochs(tmp_path):
    saved = []
    real = save_checkpoint

    def spy(path, progress, *args):
        saved.append(progress.epoch)
        return real(path, progress, *args)

    import jaxann.checkpoint
    mp = pytest.MonkeyPatch()
    mp.setattr(jaxann.checkpoint, "save_checkpoint", spy)
    try:
        assert train(tmp_path / "run", "--epochs", "7", "--checkpoint-every", "3") == 0
    finally:
        mp.undo()
    assert saved == [3, 6, 7]  # every third epoch, and the last


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "jaxann", *args], capture_output=True, text=True, **kw)


def checkpoint_epoch(path):
    try:
        with np.load(path) as data:
            return json.loads(data["meta"].tobytes())["epoch"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_a_killed_run_resumes_to_the_same_result(tmp_path, sig):
    # online learning (batch 1): ~1,350 steps an epoch, slow enough to be stopped mid-run
    args = ["train", "--hidden", "16", "--batch-size", "1", "--lr", "0.01", "--epochs", "25", "--quiet",
            "--no-compile-cache"]
    assert run_cli(*args, "--out", str(tmp_path / "whole")).returncode == 0
    out = tmp_path / "parts"
    proc = subprocess.Popen([sys.executable, "-m", "jaxann", *args, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while checkpoint_epoch(out / "checkpoint.npz") < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}[sig]
    if sig != signal.SIGKILL:
        assert "--resume" in err and "Traceback" not in err
    assert not (out / "params.npz").exists()  # the run did not finish
    done = checkpoint_epoch(out / "checkpoint.npz")
    assert 3 <= done < 25
    r = run_cli(*args, "--out", str(out), "--resume")
    assert r.returncode == 0, r.stderr
    assert_same_run(tmp_path / "whole", out)
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # no half-written files left


def test_resume_removes_the_temporaries_of_a_writer_killed_mid_write(tmp_path, capsys):
    # SIGKILL during a save leaves ".checkpoint.npz.<random>.tmp"; the next run in DIR deletes
    # its own files' leftovers and nothing else in the folder
    out = tmp_path / "run"
    assert train(out, "--epochs", "1") == 0
    leftovers = [out / ".checkpoint.npz.k1ll3d.tmp", out / ".params.npz.x.tmp", out / ".metrics.json.y.tmp"]
    for leftover in leftovers:
        leftover.write_bytes(b"PK\x03\x04 half")
    other = out / ".notes.txt.z.tmp"
    other.write_text("the user's")
    assert main(["train", *FLAGS[:-1], "--out", str(out), "--epochs", "2", "--resume"]) == 0
    assert not any(leftover.exists() for leftover in leftovers)
    assert other.read_text() == "the user's"
    assert capsys.readouterr().out.count("left half-written by a run that was killed") == 3


def test_resume_refuses_another_architecture_and_a_corrupt_file(tmp_path):
    out = tmp_path / "run"
    assert train(out, "--epochs", "2") == 0
    r = run_cli("train", "--hidden", "32", "--batch-size", "50", "--out", str(out), "--resume", "--quiet")
    assert r.returncode == 2 and "was written by another run: sizes=[64, 16, 10] (this run: [64, 32, 10])" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    (out / "checkpoint.npz").write_bytes((out / "checkpoint.npz").read_bytes()[:300])
    r = run_cli("train", *FLAGS, "--out", str(out), "--resume")
    assert r.returncode == 2 and "not a readable jaxann checkpoint" in r.stderr and "Traceback" not in r.stderr


def test_resume_without_out_is_refused():
    r = run_cli("train", "--resume")
    assert r.returncode == 2 and "--resume needs --out DIR" in r.stderr


def test_divergence_stops_names_the_epoch_and_keeps_the_last_finite_checkpoint(tmp_path):
    out = tmp_path / "run"
    r = run_cli("train", "--loss", "mse", "--lr", "3", "--epochs", "5", "--quiet", "--out", str(out))
    # measured: the loss is 6.4e21 after epoch 1, 9.2e31 after epoch 2 and NaN in epoch 3
    assert r.returncode == 1
    assert "training diverged: the loss became nan in epoch 3" in r.stderr
    assert "the last finite checkpoint (epoch 2)" in r.stderr
    assert checkpoint_epoch(out / "checkpoint.npz") == 2 and not (out / "params.npz").exists()


def test_debug_nans_names_the_operation():
    r = run_cli("train", "--loss", "mse", "--lr", "50", "--epochs", "3", "--quiet", "--debug-nans")
    assert r.returncode == 1 and "--debug-nans: invalid value (nan) encountered in" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_checkpoint_round_trip_in_python(tmp_path):
    d = load("digits")
    config = TrainConfig(hidden=(8,), epochs=3, validation_fraction=0.2)
    result = fit(config, d.x_train, d.y_train, n_out=10)
    save_checkpoint(tmp_path / "c.npz", result.progress, config, [64, 8, 10])
    back = load_checkpoint(tmp_path / "c.npz", config, [64, 8, 10])
    assert back.epoch == 3 and back.history.loss == result.history.loss
    assert back.stopping.best_score == result.progress.stopping.best_score
    assert back.stopping.no_improvement == result.progress.stopping.no_improvement
    for a, b in zip(*(jax.tree.leaves((p.state, p.stopping.best_params)) for p in (back, result.progress))):
        np.testing.assert_array_equal(a, b)


# --- fuzzing: random and mutated bytes give the right array or jaxann's own error --------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])


def mutate(good: bytes, data) -> bytes:
    """1 to 4 random flips of a byte or cuts of up to 64 bytes."""
    raw = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        if data.draw(st.booleans()):
            raw[pos] ^= data.draw(st.integers(1, 255))
        else:
            del raw[pos:pos + data.draw(st.integers(1, 64))]
    return bytes(raw)


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory):
    d = load("digits")
    config = TrainConfig(hidden=(4,), epochs=1)
    result = fit(config, d.x_train[:100], d.y_train[:100], n_out=10)
    path = tmp_path_factory.mktemp("ck") / "c.npz"
    save_checkpoint(path, result.progress, config, [64, 4, 10])
    return path.read_bytes(), config


@FUZZ
@given(st.data())
def test_checkpoint_loader_on_mutated_files(tmp_path, checkpoint_bytes, data):
    good, config = checkpoint_bytes
    path = tmp_path / "c.npz"
    path.write_bytes(mutate(good, data))
    try:
        progress = load_checkpoint(path, config, [64, 4, 10])
    except CheckpointError:
        return
    assert progress.epoch == 1 and len(progress.history.loss) == 1


@FUZZ
@given(st.data())
def test_params_loader_on_mutated_files(tmp_path, data):
    from jaxann.checkpoint import save_params
    from jaxann.errors import JaxannError
    path = tmp_path / "p.npz"
    save_params(path, ({"W": np.ones((3, 2), np.float32), "b": np.zeros(2, np.float32)},))
    path.write_bytes(mutate(path.read_bytes(), data))
    try:
        params = load_params(path)
    except JaxannError:
        return
    assert len(params) == 1 and params[0]["W"].shape[1] == params[0]["b"].shape[0]


def test_float64_runs_checkpoint_and_resume_without_the_global_setting(tmp_path, small_problem):
    # a fresh process loading a float64 checkpoint builds its state's template before any
    # fit: in float64 too, JAX's x64 off; the resumed run equals the uninterrupted one
    from dataclasses import replace

    from jaxann.checkpoint import load_sweep, save_sweep
    from jaxann.program import _zero_optimizer_state
    from jaxann.sweep import fit_many, grid

    x, y = small_problem(n=30, n_in=4, n_out=3)
    config = TrainConfig(hidden=(5,), epochs=4, batch_size=7, dtype="float64")
    sizes = [4, 5, 3]
    whole = fit(config, x, y)
    half = fit(replace(config, epochs=2), x, y)
    save_checkpoint(tmp_path / "c.npz", half.progress, replace(config, epochs=2), sizes)
    _zero_optimizer_state.cache_clear()
    back = load_checkpoint(tmp_path / "c.npz", config, sizes)
    assert not jax.config.jax_enable_x64
    assert all(np.asarray(a).dtype == np.float64 for a in jax.tree.leaves(back.state.params))
    assert fit(config, x, y, resume=back).history.loss == whole.history.loss

    members = grid(replace(config, epochs=2), lr=[0.1, 0.05])
    swept = fit_many(members, x, y)
    save_sweep(tmp_path / "s.npz", swept.progress)
    _zero_optimizer_state.cache_clear()
    resumed = fit_many(grid(config, lr=[0.1, 0.05]), x, y, resume=load_sweep(tmp_path / "s.npz"))
    straight = fit_many(grid(config, lr=[0.1, 0.05]), x, y)
    assert [h.loss for h in resumed.histories] == [h.loss for h in straight.histories]
    # scores on other rows go through the same float64 programs: equal to the training scores here
    assert resumed.evaluate(x, y, "again") == resumed.scores["train"]

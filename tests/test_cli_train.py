"""`jaxann train` (and the command line's error handling), run as a user runs it."""

import json
import subprocess
import sys

import pytest

from jaxann.checkpoint import load_params
from jaxann.cli import main
from jaxann.data import load
from jaxann.predict import accuracy


def test_train_writes_metrics_params_and_loss_curve(tmp_path, capsys):
    metrics_file, out = tmp_path / "m.json", tmp_path / "run"
    code = main(["train", "--epochs", "3", "--hidden", "20,10", "--batch-size", "full", "--lr", "0.5",
                 "--metrics", str(metrics_file), "--out", str(out)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(",")[0] for ln in lines if ln.startswith("Iteration")] == [
        "Iteration 1", "Iteration 2", "Iteration 3"]
    assert lines[-2].startswith("Training set score: ") and lines[-1].startswith("Test set score: ")
    metrics = json.loads(metrics_file.read_text())
    for key in ("train_accuracy", "test_accuracy", "loss_curve", "fit_seconds", "compile_seconds",
                "device", "config"):
        assert key in metrics
    assert len(metrics["loss_curve"]) == 3 and metrics["config"]["hidden"] == [20, 10]
    assert metrics["config"]["batch_size"] is None
    # the printed score is the metric, and the saved parameters reproduce it
    assert lines[-1] == f"Test set score: {metrics['test_accuracy']:f}"
    params = load_params(out / "params.npz")
    assert [layer["W"].shape for layer in params] == [(64, 20), (20, 10), (10, 10)]
    d = load("digits")
    assert accuracy(params, d.x_test, d.y_test, "relu") == metrics["test_accuracy"]
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quiet_prints_only_the_scores(capsys):
    assert main(["train", "--epochs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("Training set score")


@pytest.mark.parametrize("args,message", [
    (["--hidden", "50,x"], "argument --hidden: '50,x' is not a comma-separated list"),
    (["--batch-size", "0"], "argument --batch-size: '0' is not a positive integer or 'full'"),
    (["--epochs", "-1"], "argument --epochs: '-1' is not a positive integer"),
    (["--lr", "0"], "learning rate 0.0 must be a positive number"),
    (["--momentum", "1.5"], "momentum 1.5 must be in [0, 1]"),
    (["--dataset", "mnist", "--data-dir", "/no/such/folder"], "data directory /no/such/folder does not exist"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    r = subprocess.run([sys.executable, "-m", "jaxann", "train", *args], capture_output=True, text=True)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_help_and_version_load_no_jax_scikit_learn_or_matplotlib():
    code = ("import sys; from jaxann.cli import main\n"
            "for argv in (['--help'], ['--version']):\n"
            "    try: main(argv)\n"
            "    except SystemExit as e: assert e.code == 0\n"
            "print(sorted(m for m in ('jax', 'sklearn', 'matplotlib') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith("[]"), r.stderr
    assert "jaxann 0.1.0" in r.stdout and "train" in r.stdout


def test_an_older_run_folder_still_draws_its_history(tmp_path):
    # runs written before the rename called the validation scores 'validation_accuracy'
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--hidden", "8", "--quiet", "--validation-fraction", "0.2",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    scores = metrics["history"]["validation_score"]
    assert len(scores) == 2 and len(metrics["history"]["train_accuracy"]) == 2
    metrics["history"]["validation_accuracy"] = metrics["history"].pop("validation_score")
    (out / "metrics.json").write_text(json.dumps(metrics))
    from jaxann.runs import RunFolder
    assert RunFolder(out).read_metrics()["history"]["validation_score"] == scores
    assert main(["plot", "history", "--run-dir", str(out), "--out", str(tmp_path / "h.png")]) == 0


def test_every_compilation_of_a_run_is_one_the_report_counts(tmp_path):
    import re

    metrics = tmp_path / "m.json"
    r = subprocess.run([sys.executable, "-m", "jaxann", "train", "--epochs", "2", "--quiet", "--no-compile-cache",
                        "--validation-fraction", "0.1", "--metrics", str(metrics)],
                       capture_output=True, text=True, env={**__import__("os").environ, "JAX_LOG_COMPILES": "1"})
    assert r.returncode == 0, r.stderr
    logged = re.findall(r"Finished XLA compilation of jit\((\w+)\) in ([0-9.e-]+) sec", r.stderr)
    report = json.loads(metrics.read_text())
    # the epoch, the validation rows' scores, and the outputs of the training and test rows
    # (buckets of 2,048 and 512 rows); nothing else compiles (the initial weights are drawn
    # on the host), and every one is counted
    assert sorted(name for name, _ in logged) == sorted(report["compiled"]) == ["epoch", "outputs", "outputs",
                                                                                "scores"]
    assert report["compile_seconds"] >= sum(float(s) for _, s in logged)


def test_a_run_that_ends_at_chance_level_warns_and_exits_3(capsys):
    # lr 50 with cross-entropy: the loss stays finite (about 4e3) but nothing is learned
    assert main(["train", "--lr", "50", "--epochs", "3", "--quiet"]) == 3
    captured = capsys.readouterr()
    # measured: 0.0987 (the commonest class is 0.1017 of the rows)
    assert "Training set score: 0.09" in captured.out
    assert captured.err.startswith("jaxann train: warning: training ended at chance level (training accuracy 0.09")


def test_unwritable_outputs_are_refused_before_training(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for flags in (["--metrics", str(blocker / "m.json")], ["--out", str(blocker / "run")]):
        assert main(["train", "--epochs", "1", *flags]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith(f"jaxann train: error: cannot write {blocker}")


def test_run_files_get_the_mode_open_would_give(tmp_path):
    from jaxann.files import FILE_MODE

    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden", "8", "--quiet", "--out", str(out),
                 "--metrics", str(tmp_path / "m.json")]) == 0
    for path in (*out.iterdir(), tmp_path / "m.json"):
        assert path.stat().st_mode & 0o777 == FILE_MODE, path  # 0644 under umask 022, as the PNG always had


def test_counts_agree_with_their_nouns(capsys):
    from jaxann.console import count

    assert (count(1, "model"), count(0, "epoch"), count(3, "iteration")) == ("1 model", "0 epochs", "3 iterations")
    assert main(["sweep", "--epochs", "1", "--hidden", "4"]) == 0
    out = capsys.readouterr().out
    assert "jaxann sweep: 1 model (1 program) on digits" in out and "1 model trained in" in out
    # L-BFGS counts iterations: here it converges before --epochs 300
    assert main(["train", "--optimizer", "lbfgs", "--epochs", "300"]) == 0
    out = capsys.readouterr().out
    assert "relu, L-BFGS on the full batch, grad autodiff" in out
    assert "iterations: L-BFGS converged: CONVERGENCE" in out


def test_a_reader_that_goes_away_gets_no_traceback():
    run = subprocess.run(["bash", "-c", f"'{sys.executable}' -m jaxann train --epochs 3 --hidden 4 | head -1"],
                         capture_output=True, text=True, timeout=300)
    assert run.stdout.startswith("jaxann train: digits") and run.stdout.count("\n") == 1
    assert "Traceback" not in run.stderr and "BrokenPipe" not in run.stderr


def test_a_folder_that_holds_a_run_is_refused_unless_resumed_or_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden", "8", "--quiet", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["train", "--epochs", "1", "--hidden", "8", "--quiet", "--seed", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"jaxann train: error: {out} already holds a run (checkpoint.npz, params.npz, metrics.json, "
                   "loss_curve.png); pass --resume to continue it or --overwrite to replace it, or choose "
                   "another --out folder\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # untouched
    assert main(["train", "--epochs", "5", "--hidden", "8", "--quiet", "--seed", "2", "--out", str(out),
                 "--overwrite", "--batch-size", "5000"]) == 0
    err = capsys.readouterr().err
    assert "Removed" in err
    # a batch larger than the data is said to be clipped, as scikit-learn says it
    assert ("jaxann train: warning: batch size 5000 is larger than the 1347 training rows; each batch is all "
            "1347 (clipped, as scikit-learn does)") in err
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after.keys() == before.keys() and after["params.npz"] != before["params.npz"]


def test_lbfgs_runs_scikit_learns_200_iterations_unless_told_and_says_when_it_stops_unconverged(capsys):
    from jaxann.cli import build_parser
    from jaxann.cli.args import config_from

    def epochs(*flags):
        return config_from(build_parser("train").parse_args(["train", *flags])).epochs

    assert (epochs("--optimizer", "lbfgs"), epochs("--optimizer", "lbfgs", "--epochs", "7"), epochs()) == (200, 7, 10)
    assert main(["train", "--optimizer", "lbfgs", "--epochs", "3", "--hidden", "4", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("jaxann train: warning: L-BFGS stopped after 3 iterations without converging (STOP: "
                          "TOTAL NO. OF ITERATIONS REACHED LIMIT); allow more with --epochs (now 3)\n")


def test_a_data_dir_without_a_dataset_is_refused(capsys):
    assert main(["train", "--data-dir", "."]) == 2
    assert capsys.readouterr().err.startswith("jaxann train: error: --data-dir . needs --dataset mnist or "
                                              "--dataset fashion-mnist")


def test_the_device_is_named_in_words():
    import re

    from jaxann.placement import device_name

    assert re.fullmatch(r"(CPU|.+ \((GPU|TPU)\)), (1 device|\d+ devices)", device_name()), device_name()

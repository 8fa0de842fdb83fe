"""`jaxann.runs`: the run folder's and the sweep folder's files, and the metrics schema."""

import json

import numpy as np
import pytest

from jaxann.config import TrainConfig
from jaxann.errors import JaxannError
from jaxann.loop import History
from jaxann.runs import METRICS, RunFolder, SweepFolder, metrics, write_json


def test_metrics_hold_the_common_keys_then_the_extra_ones():
    h = History(loss=[1.0, 0.5], seconds=[0.1, 0.1], validation_score=[0.5, 0.6], validation_loss=[0.9, 0.7])
    m = metrics(TrainConfig(lr=0.3), h, train_accuracy=0.9, test_accuracy=0.8, fit_seconds=0.2,
                compile_seconds=0.5, devices=2)
    assert list(m)[:8] == ["train_accuracy", "test_accuracy", "loss_curve", "fit_seconds", "compile_seconds",
                           "device", "config", "validation_loss_curve"]
    assert m["validation_loss_curve"] == [0.9, 0.7] == m["history"]["validation_loss"]
    assert m["devices"] == 2 and m["n_iter"] == 2 and m["config"]["lr"] == 0.3 and m["loss_curve"] == [1.0, 0.5]


def test_a_run_folder_round_trips_its_metrics_and_refuses_other_files(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    h = History(loss=[1.0])
    write_json(folder.path / METRICS, metrics(TrainConfig(), h, train_accuracy=1.0, test_accuracy=0.5,
                                               fit_seconds=1.0, compile_seconds=0.0))
    assert folder.read_metrics()["test_accuracy"] == 0.5
    (folder.path / METRICS).write_text(json.dumps({"history": {}}))
    with pytest.raises(JaxannError, match="not the metrics of a `jaxann train --out` run"):
        folder.read_metrics()


def test_leftovers_of_a_killed_writer_are_removed(tmp_path):
    for folder in (RunFolder(tmp_path), SweepFolder(tmp_path)):
        (tmp_path / ".checkpoint.npz.1234.tmp").write_bytes(b"half")
        assert [p.name for p in folder.remove_leftovers()] == [".checkpoint.npz.1234.tmp"]
        assert not (tmp_path / ".checkpoint.npz.1234.tmp").exists()


def test_a_sweep_folder_writes_its_table_and_metrics(tmp_path):
    from jaxann.data import load
    from jaxann.sweep import fit_many, grid

    d = load("digits")
    result = fit_many(grid(TrainConfig(hidden=(4,), epochs=1), seed=[1, 2]), d.x_train, d.y_train)
    SweepFolder(tmp_path / "s").save(result, [{"model": 0}, {"model": 1}])
    lines = (tmp_path / "s" / "results.csv").read_text().splitlines()
    assert lines[0].startswith("model,seed,epochs,stopped") and len(lines) == 3
    assert json.loads((tmp_path / "s" / METRICS).read_text()) == [{"model": 0}, {"model": 1}]
    assert np.isfinite([float(line.split(",")[-1]) for line in lines[1:]]).all()


def test_a_sweep_folder_that_holds_a_sweep_is_claimed_only_on_purpose(tmp_path):
    folder = SweepFolder(tmp_path / "s")
    assert folder.claim(resume=False, overwrite=False) == []  # a new folder
    folder.path.mkdir()
    (folder.path / "results.csv").write_text("model\n0\n")
    (folder.path / "notes.txt").write_text("the user's")
    with pytest.raises(JaxannError, match=r"already holds a run \(results.csv\); pass --resume .* --overwrite"):
        folder.claim(resume=False, overwrite=False)
    assert folder.claim(resume=True, overwrite=False) == [] and (folder.path / "results.csv").exists()
    with pytest.raises(JaxannError, match="pass one"):
        folder.claim(resume=True, overwrite=True)
    assert folder.claim(resume=False, overwrite=True) == ["results.csv"]
    assert sorted(p.name for p in folder.path.iterdir()) == ["notes.txt"]


def _fake_run(folder, config, test, seconds, dataset="digits", losses=(1.0, 0.5)):
    """A run folder's metrics.json as `jaxann train --out` writes it, without the training."""
    h = History(loss=list(losses), train_accuracy=[0.5 + 0.1 * i for i in range(len(losses))],
                seconds=[0.1] * len(losses))
    write_json(folder / METRICS, metrics(config, h, train_accuracy=0.9, test_accuracy=test, fit_seconds=seconds,
                                         compile_seconds=0.0, dataset={"name": dataset}))


def test_runs_lists_each_run_with_the_settings_that_differ(tmp_path, capsys):
    from jaxann.cli import main

    _fake_run(tmp_path / "a", TrainConfig(lr=0.1), 0.81, 2.0)
    _fake_run(tmp_path / "b", TrainConfig(lr=0.3, activation="tanh"), 0.93, 1.5)
    (tmp_path / "b" / "notes").mkdir()
    (tmp_path / "b" / "notes" / METRICS).write_text("not a run's")  # skipped
    sweep = tmp_path / "deeper" / "s"
    sweep.mkdir(parents=True)
    entries = [metrics(TrainConfig(lr=0.1, seed=s), History(loss=[1.0]), train_accuracy=0.5, test_accuracy=0.5,
                       fit_seconds=3.0, compile_seconds=0.0, dataset={"name": "digits"}) for s in (1, 2)]
    write_json(sweep / METRICS, entries)
    assert main(["runs", str(tmp_path), "--sort", "test", "--reverse"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "activation", "lr", "seed", "n_iter", "train", "test", "seconds", "when"]
    rows = [line.split() for line in lines[2:]]
    assert [r[0] for r in rows] == [str(tmp_path / "b"), str(tmp_path / "a"), f"{sweep}[0]", f"{sweep}[1]"]
    assert rows[0][1:8] == ["tanh", "0.3", "1", "2", "0.9000", "0.9300", "1.50"]
    assert main(["runs", str(tmp_path), "--sort", "accuracy"]) == 2
    assert "no such column" in capsys.readouterr().err
    assert main(["runs", str(tmp_path / "a" / "nothing")]) == 2


def test_plot_history_overlays_runs_labelled_by_what_differs(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from jaxann import plots
    from jaxann.cli.plot import _history

    _fake_run(tmp_path / "a", TrainConfig(lr=0.1), 0.81, 2.0)
    _fake_run(tmp_path / "b", TrainConfig(lr=0.3, hidden=(20, 10)), 0.93, 1.5, losses=(1.0, 0.4, 0.3))
    fig = _history([tmp_path / "a", tmp_path / "b"], plots, lambda axes: axes[0].figure)()
    left = fig.axes[0]
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["hidden=50, lr=0.1", "hidden=20,10, lr=0.3"]
    assert [len(line.get_xdata()) for line in left.get_lines()] == [2, 3]
    assert left.get_title() == "digits: loss per epoch"

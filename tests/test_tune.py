"""jaxann.tune and `jaxann tune`: search spaces from flags, trials trained K at a time with
Optuna's pruning, and one SQLite study shared by two processes."""

import os
import subprocess
import sys

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution  # noqa: E402

from jaxann import tune  # noqa: E402
from jaxann.cli import main  # noqa: E402
from jaxann.config import TrainConfig  # noqa: E402
from jaxann.errors import JaxannError  # noqa: E402


@pytest.mark.parametrize("name, text, expected", [
    ("lr", "1e-4:1e-1:log", FloatDistribution(1e-4, 1e-1, log=True)),
    ("momentum", "0.8:0.99", FloatDistribution(0.8, 0.99)),
    ("batch_size", "16:256:log", IntDistribution(16, 256, log=True)),
    ("alpha", "1e-4,1e-2", CategoricalDistribution([1e-4, 1e-2])),
    ("hidden", "32,64,100-50", CategoricalDistribution(["32", "64", "100-50"])),
    ("hidden", "100-50", (100, 50)),
    ("lr", "0.05", 0.05),
], ids=["log", "uniform", "int-log", "choices", "architectures", "one-architecture", "fixed"])
def test_space_from_flag_text(name, text, expected):
    assert tune.space(name, text) == expected


@pytest.mark.parametrize("name, text", [("lr", "0.1:0.01"), ("lr", "0:1:log"), ("lr", "a:b"), ("lr", "1:2:exp"),
                                        ("hidden", "32,0"), ("activation", "relu,tanh")])
def test_a_bad_space_is_one_clear_error(name, text):
    with pytest.raises(JaxannError, match="search space|cannot be searched"):
        tune.space(name, text)


def test_without_optuna_it_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(JaxannError, match=r"pip install 'jaxann\[tune\]'"):
        tune.space("lr", "0.1:0.2")


def test_trials_are_reported_pruned_and_told(small_problem):
    x, y = small_problem(n=200, n_in=6, n_out=3, seed=1)
    study = tune.open_study(None, "test", sampler=optuna.samplers.RandomSampler(seed=0),
                            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2))
    search = {"lr": FloatDistribution(1e-4, 0.3, log=True), "hidden": tune.space("hidden", "8")}
    study = tune.optimize(TrainConfig(epochs=8, batch_size=50), x, y, search, n_trials=9, trials_per_program=3,
                          study=study, test=(x, y))
    trials = study.trials
    assert [t.number for t in trials] == list(range(9))
    states = [t.state for t in trials]
    assert all(s in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for s in states)
    # the first round has nothing to compare with; later rounds prune some trials early
    assert all(s == optuna.trial.TrialState.COMPLETE for s in states[:3])
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "the median pruner pruned no trial"
    for t in pruned:  # stopped at the step the pruner said so, after its warm-up
        assert 2 <= t.user_attrs["epochs"] < 8 and max(t.intermediate_values) == t.user_attrs["epochs"]
    for t in trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            # the objective is the best validation score reported
            assert t.value == max(t.intermediate_values.values())
            assert 0 <= t.user_attrs["test_score"] <= 1
    rows = tune.table(study)
    assert [r["trial"] for r in rows] == list(range(9)) and {"lr", "state", "best_validation"} <= set(rows[0])


def test_cli_refuses_an_empty_search_and_a_bad_space(capsys):
    assert main(["tune", "--lr", "0.1"]) == 2
    assert "nothing to search" in capsys.readouterr().err
    assert main(["tune", "--lr", "0.3:0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not a search space" in err[0]


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    command = [sys.executable, "-m", "jaxann", "tune", "--lr", "1e-3:0.3:log", "--hidden", "8,12", "--epochs", "3",
               "--trials", "4", "--trials-per-program", "2", "--storage", url, "--study", "shared", "--quiet"]
    processes = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=os.environ.copy()) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    for p, (out, err) in zip(processes, outputs):
        assert p.returncode == 0, err
        assert "Best trial" in out
    study = optuna.load_study(study_name="shared", storage=url)
    trials = study.trials
    # every trial asked was told exactly once: 8 trials, numbered once each, all finished
    assert sorted(t.number for t in trials) == list(range(8))
    assert all(t.state.is_finished() for t in trials)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) >= 4
    assert len({t._trial_id for t in trials}) == 8
    assert np.isfinite(study.best_value)

"""`jaxann bench` and benchmarks/bench.py: the figures printed are computed from what was
measured (no time is asserted)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jaxann import bench
from jaxann.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def other_libraries(monkeypatch):
    """benchmarks/runners.py's scikit-learn and PyTorch runners, registered as benchmarks/bench.py does."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import runners

    monkeypatch.setattr(bench, "_REGISTERED", dict(runners.RUNNERS))


def test_flops_formula_counts_six_per_weight_per_sample():
    # 784-50-10: 784*50 + 50*10 = 39,700 weights; 6 * 39,700 * 60,000 * 10 = 142.92 GFLOP
    assert bench.flops([784, 50, 10], 60_000, 10) == 6 * 39_700 * 600_000 == 142_920_000_000


def test_bench_on_digits_prints_a_row_per_system_and_writes_json(tmp_path, capsys, monkeypatch, other_libraries):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    out = tmp_path / "bench.json"
    code = main(["bench", "--dataset", "digits", "--epochs", "2", "--hidden", "16", "--repeat", "3",
                 "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert [r["system"] for r in report["rows"]] == ["jaxann-autodiff", "jaxann-backprop", "scikit-learn", "pytorch"]
    assert report["flops"] == bench.flops([64, 16, 10], 1347, 2)
    assert report["matmul_gflops"] > 0 and report["versions"]["jax"]
    for row in report["rows"][:3]:
        assert row["fit_seconds"] > 0 and 0 <= row["test_accuracy"] <= 1
        assert row["gflops"] == pytest.approx(report["flops"] / row["fit_seconds"] / 1e9)
        assert row["percent_of_matmul"] == pytest.approx(100 * row["gflops"] / report["matmul_gflops"])
        assert row["samples_per_second"] == pytest.approx(1347 * 2 / row["fit_seconds"])
    # every repeat compiles cold (median of 3: a program kept from the first run would make it 0)
    assert report["rows"][0]["compile_seconds"] > 0 and report["rows"][1]["compile_seconds"] > 0
    assert report["rows"][2]["compile_seconds"] is None
    assert report["rows"][3]["fit_seconds"] is None and "torch is not installed" in report["rows"][3]["note"]
    assert "| jaxann-backprop    |" in text and "pytorch: skipped: torch is not installed" in text
    assert "FLOPs = 6 * sum_l n_{l-1} n_l * n_train * epochs" in text


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch not installed")
def test_bench_runs_pytorch_when_installed(capsys, other_libraries):
    assert main(["bench", "--dataset", "digits", "--epochs", "2", "--systems", "pytorch"]) == 0
    assert "| pytorch            |" in capsys.readouterr().out


def test_bench_refuses_an_unknown_system():
    with pytest.raises(SystemExit) as e:
        main(["bench", "--systems", "jaxann-autodiff,keras"])
    assert e.value.code == 2


def test_bench_compares_vmapped_models_and_devices(capsys, tmp_path):
    out = tmp_path / "b.json"
    assert main(["bench", "--dataset", "digits", "--epochs", "2", "--hidden", "8", "--systems", "jaxann-autodiff",
                 "--models", "3", "--devices", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    report = json.loads(out.read_text())
    rows = {r["system"]: r for r in report["rows"]}
    assert set(rows) == {"jaxann-autodiff", "jaxann-3-vmapped", "jaxann-3-in-turn", "jaxann-2-devices"}
    for name in ("jaxann-3-vmapped", "jaxann-3-in-turn"):  # throughput counts all three models' samples
        assert rows[name]["samples_per_second"] == pytest.approx(3 * 1347 * 2 / rows[name]["fit_seconds"])
    # this process has one device: the devices row says how to get more instead of timing
    assert rows["jaxann-2-devices"]["fit_seconds"] is None
    assert "xla_force_host_platform_device_count=2" in rows["jaxann-2-devices"]["note"]
    assert "3 models vmapped in one program:" in text


def test_jaxann_bench_alone_times_jaxann_and_the_script_adds_the_other_libraries(tmp_path):
    alone = subprocess.run([sys.executable, "-m", "jaxann", "bench", "--systems", "scikit-learn"],
                           capture_output=True, text=True)
    assert alone.returncode == 2 and "expected some of jaxann-autodiff,jaxann-backprop" in alone.stderr
    out = tmp_path / "b.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--dataset", "digits", "--epochs", "1",
                        "--hidden", "8", "--systems", "jaxann-autodiff,scikit-learn", "--json", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = {row["system"]: row for row in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"jaxann-autodiff", "scikit-learn"} and rows["scikit-learn"]["fit_seconds"] > 0
    assert "jaxann-autodiff fit time = " in r.stdout and "x scikit-learn" in r.stdout


def test_bench_reports_progress_per_run_and_ends_at_its_total():
    from jaxann.config import TrainConfig
    from jaxann.data import load

    calls = []
    bench.run(load("digits"), TrainConfig(hidden=(8,), epochs=1), ["jaxann-autodiff", "jaxann-backprop"],
              repeat=2, progress=lambda done, total, text: calls.append((done, total, text)))
    assert [(d, t) for d, t, _ in calls] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert calls[0][2] == "jaxann-autodiff, run 1 of 2" and calls[3][2] == "jaxann-backprop, run 2 of 2"


def test_bench_without_mnist_says_it_times_digits_and_how_to_get_mnist(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JAXANN_DATA_DIR", raising=False)
    monkeypatch.setenv("JAXANN_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["bench", "--epochs", "1", "--hidden", "8", "--systems", "jaxann-autodiff"]) == 0
    out = capsys.readouterr().out
    assert "MNIST files not found in" in out and "using digits instead" in out and "--dataset mnist" in out

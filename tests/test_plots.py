"""`jaxann plot NAME`: each figure written at its size, and the numbers the figures rest on."""

import json

import matplotlib
import numpy as np
import pytest
from PIL import Image

from jaxann import experiments
from jaxann.cli import main

matplotlib.use("Agg")

# figure sizes in inches at 100 dpi (jaxann.plots)
SIZES = {"activations": (1200, 450), "universal": (1350, 400), "batching": (1200, 450), "backprop": (1200, 450),
         "mnist": (1500, 520), "perceptron": (1100, 500), "history": (1200, 450)}
SMALL = {"universal": ["--widths", "1,4", "--epochs", "30"], "batching": ["--epochs", "2", "--hidden", "8"],
         "backprop": ["--epochs", "2", "--hidden", "8"], "mnist": ["--dataset", "digits", "--epochs", "2"],
         "perceptron": ["--epochs", "5", "--points", "30"]}


@pytest.mark.parametrize("name", [n for n in SIZES if n != "history"])
def test_each_figure_is_written_at_its_size(name, tmp_path):
    out = tmp_path / f"{name}.png"
    assert main(["plot", name, "--out", str(out), *SMALL.get(name, [])]) == 0
    assert Image.open(out).size == SIZES[name]


def test_history_figure_of_a_saved_run(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "3", "--hidden", "8", "--quiet", "--validation-fraction", "0.2",
                 "--out", str(run)]) == 0
    out = tmp_path / "history.png"
    assert main(["plot", "history", "--run-dir", str(run), "--out", str(out)]) == 0
    assert Image.open(out).size == SIZES["history"]


@pytest.mark.parametrize("args,message", [
    (["plot", "history", "--out", "x.png"], "the history figure needs --run-dir DIR"),
    (["plot", "history", "--run-dir", "/no/such/run", "--out", "x.png"], "not the metrics of a `jaxann train --out` run"),
    (["plot", "activations", "--out", "/no/such/folder/a.png"], "cannot write /no/such/folder/a.png"),
])
def test_bad_plot_requests_are_one_line_errors(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_universal_approximation_error_falls_with_width():
    result = experiments.universal_approximation(widths=(1, 4, 16), epochs=600, seed=0)
    for name, errors in result["errors"].items():
        # measured (seed 0, 600 epochs): e.g. sin(2x) 0.42 / 0.19 / 2.2e-3: each step at least halves it
        assert errors[4] < errors[1] / 2 and errors[16] < errors[4] / 2, (name, errors)


def test_perceptron_separates_and_the_step_unit_trained_by_gradient_descent_never_moves():
    result = experiments.perceptron(n=60, epochs=20, seed=0)
    assert result["errors"][0] > 0 and result["errors"][-1] == 0  # the rule separates the data
    w0, b0 = result["gd_boundaries"][0]
    for w, b in result["gd_boundaries"][1:]:  # h'(z) = 0: zero gradient, not one step taken
        np.testing.assert_array_equal(w, w0)
        assert b == b0
    assert result["gd_errors"] == [result["gd_errors"][0]] * 21


def test_autodiff_and_backprop_stay_within_float32_rounding():
    from jaxann.data import load
    result = experiments.autodiff_vs_backprop(load("digits"), epochs=3, hidden=(8,))
    # float32, the same gradient by two routes: measured 6e-8 .. 2e-7 over ten epochs
    assert max(result["max_param_difference"]) < 1e-5
    np.testing.assert_allclose(result["loss"]["autodiff"], result["loss"]["backprop"], rtol=1e-5)


def test_batching_runs_every_mode_for_the_same_epochs():
    from jaxann.data import load
    result = experiments.batching(load("digits"), epochs=3, hidden=(8,))
    assert len(result) == 3 and all(len(r["loss"]) == 3 and len(r["seconds"]) == 3 for r in result.values())
    assert all(np.all(np.diff(r["seconds"]) > 0) for r in result.values())  # cumulative seconds
    assert json.dumps(result)  # plain data, ready for scripts

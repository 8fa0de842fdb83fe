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
         "mnist": (1500, 520), "perceptron": (1100, 500), "history": (1200, 450), "learning-rules": (1200, 450)}
SMALL = {"universal": ["--widths", "1,4", "--epochs", "30"], "batching": ["--epochs", "2", "--hidden", "8"],
         "backprop": ["--epochs", "2", "--hidden", "8"], "mnist": ["--dataset", "digits", "--epochs", "2"],
         "perceptron": ["--epochs", "5", "--points", "30"],
         "learning-rules": ["--dataset", "digits", "--epochs", "2", "--hidden", "8,6"]}


@pytest.mark.parametrize("name", [n for n in SIZES if n != "history"])
def test_each_figure_is_written_at_its_size(name, tmp_path):
    out = tmp_path / f"{name}.png"
    assert main(["plot", name, "--out", str(out), *SMALL.get(name, [])]) == 0
    assert Image.open(out).size == SIZES[name]


def test_history_figure_of_a_saved_run(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "3", "--hidden", "8", "--quiet", "--validation-fraction", "0.2",
                 "--out", str(run)]) == 0
    # the validation loss of each epoch, in the metrics and drawn beside the training loss
    assert len(json.loads((run / "metrics.json").read_text())["validation_loss_curve"]) == 3
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
        # measured (seed 0, 600 epochs): sin(2x) 0.40 / 0.020 / 0.0024, |x| 0.34 / 0.0036 / 0.0039
        # (4 tanh units already fit |x| as closely as 600 epochs let 16 do), the bump 0.11 / 0.014 / 0.0015
        assert errors[4] < errors[1] / 2 and errors[16] < errors[1] / 10, (name, errors)


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


# --- what each figure draws ---------------------------------------------------------------------

def labels(ax):
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]


def test_activations_figure_draws_h_and_both_derivatives():
    from jaxann import plots
    from jaxann.activations import ACTIVATIONS

    axes = plots.activations()
    assert labels(axes[0]) == list(ACTIVATIONS)
    # right: per activation the analytic h' (a labelled line) and its central difference (dots)
    assert labels(axes[1]) == [f"{name}'" for name in ACTIVATIONS]
    dots = [line for line in axes[1].get_lines() if line.get_linestyle() == "None" and line.get_marker() == "."]
    assert len(dots) == len(ACTIVATIONS)
    relu = next(line for line in axes[0].get_lines() if line.get_label() == "relu")
    z, h = relu.get_data()
    np.testing.assert_allclose(h, np.maximum(z, 0))  # the curve drawn is h(z) itself


def test_universal_and_batching_figures_draw_each_run():
    from jaxann import plots

    x = np.linspace(-1, 1, 5)
    result = {"x": x, "targets": {"a": x, "b": -x},
              "fits": {"a": {1: x * 0, 4: x * 0.9}, "b": {1: x * 0, 4: -x}},
              "errors": {"a": {1: 0.5, 4: 0.01}, "b": {1: 0.5, 4: 0.0}}}
    axes = plots.universal(result)
    assert len(axes) == 2 and labels(axes[0]) == ["target", "1 units (MSE 5.0e-01)", "4 units (MSE 1.0e-02)"]
    assert axes[1].get_title() == "Universal approximation: b"
    batching = {"online": {"loss": [3, 2, 1], "seconds": [1, 2, 3]}, "full": {"loss": [3, 2.5, 2], "seconds": [.1, .2, .3]}}
    left, right = plots.batching(batching)
    assert labels(left) == labels(right) == ["online", "full"]
    np.testing.assert_array_equal(right.get_lines()[1].get_xdata(), [.1, .2, .3])  # loss against seconds


def test_backprop_and_mnist_figures(tmp_path):
    import jax

    from jaxann import plots
    from jaxann.data import load
    from jaxann.network import init_mlp

    left, right = plots.autodiff_vs_backprop({"loss": {"autodiff": [2, 1], "backprop": [2, 1]},
                                             "max_param_difference": [0.0, 1e-8]})
    assert labels(left) == ["grad=autodiff", "grad=backprop"]
    np.testing.assert_array_equal(right.get_lines()[0].get_ydata(), [1e-17, 1e-8])  # 0 drawn at 1e-17
    data = load("digits")
    fig = plots.mnist_panels(init_mlp(jax.random.key(0), [64, 9, 10]), data)
    images = [ax for ax in fig.get_axes() if ax.get_images()]
    weights = [ax for ax in images if ax.get_images()[0].get_array().shape == (8, 8)]
    confusion = [ax for ax in images if ax.get_images()[0].get_array().shape == (10, 10)]
    assert len(confusion) == 1 and confusion[0].get_images()[0].get_array().sum() == len(data.y_test)
    assert len(weights) == 9 + 16  # 9 hidden units' weights, 16 misclassified digits (an untrained net errs a lot)


def test_perceptron_and_history_figures():
    from jaxann import plots

    result = experiments.perceptron(n=20, epochs=3, seed=0)
    axes = plots.perceptron(result)
    for ax in axes:
        assert len(ax.collections) == 2  # the two classes' points
        assert len(ax.get_lines()) == 4  # the start and the boundary after each of 3 epochs
    metrics = {"history": {"loss": [2.0, 1.0], "train_accuracy": [0.5, 0.8], "validation_score": [0.4, 0.7]},
               "test_accuracy": 0.75, "config": {"activation": "relu", "optimizer": "sgd", "lr": 0.1},
               "dataset": {"name": "digits", "sizes": [64, 50, 10]}}
    left, right = plots.history(metrics)
    assert labels(left) == ["training loss"]
    assert labels(right) == ["training accuracy (running, per epoch)", "validation score",
                             "final test accuracy 0.7500"]
    assert left.get_title() == "digits 64-50-10 relu, sgd lr 0.1"


# --- progress while the experiments train ---------------------------------------------------------

def test_experiments_report_progress_up_to_their_total():
    from jaxann.data import load
    digits = load("digits")
    runs = {
        "universal": lambda p: experiments.universal_approximation(widths=(1, 2), epochs=6, progress=p),
        "batching": lambda p: experiments.batching(digits, epochs=2, hidden=(8,), progress=p),
        "backprop": lambda p: experiments.autodiff_vs_backprop(digits, epochs=2, hidden=(8,), progress=p),
        "mnist": lambda p: experiments.mnist(digits, epochs=2, hidden=(8,), progress=p),
    }
    totals = {"universal": 3 * 2, "batching": 3, "backprop": 2 * 2, "mnist": 2}
    for name, run in runs.items():
        calls = []
        run(lambda done, total, text="": calls.append((done, total)))
        done = [d for d, _ in calls]
        assert done == sorted(done) and len(set(done)) == len(done), (name, calls)
        assert calls[-1] == (totals[name], totals[name]) and all(t == totals[name] for _, t in calls), name


def test_batching_times_no_compilation(monkeypatch):
    """Each mode's timed fit reuses the program its untimed one-epoch warm-up compiled."""
    from jaxann.data import load
    from jaxann.loop import fit as real_fit

    compiled = []

    def spy(config, *args, **kwargs):
        result = real_fit(config, *args, **kwargs)
        compiled.append((config.epochs, result.compiled))
        return result

    monkeypatch.setattr(experiments, "fit", spy)
    experiments.batching(load("digits"), epochs=2, hidden=(7,))
    assert [e for e, _ in compiled] == [1, 2] * 3
    assert all(names == [] for e, names in compiled if e == 2)


class _Terminal:
    """A stand-in for stderr on a terminal."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


@pytest.mark.parametrize("quiet", [False, True])
def test_plot_draws_a_progress_bar_on_a_terminal_unless_quiet(quiet, tmp_path, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    args = ["plot", "batching", "--out", str(tmp_path / "b.png"), "--epochs", "2", "--hidden", "8"]
    assert main(args + ["--quiet"] * quiet) == 0
    if quiet:
        assert terminal.text == ""
    else:
        assert "jaxann plot batching [" in terminal.text and "online (batch 1)" in terminal.text
        assert terminal.text.endswith("\r")  # the bar erased itself before the "wrote" line


def test_learning_rules_figure_draws_accuracy_per_rule_and_each_hidden_layers_angle():
    from jaxann import plots
    from jaxann.data import load

    result = experiments.learning_rules(load("digits"), hidden=(8, 6), epochs=2)
    assert list(result) == ["backprop", "feedback_alignment", "direct_feedback_alignment", "sign_symmetry"]
    assert all(len(r["test_accuracy"]) == 2 and len(r["alignment"][0]) == 3 for r in result.values())
    left, right = plots.learning_rules(result)
    assert labels(left) == list(result)
    # three rules x two hidden layers; backprop's angle (0) is not drawn
    assert len(labels(right)) == 6 and "sign_symmetry, layer 2" in labels(right)
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(),
                               np.asarray(result["feedback_alignment"]["alignment"])[:, 0])


def test_plot_checks_its_out_before_computing_and_defaults_to_name_png(tmp_path, monkeypatch, capsys):
    from jaxann import experiments

    def never(*args, **kwargs):
        raise AssertionError("the figure was computed before --out was checked")

    monkeypatch.setattr(experiments, "batching", never)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["plot", "batching", "--out", str(blocker / "b.png")]) == 2
    assert capsys.readouterr().err.startswith(f"jaxann plot: error: cannot write {blocker / 'b.png'}")
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "activations"]) == 0
    assert capsys.readouterr().out == "wrote activations.png\n"
    assert (tmp_path / "activations.png").read_bytes()[:4] == b"\x89PNG"

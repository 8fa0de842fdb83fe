import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxann
from jaxann.cli import main
from jaxann.deltas import RULES, batch_magnitudes, feedback_matrices, feedback_stream
from jaxann.errors import JaxannError
from jaxann.gradcheck import CHEAP, MODES, angle_and_ratio, fd_modes, gradcheck, random_problem


def run(*args):
    return subprocess.run([sys.executable, "-m", "jaxann", *args], capture_output=True, text=True)


def test_gradcheck_default_passes_and_prints_the_table():
    r = run("gradcheck")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("gradcheck: sizes 4-5-3, activation relu, loss cross_entropy")
    assert len([ln for ln in lines if ln.strip().startswith(("1  ", "2  "))]) == 4  # 2 layers x W, b
    assert "OK: all gradients agree" in r.stdout


def test_gradcheck_json_with_arguments():
    r = run("gradcheck", "--sizes", "3,6,6,2", "--activation", "tanh", "--loss", "mse",
            "--dtype", "float32", "--alpha", "0.5", "--seed", "7", "--fd", "all", "--directions", "3",
            "--samples", "4", "--grad", "all", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] is True and report["dtype"] == "float32"
    assert report["config"]["sizes"] == [3, 6, 6, 2]
    assert report["finite_differences"] == {"entries": {"per_array": None}, "directions": {"per_array": 3},
                                            "sample": {"per_array": 4}}
    assert report["rules"] == list(RULES)
    rows = report["rows"]
    assert [(row["layer"], row["param"]) for row in rows] == [
        (1, "W"), (1, "b"), (2, "W"), (2, "b"), (3, "W"), (3, "b")]
    assert all(row["backprop"] <= report["tolerance"]["backprop"] for row in rows)
    tol = report["tolerance"]["finite_differences"]
    assert all(e <= tol for row in rows for e in row["finite_differences"].values())
    for row in rows:
        # backprop is the gradient; so is every rule's update in the output layer (delta^L is the cost's)
        same = ["backprop"] if row["layer"] < 3 else list(RULES)
        for rule in same:
            assert row["rules"][rule]["angle"] < 0.1 and abs(row["rules"][rule]["norm_ratio"] - 1) < 1e-5, (row, rule)
    assert rows[0]["rules"]["feedback_alignment"]["angle"] > 1  # a random B^2 is not W^2


def test_gradcheck_exits_1_when_the_differences_disagree(capsys):
    # eps 0.5: truncation ~eps^2 and relu's kinks crossed, so the differences miss the gradient
    assert main(["gradcheck", "--eps", "0.5", "--no-compile-cache"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "NO" in out and "eps 0.5" in out


@pytest.mark.parametrize("args,message", [
    (["gradcheck", "--sizes", "4,x"], "'4,x' is not a comma-separated list of positive integers"),
    (["gradcheck", "--sizes", "4"], "needs at least two layers"),
    (["gradcheck", "--activation", "swish"], "invalid choice: 'swish'"),
    (["gradcheck", "--batch", "0"], "--batch 0 must be a positive integer"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_are_one_line_and_exit_2(args, message):
    r = run(*args)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args,message", [
    (["--fd", "entries,forward"], "'entries,forward' is not 'all' or a comma-separated list of: entries"),
    (["--grad", "autodiff"], "'autodiff' is not 'all' or a comma-separated list of: backprop"),
    (["--directions", "0"], "'0' is not a positive integer"),
    (["--eps", "0"], "'0' is not a positive number"),
])
def test_bad_check_flags_are_one_line_and_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit:  # argparse's refusal, in this process (no JAX start-up)
        main(["gradcheck", *args])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.count("\n") == 1 and message in err


# --- the finite-difference modes against deliberately wrong gradients ----------------------

ALPHA = 1e-4


@pytest.fixture(scope="module")
def sigmoid_check():
    """One check of a 4-6-5-3 sigmoid network in every mode (one program), and its problem."""
    params, x, y = random_problem([4, 6, 5, 3], 8, "cross_entropy", "float64", seed=3)
    report = gradcheck(params, x, y, "sigmoid", "cross_entropy", ALPHA, fd=MODES, directions=4, samples=5,
                       rules=RULES, seed=3)
    return report, params, x, y


def without_h_prime(params, x, y):
    """The gradient with h'(z^l) left out of the recursion: the cost of `jaxann.loss`,
    written out with each hidden h(z) as z + stop_gradient(h(z) - z) (the same value, a
    derivative of 1 where the lecture has h'(z))."""
    def cost(params):
        a = x
        for layer in params[:-1]:
            z = a @ layer["W"] + layer["b"][None, :]
            a = z + jax.lax.stop_gradient(jax.nn.sigmoid(z) - z)
        logits = a @ params[-1]["W"] + params[-1]["b"][None, :]
        e = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))
        return e + ALPHA / (2 * len(x)) * sum(jnp.sum(layer["W"] ** 2) for layer in params)

    with jax.enable_x64(True):
        params = jax.tree.map(jnp.asarray, params)
        assert float(cost(params)) == pytest.approx(float(jaxann.loss(params, x, y, "sigmoid", alpha=ALPHA)), rel=1e-12)
        return jax.device_get(jax.jit(jax.grad(cost))(params))


def test_every_mode_passes_the_true_gradient(sigmoid_check):
    report, *_ = sigmoid_check
    assert report.ok and report.modes == {"entries": None, "directions": 4, "sample": 5}
    for row in report.rows:
        assert set(row.finite_differences) == set(MODES)
        # float64, eps 1e-6: ~1e-10 of rounding per estimate against gradients of norm ~1e-2
        assert max(row.finite_differences.values()) < 1e-7, row
        assert row.backprop <= 1e-14  # the same sums as autodiff's, up to rounding's order


def wrong_gradients(params, x, y):
    g = jax.device_get(jaxann.backprop(*jax.tree.map(jnp.asarray, (params, x, y)), "sigmoid", alpha=ALPHA))
    flipped = (g[0], {"W": -g[1]["W"], "b": -g[1]["b"]}, g[2])
    no_l2 = jax.device_get(jaxann.backprop(*jax.tree.map(jnp.asarray, (params, x, y)), "sigmoid", alpha=0.0))
    return {"sign flipped in layer 2": flipped, "missing h'": without_h_prime(params, x, y),
            "missing L2 term": no_l2}


def test_every_mode_flags_each_wrong_gradient(sigmoid_check, x64):
    report, params, x, y = sigmoid_check
    wrong = wrong_gradients(params, x, y)
    tol = report.tol_finite_differences
    flipped = report.fd.errors(wrong["sign flipped in layer 2"])
    for i, errors in enumerate(flipped):  # arrays W^1, b^1, W^2, b^2, W^3, b^3
        for mode, e in errors.items():
            if i in (2, 3):  # ||-g - g|| / (||g|| + ||g||) = 1, up to the estimates' 1e-9
                assert e == pytest.approx(1.0, abs=1e-6), (i, mode)
            else:
                assert e < tol, (i, mode)
    missing_h = report.fd.errors(wrong["missing h'"])
    for i in (0, 1, 2, 3):  # the hidden layers' deltas lack h' (<= 1/4 for the sigmoid): far off
        assert all(e > 0.1 for e in missing_h[i].values()), (i, missing_h[i])
    assert all(e < tol for e in missing_h[4].values()) and all(e < tol for e in missing_h[5].values())
    no_l2 = report.fd.errors(wrong["missing L2 term"])
    g = jax.tree.leaves(wrong["sign flipped in layer 2"])
    for i, errors in enumerate(no_l2):
        if i % 2:  # biases carry no L2 term
            assert all(e < tol for e in errors.values()), (i, errors)
            continue
        W = jax.tree.leaves(params)[i]
        # entries: the missing ALPHA / m * W against twice the gradient's norm (~1e-4, >> 1e-6)
        expected = np.linalg.norm(ALPHA / len(x) * W) / (2 * np.linalg.norm(g[i]))
        assert errors["entries"] == pytest.approx(expected, rel=0.05), (i, errors)
        assert errors["directions"] > 10 * tol and errors["sample"] > 10 * tol, (i, errors)  # ~1e-4 too


def test_the_rules_are_measured_against_the_true_gradient(sigmoid_check, x64):
    report, params, x, y = sigmoid_check
    assert report.rules == RULES
    p, x, y = jax.tree.map(jnp.asarray, (params, x, y))
    g_ad = jax.tree.leaves(jax.grad(jaxann.loss)(p, x, y, "sigmoid", alpha=ALPHA))
    # the same update as training's, from the same seed's feedback (sign_symmetry_brm: the
    # magnitudes a run with this seed draws for its first batch)
    for rule in [r for r in RULES if r != "backprop"]:
        feedback = feedback_matrices([4, 6, 5, 3], rule, 3, 1.0, np.float64)
        if rule == "sign_symmetry_brm":
            feedback = batch_magnitudes(p, feedback, feedback_stream(rule, 3))
        u = jax.tree.leaves(jaxann.backprop(p, x, y, "sigmoid", alpha=ALPHA, rule=rule, feedback=feedback))
        for row, a, b in zip(report.rows, u, g_ad):
            angle, ratio = angle_and_ratio(a, b)
            assert row.rules[rule]["angle"] == pytest.approx(angle, abs=1e-9)
            assert row.rules[rule]["norm_ratio"] == pytest.approx(ratio, rel=1e-12)
    hidden = [row for row in report.rows if row.layer < 3]
    assert all(row.rules["sign_symmetry"]["angle"] < 90 for row in hidden)  # sign(W) keeps W's signs
    assert all(row.rules["feedback_alignment"]["angle"] > 1 for row in hidden)  # before any training
    text = report.table()
    assert "feedback_alignment" in text and f"{report.rows[0].rules['sign_symmetry']['angle']:.2f}" in text


def test_angle_and_ratio_by_hand():
    assert angle_and_ratio([1.0, 0.0], [1.0, 1.0]) == pytest.approx((45.0, 2 ** -0.5))
    assert angle_and_ratio([-2.0, 0.0], [1.0, 0.0]) == pytest.approx((180.0, 2.0))
    angle, ratio = angle_and_ratio([0.0, 0.0], [1.0, 0.0])
    assert np.isnan(angle) and ratio == 0.0


def test_the_default_mode_checks_every_entry_only_where_cheap():
    assert fd_modes(CHEAP) == {"entries": None}
    assert fd_modes(CHEAP + 1) == {"directions": 8, "sample": 16}
    assert fd_modes(10, ("sample", "entries"), samples=3) == {"entries": None, "sample": 3}
    with pytest.raises(JaxannError, match="finite-difference modes"):
        fd_modes(10, ("forward",))
    with pytest.raises(JaxannError, match="directions 0 must be a positive integer"):
        fd_modes(10, ("directions",), directions=0)


@pytest.mark.slow
def test_the_mnist_size_network_passes_in_every_mode():
    params, x, y = random_problem([784, 100, 100, 10], 8, "cross_entropy", "float64", seed=0)
    report = gradcheck(params, x, y, "relu", "cross_entropy", 1e-4, fd=("directions", "sample"))
    assert report.ok, report.table()
    # the worst array measures ~1e-8: 100x under the tolerance (module notes)
    assert max(e for row in report.rows for e in row.finite_differences.values()) < 1e-7


# --- relative_error -------------------------------------------------------------------------

def test_relative_error_by_hand():
    import jax.numpy as jnp

    from jaxann.gradcheck import relative_error

    g = ({"W": jnp.array([3.0, 0.0]), "b": jnp.array([0.0])},)
    ref = ({"W": jnp.array([0.0, 4.0]), "b": jnp.array([0.0])},)
    # ||g - ref|| = ||(3, -4)|| = 5; ||g|| + ||ref|| = 3 + 4 = 7
    assert relative_error(g, ref) == pytest.approx(5 / 7)
    assert relative_error(g, g) == 0.0
    zeros = ({"W": jnp.zeros(2), "b": jnp.zeros(1)},)
    assert relative_error(zeros, zeros) == 0.0  # both zero: 0, not 0 / 0


def test_relative_error_refuses_trees_that_do_not_pair():
    import jax.numpy as jnp

    from jaxann.errors import JaxannError
    from jaxann.gradcheck import relative_error

    one_layer = ({"W": jnp.ones((2, 2)), "b": jnp.ones(2)},)
    with pytest.raises(JaxannError, match="two different trees"):
        relative_error(one_layer, one_layer + one_layer)  # two layers against one: not a silent zip
    with pytest.raises(JaxannError, match="two different trees"):
        relative_error(one_layer, ({"W": jnp.ones((2, 2)), "c": jnp.ones(2)},))
    with pytest.raises(JaxannError, match="different shapes"):
        relative_error(one_layer, ({"W": jnp.ones((2, 3)), "b": jnp.ones(2)},))


def test_an_undefined_angle_is_null_in_the_json():
    # a zero gradient (b^1 under the step activation) has no angle: NaN in the table, null in JSON
    from jaxann.gradcheck import Report, Row

    row = Row(1, "b", (5,), 0.0, 0.0, {"entries": 0.0}, True,
              {"backprop": {"angle": float("nan"), "norm_ratio": float("nan")}})
    report = Report([row], "float64", 1e-10, 1e-6, 1e-6, {"entries": None}, ("backprop",), 0)
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert json.loads(text)["rows"][0]["rules"]["backprop"] == {"angle": None, "norm_ratio": None}
    assert "nan" in report.table().splitlines()[-1]

import json
import subprocess
import sys

import jax
import pytest

import jaxann.gradcheck
from jaxann.cli import main


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
            "--dtype", "float32", "--alpha", "0.5", "--seed", "7", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] is True and report["dtype"] == "float32"
    assert report["config"]["sizes"] == [3, 6, 6, 2]
    assert [(row["layer"], row["param"]) for row in report["rows"]] == [
        (1, "W"), (1, "b"), (2, "W"), (2, "b"), (3, "W"), (3, "b")]
    assert all(row["backprop"] <= report["tolerance"]["backprop"] for row in report["rows"])


def test_gradcheck_exits_1_when_backprop_disagrees(monkeypatch, capsys):
    real = jaxann.gradcheck.backprop

    def off_by_a_bit(*args, **kwargs):  # a backprop with a 1% error in the first layer's W
        g = real(*args, **kwargs)
        return ({"W": g[0]["W"] * 1.01, "b": g[0]["b"]},) + tuple(g[1:])

    monkeypatch.setattr(jaxann.gradcheck, "backprop", off_by_a_bit)
    try:
        assert main(["gradcheck"]) == 1
    finally:
        jax.config.update("jax_enable_x64", False)  # main() turned it on for this process
    out = capsys.readouterr().out
    assert "FAILED" in out
    row = [ln.split() for ln in out.splitlines() if ln.strip().startswith("1  W")][0]
    assert row[-1] == "NO" and 4e-3 < float(row[-3]) < 6e-3  # 0.01 / (1 + 1.01)


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

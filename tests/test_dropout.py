"""Dropout (`jaxann.dropout`): inverted dropout on the hidden activations while training,
its masks from the run's own random stream, carried through both gradient sources."""

import json
import subprocess
import sys
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxann import MLPClassifier
from jaxann.checkpoint import load_checkpoint, save_checkpoint
from jaxann.config import TrainConfig
from jaxann.deltas import RULES, autodiff, value_and_backprop
from jaxann.dropout import DROPOUT_STREAM, dropout_state, scaled_masks
from jaxann.errors import JaxannError
from jaxann.loop import fit
from jaxann.losses import as_targets
from jaxann.network import forward, init_mlp, objective
from jaxann.predict import accuracy
from jaxann.sweep import fit_many


def masks_of(rates, seed, count, rows, widths, dtype=jnp.float32):
    """The scaled masks of step `count` of a run with this seed (the step's draw)."""
    rates_array, (key, _) = dropout_state(rates, seed, dtype)
    return [np.asarray(d) for d in scaled_masks(rates_array, (key, np.uint32(count)), rows, widths, dtype)]


def test_backprop_carries_the_masks_as_jax_grad_does(x64):
    # a 2-hidden-layer net, p = (0.5, 0.2), the same masks given to both gradient sources
    sizes, m = [5, 7, 6, 3], 11
    params = init_mlp(3, sizes, dtype=jnp.float64)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(m, 5)))
    t = as_targets(rng.integers(0, 3, m), 3, m, jnp.float64)
    w = jnp.asarray(rng.uniform(0.5, 2.0, m))
    masks = tuple(jnp.asarray(d) for d in masks_of((0.5, 0.2), 7, 4, m, [7, 6], jnp.float64))
    assert all(d.dtype == jnp.float64 for d in masks) and 0 < (masks[0] == 0).mean() < 1
    for activation in ("relu", "tanh"):
        (C_bp, a_bp), g_bp = value_and_backprop(params, x, t, w, activation, "cross_entropy", 0.1, masks=masks)
        (C_ad, a_ad), g_ad = autodiff(params, x, t, w, activation, "cross_entropy", 0.1, masks=masks)
        np.testing.assert_allclose(C_bp, C_ad, rtol=1e-12)
        for a, b in zip(jax.tree.leaves(g_bp), jax.tree.leaves(g_ad)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
        # and the masks matter: without them the gradient is another one
        g_plain = autodiff(params, x, t, w, activation, "cross_entropy", 0.1)[1]
        assert not np.allclose(g_plain[0]["W"], g_ad[0]["W"])


def test_every_learning_rule_passes_no_error_through_a_dropped_unit(x64):
    # unit 0 of layer 1 dropped in every row: its delta is 0, so b^1_0, the column W^1[:, 0]
    # and the row W^2[0, :] (fed by a^1_0 = 0) get no update, whatever the rule
    sizes, m = [4, 5, 6, 3], 8
    params = init_mlp(1, sizes, dtype=jnp.float64)
    rng = np.random.default_rng(1)
    x, t = jnp.asarray(rng.normal(size=(m, 4))), as_targets(rng.integers(0, 3, m), 3, m, jnp.float64)
    d1 = np.full((m, 5), 2.0)
    d1[:, 0] = 0.0
    masks = (jnp.asarray(d1), jnp.full((m, 6), 1.25))
    from jaxann.deltas import feedback_matrices

    for rule in RULES:
        feedback = feedback_matrices(sizes, rule, 1, dtype=np.float64)
        if rule == "sign_symmetry_brm":  # its formula with one batch's magnitudes
            feedback = tuple(np.full((a, b), g) for (a, b), g in zip([(5, 6), (6, 3)], feedback))
        g = value_and_backprop(params, x, t, jnp.ones(m), "tanh", "cross_entropy", 0.0, rule, feedback, masks)[1]
        assert float(g[0]["b"][0]) == 0.0 and not np.any(g[0]["W"][:, 0]) and not np.any(g[1]["W"][0]), rule
        assert np.all(g[0]["b"][1:] != 0), rule


def test_one_forward_pass_with_masks_is_the_inverted_dropout_formula():
    # 3-4-3-2, relu, a given mask: a^l = relu(z^l) * m^l / (1 - p_l), by NumPy
    rng = np.random.default_rng(2)
    params = tuple({"W": rng.normal(size=(a, b)).astype(np.float32), "b": rng.normal(size=b).astype(np.float32)}
                   for a, b in ((3, 4), (4, 3), (3, 2)))
    x = rng.normal(size=(2, 3)).astype(np.float32)
    m1, m2 = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], np.float32), np.array([[1, 1, 0], [0, 1, 1]], np.float32)
    p1, p2 = 0.5, 0.25
    masks = (jnp.asarray(m1 / (1 - p1)), jnp.asarray(m2 / (1 - p2)))
    relu = lambda z: np.maximum(z, 0)  # noqa: E731
    a1 = relu(x @ params[0]["W"] + params[0]["b"]) * m1 / (1 - p1)
    a2 = relu(a1 @ params[1]["W"] + params[1]["b"]) * m2 / (1 - p2)
    a3 = a2 @ params[2]["W"] + params[2]["b"]
    t = jnp.eye(2, dtype=jnp.float32)
    _, a_L = objective(params, x, t, jnp.ones(2), "relu", "cross_entropy", 0.0, masks)
    np.testing.assert_allclose(a_L, a3, rtol=1e-5, atol=1e-6)


def _mix(x):  # lowbias32, as `jaxann.deltas.mix` documents it, in NumPy's wrapping uint32
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x7FEB352D)
    x = x ^ (x >> np.uint32(15))
    x = x * np.uint32(0x846CA68B)
    return x ^ (x >> np.uint32(16))


def test_the_masks_are_the_documented_hash_of_key_step_layer_row_and_unit():
    rates, seed, count, rows, widths = (0.5, 0.2), 4, 9, 6, [7, 5]
    key = np.random.default_rng((seed, DROPOUT_STREAM)).integers(0, 2**32, 2, dtype=np.uint32)
    with np.errstate(over="ignore"):
        step = _mix(np.uint32(count) ^ key[0])
        for l, (p, n, d) in enumerate(zip(rates, widths, masks_of(rates, seed, count, rows, widths)), start=1):
            a = _mix(np.uint32(step + np.uint32(l)))
            b = _mix(a ^ key[1])
            i = np.arange(rows * n, dtype=np.uint32).reshape(rows, n)
            u = ((_mix(_mix(i ^ a) + b) >> np.uint32(9)).astype(np.float32) + 0.5) * np.float32(2.0 ** -23)
            keep = np.float32(1) - np.float32(p)  # 1 - p_l in float32, as the rates are held
            expected = np.where(u < keep, np.float32(1) / keep, np.float32(0))
            np.testing.assert_array_equal(d, expected)


def test_the_kept_share_is_one_minus_p_and_the_masks_follow_seed_and_step():
    # 400 rows x 250 units = 100,000 draws per layer: the kept share's standard deviation is
    # sqrt(p (1 - p) / 1e5) <= 0.0016; a 5-sigma band (a correct draw leaves it with
    # probability ~6e-7) still refuses a rate off by 0.008, a tenth of the smallest p here
    rates, rows, widths = (0.1, 0.5, 0.8), 400, [250, 250, 250]
    drawn = masks_of(rates, 1, 0, rows, widths)
    for p, d in zip(rates, drawn):
        kept = d > 0
        sigma = np.sqrt(p * (1 - p) / d.size)
        assert abs(kept.mean() - (1 - p)) < 5 * sigma, (p, kept.mean())
        # kept units scaled by 1 / (1 - p_l), the rate held in float32
        np.testing.assert_array_equal(d[kept], np.float32(1) / (np.float32(1) - np.float32(p)))
    # another layer, step or seed: other units kept (two independent draws at p = 1/2 disagree
    # on half the units); the same seed and step: the same masks
    halves = masks_of((0.5, 0.5), 1, 0, rows, [250, 250])
    for other in (halves[1], masks_of((0.5,), 1, 1, rows, [250])[0], masks_of((0.5,), 2, 0, rows, [250])[0]):
        assert 0.45 < ((halves[0] > 0) != (other > 0)).mean() < 0.55
    for a, b in zip(drawn, masks_of(rates, 1, 0, rows, widths)):
        np.testing.assert_array_equal(a, b)
    # a layer with rate 0 keeps every unit, unscaled (1 / (1 - 0) = 1 exactly)
    assert np.all(masks_of((0.0, 0.5), 3, 5, rows, [250, 250])[0] == 1.0)


@pytest.fixture
def problem(small_problem):
    return small_problem(n=60, n_in=4, n_out=3)


def test_dropout_zero_is_the_program_without_dropout_bit_for_bit(fresh_programs, problem):
    x, y = problem
    base = TrainConfig(hidden=(8, 6), epochs=3, batch_size=16)
    plain = fit(base, x, y)
    assert "epoch" in plain.compiled
    for off in (0.0, (0.0, 0.0)):
        result = fit(replace(base, dropout=off), x, y)
        assert "epoch" not in result.compiled  # the very program of the run without dropout
        assert result.history.loss == plain.history.loss and result.progress.state.dropout == ()
        for a, b in zip(jax.tree.leaves(result.params), jax.tree.leaves(plain.params)):
            np.testing.assert_array_equal(a, b)
    # rates are inputs: another rate reuses the dropout program, and trains otherwise
    first = fit(replace(base, dropout=0.3), x, y)
    second = fit(replace(base, dropout=(0.5, 0.1)), x, y)
    assert "epoch" in first.compiled and "epoch" not in second.compiled
    assert first.history.loss != plain.history.loss != second.history.loss


def test_predictions_and_validation_scores_are_without_dropout(problem):
    x, y = problem
    config = TrainConfig(hidden=(16,), epochs=4, batch_size=10, dropout=0.5, lr=0.05)
    result = fit(config, x[:45], y[:45], validation=(x[45:], y[45:]))
    params = result.progress.state.params
    once, again = np.asarray(forward(params, x)), np.asarray(forward(params, x))
    np.testing.assert_array_equal(once, again)
    # the network's plain forward pass, by hand
    (W1, b1), (W2, b2) = ((np.asarray(layer["W"]), np.asarray(layer["b"])) for layer in params)
    np.testing.assert_allclose(once, np.maximum(x @ W1 + b1, 0) @ W2 + b2, rtol=1e-5, atol=1e-5)
    # the validation score is the last parameters' accuracy, with every unit kept
    assert result.history.validation_score[-1] == accuracy(params, x[45:], y[45:], "relu")


def test_a_resumed_run_draws_the_masks_the_uninterrupted_one_does(tmp_path, problem):
    x, y = problem
    config = TrainConfig(hidden=(8, 6), epochs=5, batch_size=16, dropout=(0.4, 0.2), optimizer="adam", lr=0.01)
    whole = fit(config, x, y)
    part = fit(replace(config, epochs=2), x, y)
    sizes = config.sizes(4, 3)
    save_checkpoint(tmp_path / "c.npz", part.progress, replace(config, epochs=2), sizes)
    resumed = fit(config, x, y, resume=load_checkpoint(tmp_path / "c.npz", config, sizes))
    assert resumed.history.loss == whole.history.loss
    for a, b in zip(jax.tree.leaves(resumed.progress.state), jax.tree.leaves(whole.progress.state)):
        np.testing.assert_array_equal(a, b)
    assert int(whole.progress.state.dropout[1][1]) == 5 * 4  # the stream's count: 4 batches an epoch


def test_each_model_of_a_sweep_draws_its_own_seeds_masks(problem, x64):
    x, y = problem
    base = TrainConfig(hidden=(8,), epochs=3, batch_size=16, dtype="float64")
    members = [replace(base, seed=1, dropout=0.3), replace(base, seed=2, dropout=0.5), replace(base, seed=3)]
    sweep = fit_many(members, x, y)
    for config, history in zip(members, sweep.histories):
        np.testing.assert_allclose(history.loss, fit(config, x, y).history.loss, rtol=1e-12)


def test_the_estimator_trains_with_dropout_and_lbfgs_refuses_it():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16
    params = dict(hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=0.1, max_iter=6, random_state=0)
    with pytest.warns(Warning):  # max_iter reached
        clf = MLPClassifier(dropout=0.3, **params).fit(X, y)
        plain = MLPClassifier(**params).fit(X, y)
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0] and clf.score(X, y) > 0.9
    assert clf.loss_curve_ != plain.loss_curve_  # units were dropped
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_allclose(clf.to_sklearn().predict_proba(X), clf.predict_proba(X), rtol=1e-4, atol=1e-6)
    assert "dropout" not in clf.to_sklearn().get_params()
    with pytest.raises(JaxannError, match="L-BFGS needs a deterministic cost: dropout must be 0"):
        MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", dropout=0.2).fit(X, y)
    with pytest.raises(JaxannError, match=r"dropout \(0.2, 0.1\) must be .* \(1 for hidden \[8\]\)"):
        MLPClassifier(hidden_layer_sizes=(8,), dropout=[0.2, 0.1]).fit(X, y)


@pytest.mark.parametrize("dropout,message", [
    (1.0, "dropout 1.0 must be a rate in [0, 1)"), (-0.1, "dropout -0.1 must be"),
    ((0.2,), "(2 for hidden [8, 4])"), (float("nan"), "dropout nan must be"),
])
def test_bad_rates_are_one_line_errors(dropout, message):
    with pytest.raises(JaxannError) as e:
        TrainConfig(hidden=(8, 4), dropout=dropout).validate()
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_rates_round_trip_through_the_saved_config():
    for dropout in (0.25, (0.5, 0.1)):
        config = TrainConfig(hidden=(8, 4), dropout=dropout)
        saved = json.loads(json.dumps(config.to_dict()))
        assert saved["dropout"] == (list(dropout) if isinstance(dropout, tuple) else dropout)
        assert TrainConfig.from_dict(saved) == config


def test_the_command_line_takes_dropout(tmp_path, capsys):
    from jaxann.cli import build_parser, main
    from jaxann.cli.sweep import members_from
    from jaxann.sweep import read_settings

    metrics = tmp_path / "m.json"
    assert main(["train", "--dropout", "0.2,0.1", "--hidden", "16,8", "--epochs", "1", "--quiet",
                 "--metrics", str(metrics)]) == 0
    assert json.loads(metrics.read_text())["config"]["dropout"] == [0.2, 0.1]
    args = build_parser("sweep").parse_args(["sweep", "--dropout", "0,0.1,0.3"])
    assert [m.dropout for m in members_from(args)] == [0.0, 0.1, 0.3]
    (tmp_path / "s.csv").write_text('hidden,dropout\n"16,8","0.2,0.1"\n16,0.5\n')
    assert [row["dropout"] for row in read_settings(tmp_path / "s.csv")] == [(0.2, 0.1), 0.5]
    for bad, message in (("0.2,x", "argument --dropout: '0.2,x' is not a rate"),
                         ("1.5", "dropout 1.5 must be a rate in [0, 1)")):
        r = subprocess.run([sys.executable, "-m", "jaxann", "train", "--dropout", bad], capture_output=True, text=True)
        assert r.returncode == 2 and message in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1

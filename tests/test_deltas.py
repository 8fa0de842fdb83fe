"""Explicit backprop against jax.grad (and finite differences), over a table of cases.

Relative error throughout: ||g - g_ref||_2 / (||g||_2 + ||g_ref||_2) over all entries of
the gradient tree (`jaxann.gradcheck.relative_error`).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxann
from jaxann.activations import ACTIVATIONS, SMOOTH
from jaxann.deltas import example_gradient
from jaxann.gradcheck import gradcheck, relative_error
from jaxann.losses import LOSSES, as_targets


def random_targets(rng, loss: str, m: int, n_out: int, dtype):
    """m random targets of the kind `loss` takes: class labels (m,) for cross_entropy; rows
    (m, n_out) of 0/1 indicators for binary_cross_entropy, of counts (Poisson, mean 2) for
    poisson, of standard normal values otherwise."""
    if loss == "cross_entropy":
        return rng.integers(0, n_out, m)
    if loss == "binary_cross_entropy":
        return (rng.random((m, n_out)) < 0.5).astype(dtype)
    if loss == "poisson":
        return rng.poisson(2.0, (m, n_out)).astype(dtype)
    return rng.standard_normal((m, n_out)).astype(dtype)


def make_case(seed, sizes, m, loss, dtype):
    """A network, m input rows and targets, all drawn on the host from seed (nothing compiles)."""
    rng = np.random.default_rng(seed)
    params = jaxann.init_mlp(seed, sizes, dtype=dtype)
    x = rng.standard_normal((m, sizes[0])).astype(dtype)
    return params, x, random_targets(rng, loss, m, sizes[-1], dtype)


def cases(max_depth, max_width, max_batch):
    return st.fixed_dictionaries({
        "seed": st.integers(0, 2**31 - 1),
        "sizes": st.lists(st.integers(1, max_width), min_size=2, max_size=max_depth + 1),
        "m": st.integers(1, max_batch),
        "alpha": st.one_of(st.just(0.0), st.floats(1e-6, 10.0)),
        "loss": st.sampled_from(list(LOSSES)),
    })


# jax.grad of the cost as one compiled program (op by op, each operation of a new shape
# would compile on its own)
_autodiff = jax.jit(jax.grad(jaxann.loss), static_argnames=("activation", "loss"))


def grads(params, x, y, case, activation):
    kw = dict(activation=activation, loss=case["loss"], alpha=case["alpha"])
    return jaxann.backprop(params, x, y, **kw), _autodiff(params, x, y, **kw)


# 12 random networks per test: each new shape compiles anew, which is most of the time they take
SETTINGS = settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow
@SETTINGS
@given(case=cases(max_depth=5, max_width=40, max_batch=64), activation=st.sampled_from(list(ACTIVATIONS)))
def test_backprop_equals_autodiff_float64(case, activation):
    with jax.enable_x64(True):
        params, x, y = make_case(case["seed"], case["sizes"], case["m"], case["loss"], jnp.float64)
        g_bp, g_ad = grads(params, x, y, case, activation)
        assert jax.tree.structure(g_bp) == jax.tree.structure(params)
        # both are exact up to float64 rounding (~1e-16 per operation): 1e-10 leaves room
        # for a few thousand accumulated roundings and nothing else
        assert relative_error(g_bp, g_ad) <= 1e-10


@pytest.mark.slow
@SETTINGS
@given(case=cases(max_depth=5, max_width=40, max_batch=64), activation=st.sampled_from(list(ACTIVATIONS)))
def test_backprop_equals_autodiff_float32(case, activation):
    params, x, y = make_case(case["seed"], case["sizes"], case["m"], case["loss"], jnp.float32)
    g_bp, g_ad = grads(params, x, y, case, activation)
    assert all(g.dtype == jnp.float32 for g in jax.tree.leaves(g_bp))
    # float32 rounding is ~6e-8 per operation; 1e-4 allows for sums over 64 rows and 5 layers
    assert relative_error(g_bp, g_ad) <= 1e-4


@pytest.mark.slow
@settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(max_depth=3, max_width=8, max_batch=16), activation=st.sampled_from(SMOOTH))
def test_finite_differences_agree_with_autodiff(case, activation):
    with jax.enable_x64(True):
        params, x, y = make_case(case["seed"], case["sizes"], case["m"], case["loss"], jnp.float64)
        kw = dict(activation=activation, loss=case["loss"], alpha=case["alpha"])
        g_ad = _autodiff(params, x, y, **kw)
        g_fd = gradcheck(params, x, y, fd=("entries",), eps=1e-6, **kw).fd.entries
        # central differences with eps 1e-6: truncation ~1e-12, rounding ~1e-16 |C| / eps
        assert relative_error(g_fd, g_ad) <= 1e-6


@pytest.mark.parametrize("loss", list(LOSSES))
def test_step_activation_gives_zero_gradients_below_the_output_layer(loss, x64):
    params, x, y = make_case(5, [6, 7, 5, 3], 20, loss, jnp.float64)
    g = jaxann.backprop(params, x, y, activation="step", loss=loss, alpha=0.0)
    g_ad = jax.grad(jaxann.loss)(params, x, y, activation="step", loss=loss, alpha=0.0)
    for layer in (g[0], g[1], g_ad[0], g_ad[1]):
        assert float(jnp.abs(layer["W"]).max()) == 0.0 and float(jnp.abs(layer["b"]).max()) == 0.0
    assert float(jnp.abs(g[2]["W"]).max()) > 0.0  # the output layer still learns


def test_hand_computed_backprop_one_example(x64):
    # 1-1-1 network, sigmoid hidden unit, MSE: x = 1, W1 = 0, b1 = 0, W2 = 2, b2 = 0, y = 3
    params = ({"W": jnp.array([[0.0]]), "b": jnp.array([0.0])},
              {"W": jnp.array([[2.0]]), "b": jnp.array([0.0])})
    # forward: z1 = 0, a1 = 0.5, a2 = 1; e = (1 - 3)^2 = 4
    # delta2 = 2 (a2 - y) = -4;  dW2 = a1 delta2 = -2;  db2 = -4
    # delta1 = W2 delta2 h'(z1) = 2 * -4 * 0.25 = -2;  dW1 = x delta1 = -2;  db1 = -2
    g = jaxann.backprop(params, jnp.array([[1.0]]), jnp.array([[3.0]]), activation="sigmoid", loss="mse")
    assert float(jaxann.loss(params, jnp.array([[1.0]]), jnp.array([[3.0]]), "sigmoid", "mse")) == 4.0
    assert [float(g[0]["W"][0, 0]), float(g[0]["b"][0]), float(g[1]["W"][0, 0]), float(g[1]["b"][0])] == [-2, -2, -2, -4]


def test_mean_of_example_gradients_is_the_batch_gradient(x64):
    params, x, y = make_case(9, [4, 6, 3], 10, "cross_entropy", jnp.float64)
    t = as_targets(y, 3, 10, jnp.float64)
    per_example = jax.vmap(example_gradient, in_axes=(None, 0, 0, None, None))(params, x, t, "tanh", "cross_entropy")
    mean = jax.tree.map(lambda g: g.mean(axis=0), per_example)
    batch = jaxann.backprop(params, x, y, activation="tanh", loss="cross_entropy", alpha=0.0)
    assert relative_error(mean, batch) <= 1e-14  # the same sums in another order


def test_one_example_equals_a_batch_of_one(x64):
    params, x, y = make_case(2, [3, 4, 2], 1, "mse", jnp.float64)
    a = jaxann.backprop(params, x[0], y[0], activation="elu", loss="mse", alpha=0.1)
    b = jaxann.backprop(params, x, y, activation="elu", loss="mse", alpha=0.1)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(u, v)


def test_contract_exactly_as_designed():
    params = jaxann.init_mlp(jax.random.key(0), [784, 50, 10])
    x = jax.random.uniform(jax.random.key(1), (32, 784))
    y = jax.random.randint(jax.random.key(2), (32,), 0, 10)
    out = jaxann.forward(params, x, activation="relu")
    value = jaxann.loss(params, x, y, activation="relu", loss="cross_entropy", alpha=1e-4)
    g = jaxann.backprop(params, x, y, activation="relu", loss="cross_entropy", alpha=1e-4)
    g_ad = jax.grad(jaxann.loss)(params, x, y, activation="relu", loss="cross_entropy", alpha=1e-4)
    assert out.shape == (32, 10) and value.shape == () and np.isfinite(float(value))
    assert relative_error(g, g_ad) <= 1e-4  # float32, see test_backprop_equals_autodiff_float32


@pytest.mark.parametrize("bad,match", [
    (dict(x=jnp.zeros((4, 5))), r"x has shape \(4, 5\); expected \(m, 3\)"),
    (dict(y=jnp.zeros((4, 3))), r"targets y have shape \(4, 3\); expected \(4, 2\)"),
    (dict(y=jnp.array([0, 1, 2, 0])), r"labels y range over 0\.\.2; expected 0\.\.1"),
    (dict(y=jnp.array([0, 1])), r"integer labels y have shape \(2,\); expected \(4,\)"),
    (dict(activation="sigmoidal"), "unknown activation 'sigmoidal'"),
    (dict(loss="mae"), "unknown loss 'mae'"),
    (dict(x=jnp.zeros((0, 3)), y=jnp.zeros(0, int)), r"x has shape \(0, 3\); expected \(m, 3\) with m > 0"),
    (dict(x=jnp.zeros((4, 3)).at[1, 2].set(jnp.nan)), "x holds NaN or infinite values"),
    (dict(x=jnp.zeros((4, 3)).at[0, 0].set(jnp.inf)), "x holds NaN or infinite values"),
    (dict(y=jnp.zeros((4, 2)).at[3, 1].set(jnp.nan)), "targets y hold NaN or infinite values"),
    (dict(alpha=-0.1), "alpha -0.1 must be a number >= 0"),
    (dict(alpha=float("nan")), "alpha nan must be a number >= 0"),
])
def test_bad_inputs_raise_clear_errors(bad, match):
    params = jaxann.init_mlp(jax.random.key(0), [3, 4, 2])
    kw = dict(x=jnp.zeros((4, 3)), y=jnp.array([0, 1, 1, 0]), activation="relu", loss="cross_entropy", alpha=0.0)
    kw.update(bad)
    for fn in (jaxann.backprop, jaxann.loss):
        with pytest.raises(jaxann.JaxannError, match=match):
            fn(params, **kw)

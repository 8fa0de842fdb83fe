import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxann
from jaxann.activations import ACTIVATIONS, SMOOTH, derivative, get_activation

# h(z) at z = -2, -0.5, 0, 0.5, 2, computed by hand
Z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
HAND = {
    "step": [0, 0, 1, 1, 1],
    "sigmoid": [1 / (1 + np.exp(2)), 1 / (1 + np.exp(0.5)), 0.5, 1 / (1 + np.exp(-0.5)), 1 / (1 + np.exp(-2))],
    "tanh": list(np.tanh(Z)),
    "relu": [0, 0, 0, 0.5, 2],
    "leaky_relu": [-0.02, -0.005, 0, 0.5, 2],
    "elu": [np.exp(-2) - 1, np.exp(-0.5) - 1, 0, 0.5, 2],
    "softplus": list(np.log1p(np.exp(Z))),
    "identity": list(Z),
}
# h'(z) at the same points; at the kink z = 0: step 0, relu 0, leaky_relu 0.01, elu 1
HAND_DH = {
    "step": [0, 0, 0, 0, 0],
    "sigmoid": [s * (1 - s) for s in HAND["sigmoid"]],
    "tanh": list(1 - np.tanh(Z) ** 2),
    "relu": [0, 0, 0, 1, 1],
    "leaky_relu": [0.01, 0.01, 0.01, 1, 1],
    "elu": [np.exp(-2), np.exp(-0.5), 1, 1, 1],
    "softplus": HAND["sigmoid"],
    "identity": [1, 1, 1, 1, 1],
}


def test_every_activation_has_a_hand_computed_case():
    assert set(HAND) == set(ACTIVATIONS) == set(HAND_DH)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_h_and_dh_match_hand_values(name, x64):
    act = get_activation(name)
    z = jnp.asarray(Z)
    # float64 on both sides: agreement to 1e-12 is rounding
    np.testing.assert_allclose(act.h(z), HAND[name], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(act.dh(z), HAND_DH[name], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_dh_equals_autodiff_including_the_kink(name, x64):
    act = get_activation(name)
    z = jnp.concatenate([jnp.linspace(-6.0, 6.0, 97), jnp.zeros(1)])  # linspace hits 0 too
    autodiff = jax.vmap(jax.grad(act.h))(z)
    np.testing.assert_allclose(act.dh(z), autodiff, rtol=1e-12, atol=1e-15)


def test_relu_gradient_at_zero_is_zero():
    relu = get_activation("relu")
    assert jax.grad(relu.h)(0.0) == 0.0
    assert relu.dh(jnp.float32(0.0)) == 0.0


@pytest.mark.parametrize("name", SMOOTH)
def test_dh_equals_central_difference(name, x64):
    act = get_activation(name)
    z = jnp.linspace(-4.0, 4.0, 81) + 0.0123  # stay off elu's z = 0 (its h'' jumps there)
    # eps = 1e-6 in float64: truncation ~1e-12, rounding ~1e-10
    np.testing.assert_allclose(derivative(act.h, z), act.dh(z), rtol=0, atol=1e-8)


def test_derivative_is_the_lecture_central_difference(x64):
    # (f(z+eps) - f(z-eps)) / (2 eps) is exact for a quadratic: d/dz z^2 = 2z
    np.testing.assert_allclose(derivative(lambda z: z**2, jnp.array([3.0, -1.5]), eps=1e-3), [6.0, -3.0])
    # for z^3 the central difference carries exactly eps^2: 3 z^2 + eps^2
    np.testing.assert_allclose(derivative(lambda z: z**3, 2.0, eps=0.1), 12.01, rtol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "elu", "tanh"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["f32", "f64"])
def test_large_inputs_stay_finite(name, dtype, x64):
    act = get_activation(name)
    z = jnp.array([-1e4, -1e3, -50.0, 50.0, 1e3, 1e4], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h, dh = act.h(z), act.dh(z)
        g = jax.vmap(jax.grad(act.h))(z)
    for arr in (h, dh, g):
        assert bool(jnp.all(jnp.isfinite(arr))), (name, arr)
    if name == "sigmoid":
        np.testing.assert_allclose(h, [0, 0, np.exp(-50.0), 1, 1, 1], rtol=1e-6)
    if name == "softplus":
        np.testing.assert_allclose(h[-1], 1e4, rtol=1e-7)
        assert float(h[0]) == 0.0


def test_unknown_activation_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown activation 'swish'; expected one of: step, sigmoid"):
        get_activation("swish")
    with pytest.raises(jaxann.JaxannError, match="unknown activation"):
        jaxann.forward(jaxann.init_mlp(jax.random.key(0), [2, 2]), jnp.ones((1, 2)), activation="Relu")

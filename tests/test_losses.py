import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxann
from jaxann.losses import LOSSES, get_loss


def test_softmax_hand_computed(x64):
    # exp(1), exp(2), exp(3) = 2.71828, 7.38906, 20.08554; sum 30.19287
    p = jaxann.softmax(jnp.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(p, [0.09003057317038046, 0.24472847105479767, 0.6652409557748219], rtol=1e-14)
    # rows are independent; shifting a row leaves it unchanged
    P = jaxann.softmax(jnp.array([[1.0, 2.0, 3.0], [1001.0, 1002.0, 1003.0]]))
    np.testing.assert_allclose(P[0], P[1], rtol=1e-14)


def test_softmax_and_log_softmax_survive_huge_logits(x64):
    a = jnp.array([1e4, -1e4, 0.0])
    p = jaxann.softmax(a)
    np.testing.assert_array_equal(p, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(jaxann.log_softmax(a), [0.0, -2e4, -1e4])


def test_cross_entropy_hand_computed(x64):
    a = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    y = jnp.array([2, 0])
    # -(log 0.66524096 + log(1/3)) / 2 = (0.40760596 + 1.09861229) / 2
    expected = (0.4076059644443803 + np.log(3.0)) / 2
    np.testing.assert_allclose(jaxann.cross_entropy(a, y), expected, rtol=1e-14)
    # the same with one-hot targets, and for one example alone
    np.testing.assert_allclose(jaxann.cross_entropy(a, jax.nn.one_hot(y, 3)), expected, rtol=1e-14)
    np.testing.assert_allclose(jaxann.cross_entropy(a[0], 2), 0.4076059644443803, rtol=1e-14)


def test_mse_is_the_lectures(x64):
    a = jnp.array([[1.0, 2.0], [0.0, 0.0]])
    y = jnp.array([[0.0, 2.0], [1.0, 1.0]])
    # 1/m sum_i sum_j (a - y)^2 = ((1 + 0) + (1 + 1)) / 2: no 1/2 factor, no division by n_L
    assert float(jaxann.mse(a, y)) == 1.5
    # integer labels are one-hot encoded: targets [1, 0] and [0, 1]
    assert float(jaxann.mse(a, jnp.array([0, 1]))) == ((0 + 4) + (0 + 1)) / 2


def test_binary_cross_entropy_and_squared_error_hand_computed(x64):
    # one example, two logistic outputs a = (0, ln 3): s = (1/2, 3/4); targets (1, 0)
    #   e = -(log 1/2 + log(1 - 3/4)) = ln 2 + ln 4 = 3 ln 2;  delta = s - y = (-1/2, 3/4)
    a, y = jnp.array([0.0, np.log(3.0)]), jnp.array([1.0, 0.0])
    e, delta = get_loss("binary_cross_entropy")
    np.testing.assert_allclose(e(a, y), 3 * np.log(2.0), rtol=1e-15)
    np.testing.assert_allclose(delta(a, y), [-0.5, 0.75], rtol=1e-15)
    # half squared error: a - y = (-1, ln 3) -> e = (1 + ln(3)^2) / 2, delta = a - y
    e, delta = get_loss("squared_error")
    np.testing.assert_allclose(e(a, y), (1 + np.log(3.0) ** 2) / 2, rtol=1e-15)
    np.testing.assert_allclose(delta(a, y), [-1.0, np.log(3.0)], rtol=1e-15)


def test_l2_penalty_is_scikit_learns(x64):
    params = ({"W": jnp.array([[1.0, 2.0]]), "b": jnp.array([100.0, 100.0])},
              {"W": jnp.array([[3.0], [0.0]]), "b": jnp.array([7.0])})
    # alpha / (2 m) * (1 + 4 + 9), biases ignored: 0.5 / 8 * 14
    assert float(jaxann.l2_penalty(params, 0.5, 4)) == 0.875


def test_network_loss_adds_l2_with_batch_size(x64):
    params = jaxann.init_mlp(jax.random.key(3), [3, 4, 2], dtype=jnp.float64)
    x = jax.random.normal(jax.random.key(4), (5, 3))
    y = jnp.array([0, 1, 1, 0, 1])
    plain = jaxann.loss(params, x, y, activation="tanh", loss="cross_entropy", alpha=0.0)
    a_L = jaxann.forward(params, x, activation="tanh")
    np.testing.assert_allclose(plain, jaxann.cross_entropy(a_L, y), rtol=1e-14)
    reg = jaxann.loss(params, x, y, activation="tanh", loss="cross_entropy", alpha=0.3)
    np.testing.assert_allclose(reg - plain, jaxann.l2_penalty(params, 0.3, 5), rtol=1e-12)


# poisson's prediction is exp(a^L): at a^L ~ 1e4 it overflows by definition (so does scikit-learn's)
@pytest.mark.parametrize("loss", [name for name in LOSSES if name != "poisson"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["f32", "f64"])
def test_loss_and_gradients_finite_for_huge_outputs(loss, dtype, x64):
    # an output layer driven to |a^L| ~ 1e4: the cost and both gradients stay finite
    params = ({"W": jnp.array([[1e4, -1e4, 0.0]], dtype), "b": jnp.zeros(3, dtype)},)
    x = jnp.array([[1.0], [-1.0]], dtype)
    y = jnp.array([1, 2])
    value = jaxann.loss(params, x, y, activation="relu", loss=loss)
    g_ad = jax.grad(jaxann.loss)(params, x, y, activation="relu", loss=loss)
    g_bp = jaxann.backprop(params, x, y, activation="relu", loss=loss)
    assert bool(jnp.isfinite(value))
    for g in jax.tree.leaves((g_ad, g_bp)):
        assert bool(jnp.all(jnp.isfinite(g)))
    if loss == "cross_entropy":
        # row 1: a = (1e4, -1e4, 0), label 1: e = 2e4; row 2: a = (-1e4, 1e4, 0), label 2: e = 1e4
        np.testing.assert_allclose(value, 1.5e4, rtol=1e-6)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_output_delta_equals_autodiff_of_e(loss, x64):
    e, delta = get_loss(loss)
    a = jnp.array([0.3, -1.2, 2.0, 0.0])
    for y in (jnp.array([0.0, 0.0, 1.0, 0.0]), jnp.array([0.2, 0.5, 0.1, 0.4])):  # one-hot, soft
        np.testing.assert_allclose(delta(a, y), jax.grad(e)(a, y), rtol=1e-13, atol=1e-15)


def test_bad_targets_are_refused():
    a = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match=r"labels y range over 0\.\.4; expected 0\.\.3"):
        jaxann.cross_entropy(a, jnp.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels y range over -1\.\.2"):
        jaxann.cross_entropy(a, jnp.array([-1, 2, 1]))
    with pytest.raises(ValueError, match=r"targets y have shape \(3, 5\); expected \(3, 4\)"):
        jaxann.mse(a, jnp.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"integer labels y have shape \(2,\); expected \(3,\)"):
        jaxann.cross_entropy(a, jnp.array([0, 1]))
    with pytest.raises(ValueError, match="unknown loss 'hinge'; expected one of: cross_entropy, mse, binary_cross_entropy, squared_error"):
        jaxann.loss(jaxann.init_mlp(jax.random.key(0), [2, 4]), jnp.zeros((3, 2)), jnp.zeros(3, int), loss="hinge")

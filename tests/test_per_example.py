import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxann
from jaxann.gradcheck import relative_error


@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
@pytest.mark.parametrize("activation,loss", [("relu", "cross_entropy"), ("tanh", "mse"),
                                             ("sigmoid", "binary_cross_entropy")])
def test_mean_of_per_example_grads_is_the_batch_gradient(grad, activation, loss, x64):
    k1, k2, k3 = jax.random.split(jax.random.key(7), 3)
    params = jaxann.init_mlp(k1, [5, 6, 4, 3], dtype=jnp.float64)
    x = jax.random.normal(k2, (9, 5), jnp.float64)
    y = jax.random.randint(k3, (9,), 0, 3) if loss == "cross_entropy" else \
        jax.random.bernoulli(k3, 0.5, (9, 3)).astype(jnp.float64)
    g = jaxann.per_example_grads(params, x, y, activation=activation, loss=loss, grad=grad)
    assert [leaf.shape for leaf in jax.tree.leaves(g)] == [(9, 5, 6), (9, 6), (9, 6, 4), (9, 4), (9, 4, 3), (9, 3)]
    batch = jax.grad(jaxann.loss)(params, x, y, activation, loss, 0.0)
    mean = jax.tree.map(lambda a: a.mean(axis=0), g)
    assert relative_error(mean, batch) < 1e-13  # float64: the same sums in another order
    # and example 4's gradient is the gradient of a batch holding only example 4
    alone = jax.grad(jaxann.loss)(params, x[4:5], y[4:5], activation, loss, 0.0)
    assert relative_error(jax.tree.map(lambda a: a[4], g), alone) < 1e-13


def test_per_example_norms_as_documented():
    params = jaxann.init_mlp(jax.random.key(0), [4, 3, 2])
    x = jnp.arange(12.0).reshape(3, 4) / 10
    y = jnp.array([0, 1, 0])
    g = jaxann.per_example_grads(params, x, y)
    norms = jnp.sqrt(sum(jnp.sum(leaf.reshape(len(x), -1) ** 2, axis=1) for leaf in jax.tree.leaves(g)))
    by_hand = [np.sqrt(sum(float(jnp.sum(leaf ** 2)) for leaf in jax.tree.leaves(
        jax.grad(jaxann.loss)(params, x[i:i + 1], y[i:i + 1])))) for i in range(3)]
    np.testing.assert_allclose(norms, by_hand, rtol=1e-5)  # float32


def test_unknown_grad_is_refused():
    params = jaxann.init_mlp(jax.random.key(0), [2, 2])
    with pytest.raises(jaxann.JaxannError, match="unknown grad 'numeric'"):
        jaxann.per_example_grads(params, jnp.zeros((1, 2)), jnp.array([0]), grad="numeric")

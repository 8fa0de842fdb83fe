"""`jaxann.optimizers`: SGD (classical and Nesterov momentum) and Adam in scikit-learn's forms,
step by step against scikit-learn's own optimizers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from jaxann import optimizers


def run(ours, theirs, steps=5, seed=0):
    """Both optimizers over the same gradients: our parameters after each step, and theirs."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 2), (2,)]
    params0 = [rng.normal(size=s) for s in shapes]
    mine, sk = [jnp.asarray(p) for p in params0], [p.copy() for p in params0]
    state = ours.init(mine)
    opt = theirs(sk)
    for _ in range(steps):
        grads = [rng.normal(size=s) for s in shapes]
        updates, state = ours.update([jnp.asarray(g) for g in grads], state, mine)
        mine = [p + u for p, u in zip(mine, updates)]
        opt.update_params(sk, grads)  # in place
        yield mine, sk


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_follows_scikit_learn_step_for_step(nesterov, momentum, x64):
    ours = optimizers.sgd(0.1, momentum, nesterov)
    theirs = lambda p: SGDOptimizer(p, learning_rate_init=0.1, momentum=momentum, nesterov=nesterov)  # noqa: E731
    for mine, sk in run(ours, theirs):
        for a, b in zip(mine, sk):
            np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)  # the same float64 formula


def test_adam_follows_scikit_learn_step_for_step(x64):
    ours = optimizers.adam(0.01, 0.8, 0.99, 1e-6)
    theirs = lambda p: AdamOptimizer(p, learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6)  # noqa: E731
    for mine, sk in run(ours, theirs):
        for a, b in zip(mine, sk):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)  # sqrt and powers: a few ulps


def test_a_changed_learning_rate_keeps_the_velocity_in_parameter_units(x64):
    # v <- mu v - lr g: after a rate change the old velocity is not rescaled (optax.sgd's would be)
    opt = optimizers.sgd(1.0, 0.5, nesterov=False)
    params = [jnp.zeros(1)]
    state = opt.init(params)
    u1, state = opt.update([jnp.ones(1)], state, params)
    opt2 = optimizers.sgd(0.1, 0.5, nesterov=False)
    u2, _ = opt2.update([jnp.ones(1)], state, params)
    assert float(u1[0][0]) == -1.0 and float(u2[0][0]) == pytest.approx(0.5 * -1.0 - 0.1)

"""`jaxann.lbfgs`: the packing of parameters, and L-BFGS-B on a small problem, directly."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxann
from jaxann import lbfgs
from jaxann.config import TrainConfig
from jaxann.losses import as_targets


def test_pack_is_scikit_learns_order_and_unpack_inverts_it():
    params = jaxann.init_mlp(jax.random.key(0), [3, 4, 2])
    vector = lbfgs.pack(params)
    W1, W2, b1, b2 = (np.asarray(params[0]["W"]), np.asarray(params[1]["W"]), np.asarray(params[0]["b"]),
                      np.asarray(params[1]["b"]))
    np.testing.assert_array_equal(vector, np.concatenate([W1.ravel(), W2.ravel(), b1, b2]))
    back = lbfgs.unpack(vector, [3, 4, 2], np.float32)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)


def test_minimize_lowers_the_cost_reports_each_iteration_and_stops_at_its_limit(small_problem, x64):
    x, y = small_problem(n=40, n_in=3, n_out=3)
    config = TrainConfig(hidden=(5,), optimizer="lbfgs", epochs=15, dtype="float64", alpha=1e-3)
    params = jaxann.init_mlp(jax.random.key(2), [3, 5, 3], dtype=jnp.float64)
    seen = []
    outcome = lbfgs.minimize(config, x, np.asarray(as_targets(y, 3, 40, np.float64)), None, params,
                             callback=lambda i, loss, seconds, p: seen.append((i, loss)))
    start = float(jaxann.loss(params, x, y, "relu", "cross_entropy", 1e-3))
    assert [i for i, _ in seen] == list(range(1, len(seen) + 1)) and len(seen) <= 15
    # random labels: 15 iterations take the cost from 1.32 to 0.94 (measured)
    assert outcome.loss < start - 0.2 and outcome.loss == pytest.approx(seen[-1][1])
    # the outcome's cost is the network's cost at its parameters (float64: 1e-12)
    assert outcome.loss == pytest.approx(float(jaxann.loss(outcome.params, x, y, "relu", "cross_entropy", 1e-3)),
                                         rel=1e-12)
    assert outcome.status == 1 and len(seen) == 15  # the iteration limit, not convergence

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxann
from jaxann.network import _forward


def test_init_shapes_dtypes_and_tree(key):
    params = jaxann.init_mlp(key, [784, 50, 10])
    assert isinstance(params, tuple) and len(params) == 2
    assert [p["W"].shape for p in params] == [(784, 50), (50, 10)]
    assert [p["b"].shape for p in params] == [(50,), (10,)]
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
    assert jax.tree.structure(params) == jax.tree.structure(
        ({"W": 0, "b": 0}, {"W": 0, "b": 0}))


def test_glorot_uniform_is_scikit_learns_scheme(key):
    params = jaxann.init_mlp(key, [784, 50, 10])
    for layer, (n_in, n_out) in zip(params, [(784, 50), (50, 10)]):
        bound = np.sqrt(6 / (n_in + n_out))
        for leaf in (layer["W"], layer["b"]):  # weights and biases alike
            assert float(jnp.max(jnp.abs(leaf))) <= bound
        # a uniform on +-bound fills it: the largest of 39,200 draws is within 0.1% of it
    assert float(jnp.max(jnp.abs(params[0]["W"]))) > 0.999 * np.sqrt(6 / 834)


@pytest.mark.parametrize("init,std", [("glorot_normal", lambda i, o: np.sqrt(2 / (i + o))),
                                      ("he_normal", lambda i, o: np.sqrt(2 / i))])
def test_normal_inits(init, std, key):
    params = jaxann.init_mlp(key, [400, 300, 10], init=init)
    W = np.asarray(params[0]["W"])
    # 120,000 draws: the sample std is within 1% of the target (its standard error is 0.2%)
    assert abs(W.std() / std(400, 300) - 1) < 0.01
    assert float(jnp.abs(params[0]["b"]).max()) == 0.0


def test_init_is_deterministic_per_key_and_respects_dtype(x64):
    a = jaxann.init_mlp(jax.random.key(1), [3, 4, 2], dtype=jnp.float64)
    b = jaxann.init_mlp(jax.random.key(1), [3, 4, 2], dtype=jnp.float64)
    c = jaxann.init_mlp(jax.random.key(2), [3, 4, 2], dtype=jnp.float64)
    assert a[0]["W"].dtype == jnp.float64
    np.testing.assert_array_equal(a[1]["W"], b[1]["W"])
    assert not np.array_equal(a[1]["W"], c[1]["W"])


@pytest.mark.parametrize("sizes", [[3], [], [3, 0, 2], [3, -1], [3, 2.5], "34"])
def test_bad_sizes_are_refused(sizes, key):
    with pytest.raises(ValueError, match="is not a network; expected at least two positive integers"):
        jaxann.init_mlp(key, sizes)


def test_unknown_init_is_refused(key):
    with pytest.raises(ValueError, match="unknown init 'xavier'; expected one of: glorot_uniform"):
        jaxann.init_mlp(key, [2, 3], init="xavier")


def hand_params():
    # a 2-2-2 network with round numbers, so that forward can be done by hand
    return ({"W": jnp.array([[1.0, -1.0], [2.0, 0.5]]), "b": jnp.array([0.5, -3.0])},
            {"W": jnp.array([[1.0, 2.0], [-1.0, 1.0]]), "b": jnp.array([0.0, 1.0])})


def test_forward_hand_computed():
    x = jnp.array([[1.0, 1.0], [0.0, -2.0]])
    # row 1: z1 = (1 + 2 + .5, -1 + .5 - 3) = (3.5, -3.5); relu -> (3.5, 0)
    #        z2 = (3.5, 7 + 1) = (3.5, 8)   (output layer linear)
    # row 2: z1 = (-4 + .5, -1 - 3) = (-3.5, -4); relu -> (0, 0); z2 = (0, 1)
    out = jaxann.forward(hand_params(), x, activation="relu")
    np.testing.assert_allclose(out, [[3.5, 8.0], [0.0, 1.0]])
    # identity hidden layer: row 2: a1 = (-3.5, -4); z2 = (-3.5 + 4, -7 - 4 + 1) = (0.5, -10)
    np.testing.assert_allclose(jaxann.forward(hand_params(), x[1], activation="identity"), [0.5, -10.0])
    # one example (n_0,) gives (n_L,), equal to its row of the batch
    np.testing.assert_allclose(jaxann.forward(hand_params(), x[0]), out[0])


def test_forward_casts_x_to_the_parameters_dtype(key):
    params = jaxann.init_mlp(key, [3, 2])
    out = jaxann.forward(params, np.ones((4, 3), dtype=np.int64))
    assert out.dtype == jnp.float32 and out.shape == (4, 2)


def test_forward_compiles_once_per_architecture(key):
    params = jaxann.init_mlp(key, [5, 7, 3])
    x = jnp.ones((11, 5))
    _forward._clear_cache()
    jaxann.forward(params, x, activation="tanh")
    params2 = jax.tree.map(lambda a: a + 1, params)
    jaxann.forward(params2, x + 1, activation="tanh")  # new values: no new program
    assert _forward._cache_size() == 1
    jaxann.forward(params, x, activation="relu")  # a new architecture: one more
    assert _forward._cache_size() == 2


@pytest.mark.parametrize("x_shape", [(4, 3), (3,), (2, 2, 2), ()])
def test_x_of_the_wrong_width_is_refused(x_shape):
    with pytest.raises(ValueError, match=r"x has shape .*; expected \(m, 2\) with m > 0, or \(2,\)"):
        jaxann.forward(hand_params(), jnp.zeros(x_shape))


@pytest.mark.parametrize("key", ["five", 2.5, -1, np.zeros(3, np.uint32)])
def test_a_key_that_is_not_a_key_is_refused(key):
    with pytest.raises(jaxann.JaxannError, match=r"expected (jax.random.key\(seed\)|an integer >= 0)"):
        jaxann.init_mlp(key, [3, 2])


def test_an_integer_seed_draws_what_its_jax_key_draws():
    # seed s and jax.random.key(s) stand for the same words (s >> 32, s & 0xFFFFFFFF)
    for seed in (0, 1, 2**31 + 7):
        a, b = jaxann.init_mlp(seed, [5, 4, 3]), jaxann.init_mlp(jax.random.key(seed), [5, 4, 3])
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
            np.testing.assert_array_equal(u, v)
    legacy = jaxann.init_mlp(jax.random.PRNGKey(1), [5, 4, 3])  # a raw uint32 key array works too
    np.testing.assert_array_equal(legacy[0]["W"], jaxann.init_mlp(1, [5, 4, 3])[0]["W"])
    assert not np.array_equal(jaxann.init_mlp(0, [5, 4, 3])[0]["W"], legacy[0]["W"])


def test_initialising_compiles_nothing():
    # drawn on the host by NumPy: no program is compiled for any size, and a run's first
    # state (initial_state) is built from it without compiling either
    from jaxann.program import initial_state
    from jaxann.train import TrainConfig

    compiled = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **kw: compiled.append(event) if event.endswith("backend_compile_duration") else None)
    jax.jit(lambda v: v + 1)(np.float32(1.0))  # the listener hears a compilation
    assert compiled
    compiled.clear()
    jaxann.init_mlp(3, [37, 29, 5])
    state = initial_state(TrainConfig(hidden=(31,), init="he_normal"), [41, 31, 7])
    assert compiled == [] and state.params[0]["W"].shape == (41, 31)

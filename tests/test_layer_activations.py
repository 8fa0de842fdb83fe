"""An activation per hidden layer, and activations of the user's own (`register`).

Each checked against a hand computation or the definition: the forward pass against
NumPy, backprop against jax.grad, register's check against a derivative known wrong.
"""

import json
from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_iris

import jaxann
from jaxann import compiling, program_store
from jaxann.activations import ACTIVATIONS, register, registered
from jaxann.cli import main
from jaxann.config import TrainConfig
from jaxann.errors import JaxannError
from jaxann.gradcheck import gradcheck, random_problem, relative_error
from jaxann.model import Model, load_model, save_model
from jaxann.predict import outputs
from jaxann.sweep import fit_many, grid
from jaxann.train import fit

# the short fits here stop at max_iter on purpose
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _swish(z):
    return z * jax.nn.sigmoid(z)


def _dswish(z):
    # h'(z) = s + z s (1 - s), s = sigmoid(z)
    s = jax.nn.sigmoid(z)
    return s + z * s * (1 - s)


@pytest.fixture(autouse=True)
def unregister():
    """Each test's registrations end with it (the table is the process's)."""
    yield
    for name in registered():
        del ACTIVATIONS[name]


@pytest.fixture(scope="module")
def digits():
    from jaxann.data import load

    return load("digits")


@pytest.fixture
def iris():
    x, y = load_iris(return_X_y=True)
    return (x - x.mean(0)) / x.std(0), y


def test_two_hidden_layers_forward_by_hand(x64):
    rng = np.random.default_rng(0)
    sizes = [3, 4, 5, 2]
    params = tuple({"W": rng.normal(size=(a, b)), "b": rng.normal(size=b)} for a, b in zip(sizes[:-1], sizes[1:]))
    x = rng.normal(size=(6, 3))
    a1 = np.maximum(x @ params[0]["W"] + params[0]["b"], 0)  # layer 1: relu
    a2 = np.tanh(a1 @ params[1]["W"] + params[1]["b"])  # layer 2: tanh
    expected = a2 @ params[2]["W"] + params[2]["b"]  # the output: linear
    for activation in (("relu", "tanh"), ["relu", "tanh"]):
        got = np.asarray(jaxann.forward(params, x, activation))
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)
    # the second layer's own activation is used, not the first's
    assert np.abs(np.asarray(jaxann.forward(params, x, "relu")) - expected).max() > 1e-3
    np.testing.assert_allclose(outputs(params, x, ("relu", "tanh")), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_backprop_equals_autodiff_with_an_activation_per_layer(loss, x64):
    params, x, y = random_problem([4, 6, 5, 3, 3], 8, loss, "float64", seed=3)
    activation = ("relu", "tanh", "sigmoid")
    kw = dict(activation=activation, loss=loss, alpha=1e-3)
    g_bp = jaxann.backprop(params, x, y, **kw)
    g_ad = jax.grad(jaxann.loss)(params, x, y, **kw)
    # both exact up to float64 rounding (~1e-16 per operation)
    assert relative_error(g_bp, g_ad) <= 1e-10
    # and the layers' own derivatives matter: backprop with one activation differs
    g_relu = jaxann.backprop(params, x, y, activation="relu", loss=loss, alpha=1e-3)
    assert relative_error(g_relu, g_ad) > 1e-3
    assert gradcheck(params, x, y, activation, loss, 1e-3).ok


def test_register_accepts_a_correct_derivative_and_it_works_everywhere(iris, x64):
    act = register("swish", _swish, _dswish)
    assert ACTIVATIONS["swish"] is act and "swish" in registered()
    z = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(np.asarray(act.h(jnp.asarray(z))), z / (1 + np.exp(-z)), rtol=1e-14)
    params, x, y = random_problem([4, 5, 4, 3], 8, "cross_entropy", "float64", seed=1)
    kw = dict(activation=("swish", "tanh"), loss="cross_entropy")
    assert relative_error(jaxann.backprop(params, x, y, **kw), jax.grad(jaxann.loss)(params, x, y, **kw)) <= 1e-10


def test_a_registered_activation_trains_by_estimator_and_by_fit(iris):
    register("swish", _swish, _dswish)
    x, y = iris
    clf = jaxann.MLPClassifier((16,), activation="swish", solver="adam", learning_rate_init=0.02, max_iter=200,
                               random_state=0, n_iter_no_change=200).fit(x, y)
    assert clf.score(x, y) > 0.95  # iris, standardised: a network that learns at all gets there
    per_layer = jaxann.MLPClassifier((16, 8), activation=("swish", "relu"), solver="adam", learning_rate_init=0.02,
                                     max_iter=100, random_state=0, n_iter_no_change=100).fit(x, y)
    assert per_layer.score(x, y) > 0.95
    result = fit(TrainConfig(hidden=(16,), activation="swish", lr=0.1, epochs=30, batch_size=30), x, y)
    assert result.history.loss[-1] < 0.3 * result.history.loss[0]


def test_register_refuses_a_wrong_derivative():
    with pytest.raises(JaxannError, match=r"activation 'cube': dh disagrees with jax.grad of h by .* at z = ") as e:
        register("cube", lambda z: z ** 3, lambda z: 2 * z ** 2)  # d/dz z^3 is 3 z^2
    assert "\n" not in str(e.value)
    assert "cube" not in ACTIVATIONS
    register("cube", lambda z: z ** 3, lambda z: 3 * z ** 2)  # the right one is taken
    assert "cube" in registered()
    register("trusted", lambda z: z ** 3, lambda z: 2 * z ** 2, check=False)  # check=False: taken unchecked
    assert float(ACTIVATIONS["trusted"].dh(jnp.asarray(1.0))) == 2.0


def test_register_refuses_builtin_names_and_a_changed_shape():
    for name in ("relu", "logistic"):
        with pytest.raises(JaxannError, match=f"activation '{name}' is jaxann's own"):
            register(name, jnp.sin, jnp.cos)
    assert ACTIVATIONS["relu"].h is not jnp.sin
    with pytest.raises(JaxannError, match=r"activation 'total': h\(z\) gave shape \(\) float32"):
        register("total", jnp.sum, jnp.ones_like)
    with pytest.raises(JaxannError, match="non-empty string without commas"):
        register("a,b", jnp.sin, jnp.cos)


def test_the_number_of_activations_must_match_the_hidden_layers(iris, capsys):
    x, y = iris
    expected = r"activation \['relu', 'tanh'\] has 2 names for 1 hidden layers"
    with pytest.raises(JaxannError, match=expected):
        jaxann.MLPClassifier((8,), activation=("relu", "tanh")).fit(x, y)
    with pytest.raises(JaxannError, match=expected):
        TrainConfig(hidden=(8,), activation=("relu", "tanh")).validate()
    assert main(["train", "--hidden", "8", "--activation", "relu,tanh", "--epochs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has 2 names for 1 hidden layers" in err
    with pytest.raises(SystemExit) as e:
        main(["train", "--activation", "relu,gelu"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "invalid choice: 'gelu' (choose from 'step', " in err


def test_the_command_line_trains_with_an_activation_per_layer(tmp_path):
    metrics = tmp_path / "m.json"
    assert main(["train", "--hidden", "16,8", "--activation", "relu,tanh", "--epochs", "2", "--quiet",
                 "--metrics", str(metrics), "--out", str(tmp_path / "run")]) == 0
    assert json.loads(metrics.read_text())["config"]["activation"] == ["relu", "tanh"]
    model = load_model(tmp_path / "run")
    assert model.activation == ("relu", "tanh")
    assert TrainConfig.from_dict(model.config).activation == ("relu", "tanh")


def test_train_config_round_trips_an_activation_per_layer():
    config = TrainConfig(hidden=(8, 4), activation=["relu", "tanh"]).validate()
    assert config.activation == ("relu", "tanh")  # a list held as a (hashable) tuple
    values = json.loads(json.dumps(config.to_dict()))
    assert values["activation"] == ["relu", "tanh"]
    assert TrainConfig.from_dict(values) == config and hash(TrainConfig.from_dict(values)) == hash(config)


def test_a_sweep_trains_an_activation_per_layer_as_fit_alone(digits, x64):
    base = TrainConfig(hidden=(12, 8), epochs=3, dtype="float64", lr=0.05)
    members = grid(base, activation=[("relu", "tanh"), "tanh"], seed=[1, 2])
    result = fit_many(members, digits.x_train, digits.y_train, n_out=10)
    assert [c.activation for c in result.configs] == [("relu", "tanh")] * 2 + ["tanh"] * 2
    for config, history in zip(result.configs, result.histories):
        alone = fit(config, digits.x_train, digits.y_train, n_out=10)
        np.testing.assert_allclose(history.loss, alone.history.loss, rtol=1e-12)


def test_to_sklearn_refuses_what_scikit_learn_cannot_hold(iris):
    x, y = iris
    kw = dict(max_iter=5, random_state=0)
    mixed = jaxann.MLPClassifier((6, 5), activation=("relu", "tanh"), **kw).fit(x, y)
    with pytest.raises(JaxannError, match=r"has one activation for every hidden layer; this one has one per "
                                          r"layer, \['relu', 'tanh'\]"):
        mixed.to_sklearn()
    register("swish", _swish, _dswish)
    mine = jaxann.MLPClassifier((6,), activation="swish", **kw).fit(x, y)
    with pytest.raises(JaxannError, match="has no activation 'swish'"):
        mine.to_sklearn()
    # one name repeated is one activation: converted, and drawn and trained as that name alone
    same = jaxann.MLPClassifier((6, 5), activation=("logistic", "logistic"), **kw).fit(x, y)
    alone = jaxann.MLPClassifier((6, 5), activation="logistic", **kw).fit(x, y)
    for a, b in zip(same.coefs_, alone.coefs_):
        np.testing.assert_array_equal(a, b)
    theirs = same.to_sklearn()
    assert theirs.activation == "logistic"
    np.testing.assert_allclose(theirs.predict_proba(x), same.predict_proba(x), rtol=1e-5)


def test_glorot_gain_follows_each_layers_activation():
    # scikit-learn's: 2 for logistic units, 6 otherwise, the whole net for one name
    assert jaxann.MLPClassifier((4, 4), activation="logistic")._gains(3) == [2.0, 2.0, 2.0]
    assert jaxann.MLPClassifier((4, 4), activation="relu")._gains(3) == [6.0, 6.0, 6.0]
    # per layer: W^l takes its layer's, the output's W^L the last hidden layer's
    assert jaxann.MLPClassifier((4, 4), activation=("logistic", "relu"))._gains(3) == [2.0, 6.0, 6.0]
    assert jaxann.MLPClassifier((4, 4), activation=("relu", "logistic"))._gains(3) == [6.0, 2.0, 2.0]


def test_a_saved_model_keeps_its_activation_per_layer(tmp_path, iris):
    x, y = iris
    clf = jaxann.MLPClassifier((6, 5), activation=["relu", "logistic"], max_iter=5, random_state=0).fit(x, y)
    path = save_model(tmp_path / "m.npz", clf)
    model = load_model(path)
    assert model.activation == ("relu", "sigmoid")
    assert "relu,sigmoid" in model.describe()
    np.testing.assert_allclose(model.predict_proba(x), clf.predict_proba(x), rtol=1e-6)
    back = jaxann.MLPClassifier.from_model(model)
    assert back.activation == ("relu", "logistic")
    np.testing.assert_array_equal(back.predict(x), clf.predict(x))


def test_a_model_of_an_unregistered_activation_says_to_register_it(tmp_path):
    register("swish", _swish, _dswish)
    params = jaxann.init_mlp(0, [3, 4, 2])
    path = save_model(tmp_path / "m.npz", Model(params, "swish"))
    del ACTIVATIONS["swish"]  # another process, where it is not registered
    with pytest.raises(JaxannError, match=r"m.npz: unknown activation 'swish'; .*registered first with "
                                          r"jaxann.activations.register\(name, h, dh\)"):
        load_model(path)
    register("swish", _swish, _dswish)
    assert load_model(path).activation == "swish"


def test_a_registered_activation_is_never_stored_and_registering_anew_recompiles(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXANN_COMPILE_CACHE", str(tmp_path))
    monkeypatch.setattr(compiling, "_KEPT", OrderedDict())
    params = jax.device_get(jaxann.init_mlp(0, [3, 4, 2]))
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    z1 = x @ params[0]["W"] + params[0]["b"]
    outputs(params, x, "relu")
    assert [p.name.split("-")[0] for p in program_store.stored_programs(tmp_path)] == ["outputs"]
    for k in (2, 3):  # the same name, registered anew with other functions: h(z) = k z
        register("scaled", lambda z, k=k: k * z, lambda z, k=k: jnp.full_like(z, k))
        expected = (k * z1) @ params[1]["W"] + params[1]["b"]
        np.testing.assert_allclose(outputs(params, x, "scaled"), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(jaxann.forward(params, x, "scaled")), expected, rtol=1e-5, atol=1e-6)
    # the registered activation's programs were kept in the process, never stored
    assert [p.name.split("-")[0] for p in program_store.stored_programs(tmp_path)] == ["outputs"]

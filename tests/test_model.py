"""A saved model knows what it is: `jaxann.load_model`, `save_model` and the estimators."""

import json

import numpy as np
import pytest

import jaxann
from jaxann.checkpoint import read_params, save_params
from jaxann.cli import main
from jaxann.data import load
from jaxann.errors import JaxannError


@pytest.fixture(scope="module")
def tanh_run(tmp_path_factory):
    """A tanh run on digits, saved by `jaxann train --out`: (folder, its metrics)."""
    out = tmp_path_factory.mktemp("runs") / "tanh"
    assert main(["train", "--activation", "tanh", "--hidden", "16", "--epochs", "3", "--quiet", "--out", str(out)]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_a_saved_run_scores_its_own_test_accuracy(tanh_run):
    out, metrics = tanh_run
    model = jaxann.load_model(out / "params.npz")
    d = load("digits")
    assert model.activation == "tanh" and model.sizes == [64, 16, 10] and model.task == "multiclass"
    assert model.score(d.x_test, d.y_test) == metrics["test_accuracy"]
    assert model.score(d.x_train, d.y_train) == metrics["train_accuracy"]
    # relu, the old silent default, scores these parameters differently
    relu = jaxann.train.accuracy(model.params, d.x_test, d.y_test, "relu")
    assert relu != metrics["test_accuracy"]
    p = model.predict_proba(d.x_test)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(model.classes[p.argmax(axis=1)], model.predict(d.x_test))
    _, about = read_params(out / "params.npz")
    assert about["format"] == "jaxann-model-1" and about["jaxann_version"]
    assert about["config"]["activation"] == "tanh" and about["grad"] == "autodiff"
    assert about["input_divisor"] is None and about["classes"] == list(range(10))


def test_an_old_file_of_w_and_b_needs_its_activation_named(tanh_run, tmp_path):
    old = tmp_path / "old.npz"
    save_params(old, jaxann.load_params(tanh_run[0] / "params.npz"))  # W and b only, as 0.1.0 wrote
    with pytest.raises(JaxannError, match="holds only W and b .* does not say its activation"):
        jaxann.load_model(old)
    d = load("digits")
    assert jaxann.load_model(old, activation="tanh").score(d.x_test, d.y_test) == tanh_run[1]["test_accuracy"]
    with pytest.raises(JaxannError, match="trained with activation 'tanh', not 'relu'"):
        jaxann.load_model(tanh_run[0], activation="relu")
    with pytest.raises(TypeError):  # bare parameters: the activation is never assumed
        jaxann.train.accuracy(jaxann.load_params(old), d.x_test, d.y_test)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_an_estimator_saves_and_loads_in_the_same_format(tmp_path):
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=120, n_features=6, n_informative=4, n_classes=3, random_state=0)
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = jaxann.MLPClassifier((8,), activation="tanh", max_iter=30, random_state=0).fit(x, labels)
    jaxann.save_model(tmp_path / "clf.npz", clf)
    model = jaxann.load_model(tmp_path / "clf.npz")
    assert list(model.classes) == ["ant", "bee", "cat"]
    np.testing.assert_array_equal(model.predict(x), clf.predict(x))
    np.testing.assert_allclose(model.predict_proba(x), clf.predict_proba(x), rtol=1e-6)
    assert model.score(x, labels) == clf.score(x, labels)
    again = jaxann.MLPClassifier.from_model(model)
    np.testing.assert_array_equal(again.predict(x), clf.predict(x))
    assert again.activation == "tanh" and again.hidden_layer_sizes == (8,)
    with pytest.raises(JaxannError, match="a multiclass model cannot be a MLPRegressor"):
        jaxann.MLPRegressor.from_model(model)

    binary = jaxann.MLPClassifier((4,), max_iter=20, random_state=0).fit(x, y == 1)
    jaxann.save_model(tmp_path / "bin.npz", binary)
    np.testing.assert_array_equal(jaxann.load_model(tmp_path / "bin.npz").predict(x), binary.predict(x))

    reg = jaxann.MLPRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0).fit(x, x[:, 0] - x[:, 1])
    jaxann.save_model(tmp_path / "reg.npz", reg)
    model = jaxann.load_model(tmp_path / "reg.npz")
    np.testing.assert_allclose(model.predict(x), reg.predict(x), rtol=1e-6)
    assert model.score(x, x[:, 0] - x[:, 1]) == pytest.approx(reg.score(x, x[:, 0] - x[:, 1]), abs=1e-6)
    with pytest.raises(JaxannError, match="not probabilities"):
        model.predict_proba(x)
    np.testing.assert_allclose(jaxann.MLPRegressor.from_model(model).predict(x), reg.predict(x), rtol=1e-6)


def test_a_file_whose_description_does_not_fit_its_arrays_is_refused(tanh_run, tmp_path):
    params, about = read_params(tanh_run[0] / "params.npz")
    bad = tmp_path / "bad.npz"
    arrays = {f"{k}{l}": np.asarray(layer[k]) for l, layer in enumerate(params, 1) for k in "Wb"}
    arrays["model"] = np.frombuffer(json.dumps(about | {"sizes": [64, 17, 10]}).encode(), np.uint8)
    np.savez(bad, **arrays)
    with pytest.raises(JaxannError, match=r"says layer sizes \[64, 17, 10\], its arrays \[64, 16, 10\]"):
        jaxann.load_model(bad)

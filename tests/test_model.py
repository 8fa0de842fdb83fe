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


def test_predict_command_answers_as_the_estimator_built_from_the_run(tanh_run, tmp_path, capsys):
    out, _ = tanh_run
    d = load("digits")
    np.save(tmp_path / "x.npy", d.x_test[:40])
    assert main(["predict", "--model", str(out), str(tmp_path / "x.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    estimator = jaxann.MLPClassifier.from_model(out)
    assert lines[0] == "label" and [int(v) for v in lines[1:]] == estimator.predict(d.x_test[:40]).tolist()
    # the same rows as a CSV with a header, probabilities to a .npy file
    np.savetxt(tmp_path / "x.csv", d.x_test[:40], delimiter=",", header=",".join(f"p{j}" for j in range(64)),
               comments="")
    assert main(["predict", "--model", str(out), str(tmp_path / "x.csv"), "--proba", "--out",
                 str(tmp_path / "p.npy")]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), jaxann.load_model(out).predict_proba(d.x_test[:40]))
    # IDX images (n, 8, 8) of uint8, as MNIST's files hold them
    pixels = np.arange(3 * 64, dtype=np.uint8).reshape(3, 8, 8) % 17
    (tmp_path / "images-idx3-ubyte").write_bytes(np.array([2051, 3, 8, 8], ">i4").tobytes() + pixels.tobytes())
    assert main(["predict", "--model", str(out), str(tmp_path / "images-idx3-ubyte")]) == 0
    expected = jaxann.load_model(out).predict(pixels.reshape(3, 64))
    assert capsys.readouterr().out.split() == ["label", *map(str, expected)]


@pytest.mark.parametrize("make,message", [
    (lambda p: np.save(p, np.zeros((4, 30))), "rows of 30 values; the model (64-16-10 tanh"),
    (lambda p: np.save(p, np.array([["a"] * 64])), "dtype <U1; expected rows (m, n_features) of real numbers"),
    (lambda p: p.write_bytes(b"not numpy"), "cannot be read as rows of numbers"),
], ids=["width", "dtype", "garbage"])
def test_predict_refuses_a_bad_input_in_one_line(tanh_run, tmp_path, capsys, make, message):
    path = tmp_path / "x.npy"
    make(path)
    assert main(["predict", "--model", str(tanh_run[0]), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"jaxann predict: error: {path}") and message in err and err.count("\n") == 1


def test_evaluate_prints_the_runs_scores_and_confusion_matrix(tanh_run, tmp_path, capsys):
    out, metrics = tanh_run
    assert main(["evaluate", "--model", str(out), "--figure", str(tmp_path / "cm.png")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == f"Training set score: {metrics['train_accuracy']:f}"
    assert lines[2] == f"Test set score: {metrics['test_accuracy']:f}"
    confusion = np.array([[int(v) for v in line.split("|")[1].split()] for line in lines[6:16]])
    assert confusion.sum() == 450 and confusion.trace() / 450 == metrics["test_accuracy"]
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"

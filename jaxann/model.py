"""A trained network that knows what it is: its parameters and what they need to be used.

    model = load_model("run/params.npz")    (or the run folder "run")
    model.predict(x), model.predict_proba(x), model.score(x, y), model.params
    save_model(path, model_or_fitted_estimator)

The file is `jaxann.checkpoint`'s (W1, b1, ..., WL, bL and the JSON description listed
there: layer sizes, activation, loss and output link, task and classes, the input
divisor, the learning rule, the jaxann version, the run's settings). `jaxann train --out
DIR` writes DIR/params.npz in this form, and `MLPClassifier` / `MLPRegressor` save to it
and are built from it (`from_model`).

Inputs x are the rows as the data set stores them: a model trained on MNIST's uint8
pixels divides them by its input divisor (255) itself, as training did. A file of W and
b only (jaxann 0.1.0) holds no description: `load_model(path, activation=...)` then
needs the activation named, and takes it for a softmax classifier over classes 0..n_L-1
on inputs that are the features.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jaxann.checkpoint import TASKS, read_params, save_params
from jaxann.errors import JaxannError

# the link each output takes to give probabilities or predictions, by loss
_OUTPUT_OF_LOSS = {"cross_entropy": "softmax", "binary_cross_entropy": "logistic", "poisson": "exp"}


def output_of(loss: str) -> str:
    """The output link a network trained on this loss predicts through."""
    return _OUTPUT_OF_LOSS.get(loss, "identity")


@dataclass(frozen=True, eq=False)
class Model:
    """A network's parameters and their description (see the module docstring).

    params: a tuple of {"W": (n_{l-1}, n_l), "b": (n_l,)} layers; classes: the labels of
    the outputs, in order (None for regression); input_divisor: features = x / divisor.
    """

    params: tuple
    activation: str | tuple
    loss: str = "cross_entropy"
    output: str = "softmax"
    task: str = "multiclass"
    classes: np.ndarray | None = None
    input_divisor: float | None = None
    grad: str = "autodiff"
    config: dict | None = None
    version: str | None = field(default=None)

    def __post_init__(self):
        from jaxann.activations import check_activation
        from jaxann.predict import LINKS

        # a list (JSON's) as a tuple; a user's activation must be registered in this process
        object.__setattr__(self, "activation", check_activation(self.activation, len(self.params) - 1))
        if self.output not in LINKS:
            raise JaxannError(f"unknown output link {self.output!r}; expected one of: {', '.join(LINKS)}")
        if self.task not in TASKS:
            raise JaxannError(f"unknown task {self.task!r}; expected one of: {', '.join(TASKS)}")
        if self.task != "regression" and self.classes is None:
            object.__setattr__(self, "classes", np.arange(self.sizes[-1]))
        if self.classes is not None:
            object.__setattr__(self, "classes", np.asarray(self.classes))

    @property
    def sizes(self) -> list[int]:
        """Layer sizes [n_0, n_1, ..., n_L]."""
        return [int(self.params[0]["W"].shape[0]), *(int(layer["W"].shape[1]) for layer in self.params)]

    def describe(self) -> str:
        """One line: the network, its activation, what it predicts."""
        from jaxann.activations import label

        what = (f"{len(self.classes)} classes" if self.task != "regression"
                else f"{self.sizes[-1]} target{'s' * (self.sizes[-1] > 1)}")
        return (f"{'-'.join(map(str, self.sizes))} {label(self.activation)}, {self.loss} ({self.output} output), "
                f"{self.task}, {what}, grad {self.grad}")

    def outputs(self, x) -> np.ndarray:
        """a^L through the output link, (m, n_L) NumPy, for rows x (m, n_0) as stored."""
        from jaxann.predict import outputs

        return outputs(self.params, x, self.activation, self.output, self.input_divisor)

    def predict(self, x) -> np.ndarray:
        """Class labels (m,) (indicator rows (m, n_L) for multilabel), or predictions (m,)
        for one target, (m, n_L) for several."""
        if self.task == "multiclass":
            from jaxann.predict import predict

            return self.classes[predict(self.params, x, self.activation, self.input_divisor)]
        a = self.outputs(x)
        if self.task == "binary":
            return self.classes[(a[:, 0] > 0.5).astype(int)]  # scikit-learn's threshold
        if self.task == "multilabel":
            return (a > 0.5).astype(int)
        return a.ravel() if a.shape[1] == 1 else a

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities (m, n_classes) in the order of `classes`; JaxannError for a
        model whose outputs are not probabilities (regression, or a classifier trained on mse)."""
        if self.task == "regression" or self.output not in ("softmax", "logistic"):
            raise JaxannError(f"this model's outputs are not probabilities ({self.task}, loss {self.loss}, "
                              f"{self.output} output); use predict")
        p = self.outputs(x)
        if self.task == "binary":  # one logistic output is P(classes[1])
            return np.stack([1 - p[:, 0], p[:, 0]], axis=1)
        if self.output == "softmax":  # rows summing to 1 in their own dtype, as the estimator's
            p = p / p.sum(axis=1, keepdims=True)
        return p

    def score(self, x, y, sample_weight=None) -> float:
        """Accuracy (the weighted share of rows predicted right; multilabel: rows all right)
        for a classifier, R^2 (averaged over the outputs) for regression."""
        y = np.asarray(y)
        pred = self.predict(x)
        if len(y) != len(pred):
            raise JaxannError(f"y has {len(y)} rows for {len(pred)} rows of x")
        if self.task == "regression":
            from sklearn.metrics import r2_score

            return float(r2_score(y, pred, sample_weight=sample_weight))
        right = (pred == y).all(axis=1) if pred.ndim == 2 else pred == y
        return float(np.average(right, weights=sample_weight))

    def confusion(self, x, y) -> np.ndarray:
        """The confusion matrix (n_classes, n_classes) of a single-label classifier: entry
        [i, j] counts the rows of class classes[i] predicted classes[j]."""
        if self.task not in ("multiclass", "binary"):
            raise JaxannError(f"a confusion matrix needs a single-label classifier, not {self.task}")
        k = len(self.classes)
        true, pred = np.searchsorted(self.classes, np.asarray(y)), np.searchsorted(self.classes, self.predict(x))
        if np.any(true >= k) or np.any(self.classes[np.minimum(true, k - 1)] != np.asarray(y)):
            raise JaxannError(f"y holds labels that are not this model's classes {self.classes.tolist()}")
        confusion = np.zeros((k, k), np.int64)
        np.add.at(confusion, (true, pred), 1)
        return confusion

    def about(self) -> dict:
        """The description `save_params` stores beside the arrays."""
        activation = self.activation if isinstance(self.activation, str) else list(self.activation)
        return {"sizes": self.sizes, "activation": activation, "loss": self.loss, "output": self.output,
                "task": self.task, "classes": None if self.classes is None else self.classes.tolist(),
                "input_divisor": self.input_divisor, "grad": self.grad, "config": self.config}


def save_model(path, model) -> Path:
    """Write a `Model`, or a fitted estimator (its `to_model()`), to path (.npz), atomically."""
    if not isinstance(model, Model):
        model = model.to_model()
    return save_params(path, model.params, model.about())


def load_model(path, activation: str | None = None) -> Model:
    """The model saved at path (a .npz file, or a run folder holding params.npz).

    activation: needed for a file of W and b only (written by jaxann 0.1.0), which does
    not say; a file that does say must agree. A model trained with an activation of your
    own loads once it is registered again (`jaxann.activations.register`). JaxannError for a missing or unreadable
    file, or an older file without activation.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "params.npz"
    params, about = read_params(path)
    if about is None:
        if activation is None:
            raise JaxannError(f"{path} holds only W and b (saved by an older jaxann): it does not say its "
                              "activation; name it, e.g. load_model(path, activation='relu'), or "
                              "--activation NAME on the command line")
        return Model(params, activation)
    saved = about["activation"] if isinstance(about["activation"], str) else tuple(about["activation"])
    if activation is not None and (activation if isinstance(activation, str) else tuple(activation)) != saved:
        raise JaxannError(f"{path} was trained with activation {saved!r}, not {activation!r}")
    try:
        return Model(params, saved, about["loss"], about["output"], about["task"], about["classes"],
                     about["input_divisor"], about["grad"], about["config"], about["jaxann_version"])
    except JaxannError as e:  # e.g. an activation of the user's, not registered in this process
        raise JaxannError(f"{path}: {e}") from None

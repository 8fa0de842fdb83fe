"""jaxann: feedforward neural networks in JAX, from the lecture's math.

`import jaxann` loads the lecture core and training; the scikit-learn estimators
(`jaxann.MLPClassifier`, `jaxann.MLPRegressor`) load scikit-learn when first used.
"""
from jaxann.activations import ACTIVATIONS, derivative, get_activation
from jaxann.backprop import backprop
from jaxann.checkpoint import load_params, save_params
from jaxann.config import TrainConfig
from jaxann.errors import JaxannError
from jaxann.loop import fit
from jaxann.losses import LOSSES, cross_entropy, l2_penalty, log_softmax, mse, softmax
from jaxann.network import forward, init_mlp, loss
from jaxann.per_example import per_example_grads

_ESTIMATORS = ("MLPClassifier", "MLPRegressor")

__all__ = [
    "ACTIVATIONS", "LOSSES", "JaxannError", "MLPClassifier", "MLPRegressor", "TrainConfig",
    "backprop", "cross_entropy", "derivative", "fit", "forward", "get_activation", "init_mlp",
    "l2_penalty", "load_params", "log_softmax", "loss", "mse", "per_example_grads", "save_params", "softmax",
]


def __getattr__(name):
    if name in _ESTIMATORS:
        from jaxann import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'jaxann' has no attribute {name!r}")

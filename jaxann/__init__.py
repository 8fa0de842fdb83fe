"""jaxann: feedforward neural networks in JAX, from the lecture's math.

The public names load on first use (PEP 562): `import jaxann` itself imports nothing
heavy, so `jaxann --help` answers at once, and the scikit-learn estimators load
scikit-learn only when `jaxann.MLPClassifier` or `jaxann.MLPRegressor` is touched. The
modules load the same way (`jaxann.data.load("digits")` after a bare `import jaxann`).
"""

import importlib
import importlib.util

# public name -> the module that defines it
_PUBLIC = {
    "ACTIVATIONS": "activations", "derivative": "activations", "get_activation": "activations",
    "register": "activations",
    "backprop": "deltas",
    "load_params": "checkpoint", "save_params": "checkpoint",
    "TrainConfig": "config",
    "JaxannError": "errors",
    "MLPClassifier": "estimators", "MLPRegressor": "estimators",
    "fit": "loop",
    "Model": "model", "load_model": "model", "save_model": "model",
    "LOSSES": "losses", "cross_entropy": "losses", "l2_penalty": "losses", "log_softmax": "losses",
    "mse": "losses", "softmax": "losses",
    "forward": "network", "init_mlp": "network", "loss": "network",
    "per_example_grads": "per_example",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"jaxann.{_PUBLIC[name]}"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"jaxann.{name}") is not None:
        return importlib.import_module(f"jaxann.{name}")  # a module: jaxann.data.load(...)
    raise AttributeError(f"module 'jaxann' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))

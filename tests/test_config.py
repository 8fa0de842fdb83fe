"""`jaxann.config.TrainConfig`: validation, layer sizes, the dict form."""

import pytest

import jaxann
from jaxann.config import TrainConfig
from jaxann.loop import fit


def small_problem(n=10, n_in=3, n_out=2, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.integers(0, n_out, size=n)


@pytest.mark.parametrize("field,value,message", [
    ("lr", 0.0, "learning rate 0.0 must be a positive number"),
    ("lr", float("nan"), "learning rate nan must be a positive number"),
    ("epochs", 0, "epochs 0 must be a positive integer"),
    ("batch_size", -5, "batch size -5 must be a positive integer"),
    ("activation", "gelu", "unknown activation 'gelu'"),
    ("hidden", (0,), "hidden layer sizes [0] must be positive integers"),
    ("validation_fraction", 1.0, "validation fraction 1.0 must be in [0, 1)"),
])
def test_bad_settings_are_refused(field, value, message):
    x, y = small_problem()
    with pytest.raises(jaxann.JaxannError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        fit(TrainConfig(**{field: value}), x, y)


def test_dict_form_round_trips_and_sizes():
    config = TrainConfig(hidden=(30, 20), lr=0.05, batch_size=None)
    assert config.to_dict()["hidden"] == [30, 20]
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.sizes(784, 10) == [784, 30, 20, 10]
    assert config.batch_rows(50) == 50 and TrainConfig(batch_size=200).batch_rows(150) == 150

"""`jaxann.config.TrainConfig`: validation, layer sizes, the dict form."""

import pytest

import jaxann
from jaxann.config import TrainConfig
from jaxann.loop import fit


@pytest.mark.parametrize("field,value,message", [
    ("lr", 0.0, "learning rate 0.0 must be a positive number"),
    ("lr", float("nan"), "learning rate nan must be a positive number"),
    ("epochs", 0, "epochs 0 must be a positive integer"),
    ("batch_size", -5, "batch size -5 must be a positive integer"),
    ("activation", "gelu", "unknown activation 'gelu'"),
    ("hidden", (0,), "hidden layer sizes [0] must be positive integers"),
    ("validation_fraction", 1.0, "validation fraction 1.0 must be in [0, 1)"),
])
def test_fit_refuses_bad_settings(field, value, message, small_problem):
    x, y = small_problem()
    with pytest.raises(jaxann.JaxannError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        fit(TrainConfig(**{field: value}), x, y)


def test_dict_form_round_trips_and_sizes():
    config = TrainConfig(hidden=(30, 20), lr=0.05, batch_size=None)
    assert config.to_dict()["hidden"] == [30, 20]
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.sizes(784, 10) == [784, 30, 20, 10]
    assert config.batch_rows(50) == 50 and TrainConfig(batch_size=200).batch_rows(150) == 150


@pytest.mark.parametrize("values,message", [
    (dict(loss="hinge"), "unknown loss 'hinge'; expected one of: cross_entropy"),
    (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'; expected one of: sgd, adam, lbfgs"),
    (dict(grad="hebbian"), "unknown grad 'hebbian'; expected one of: autodiff, backprop"),
    (dict(lr_schedule="cosine"), "unknown lr_schedule 'cosine'"),
    (dict(init="zeros"), "unknown init 'zeros'"),
    (dict(dtype="float16"), "unknown dtype 'float16'"),
    (dict(hidden=(3, 2.5)), "hidden layer sizes [3, 2.5] must be positive integers"),
    (dict(lr=-0.1), "learning rate -0.1 must be a positive number"),
    (dict(power_t=-1.0), "power_t -1.0 must be a number >= 0"),
    (dict(momentum=1.5), "momentum 1.5 must be in [0, 1]"),
    (dict(beta1=1.0), "beta1, beta2 = 1.0, 0.999 must be in [0, 1)"),
    (dict(beta2=-0.1), "beta1, beta2 = 0.9, -0.1 must be in [0, 1)"),
    (dict(epsilon=0.0), "epsilon 0.0 must be positive"),
    (dict(alpha=float("inf")), "alpha inf must be a number >= 0"),
    (dict(batch_size=2.5), "batch size 2.5 must be a positive integer (or full)"),
    (dict(epochs=1.5), "epochs 1.5 must be a positive integer"),
    (dict(tol=-1e-3), "tol -0.001 must be >= 0"),
    (dict(n_iter_no_change=0), "n_iter_no_change 0 must be a positive integer"),
    (dict(validation_fraction=-0.1), "validation fraction -0.1 must be in [0, 1)"),
    (dict(max_fun=0), "max_fun 0 must be a positive integer"),
    (dict(feedback_scale=0.0), "feedback_scale 0.0 must be a positive number"),
    (dict(optimizer="lbfgs", grad="sign_symmetry"), "L-BFGS needs a true gradient"),
    (dict(optimizer="lbfgs", validation_fraction=0.1), "validation_fraction must be 0 with optimizer 'lbfgs'"),
    (dict(dtype="float16"), "dtype 'float16'"),
])
def test_validate_names_the_first_setting_out_of_range(values, message):
    import re

    with pytest.raises(jaxann.JaxannError, match=re.escape(message)):
        TrainConfig(**values).validate()


def test_valid_settings_pass_and_validate_returns_the_config(x64):
    config = TrainConfig(hidden=(3, 2), lr=1e-3, momentum=0.0, beta1=0.0, batch_size=None, dtype="float64",
                         optimizer="lbfgs", grad="backprop")
    assert config.validate() is config

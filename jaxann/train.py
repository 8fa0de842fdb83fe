"""Training by gradient descent over optax: online, mini-batch and full-batch.

    from jaxann.train import TrainConfig, fit

This module only re-exports the training layer's public names from their homes:

    jaxann.config      TrainConfig: the run's settings, their validation and dict form
    jaxann.program     optimizer, step, epoch (one compiled lax.scan), compiled programs kept
    jaxann.rules       the stopping rule and the learning-rate schedules
    jaxann.loop        fit and the one epoch loop, Progress, History, epoch orders, validation sets
    jaxann.inputs      checks of x, y and sample weights; the validation split
    jaxann.predict     outputs, predict, accuracy
    jaxann.scoring     scores of one or many models in one compiled call
    jaxann.sweep       many models at once, one program per shape
    jaxann.placement   one device or data parallelism over several

Batch size: 1 is online learning, n (or None) full-batch gradient descent, anything
between mini-batch.
"""

from jaxann.config import GRADS, LR_SCHEDULES, OPTIMIZERS, TrainConfig
from jaxann.loop import FitResult, History, Progress, Validation, epoch_order, fit, start
from jaxann.placement import device_name
from jaxann.predict import accuracy, outputs, predict
from jaxann.program import compiled_epoch, forget_compiled_epochs, learning_rate, set_learning_rate

__all__ = [
    "GRADS", "LR_SCHEDULES", "OPTIMIZERS", "FitResult", "History", "Progress", "TrainConfig", "Validation",
    "accuracy", "compiled_epoch", "device_name", "epoch_order", "fit", "forget_compiled_epochs",
    "learning_rate", "outputs", "predict", "set_learning_rate", "start",
]

"""jaxann: feedforward neural networks in JAX, from the lecture's math."""
from jaxann.activations import ACTIVATIONS, derivative, get_activation
from jaxann.backprop import backprop
from jaxann.errors import JaxannError
from jaxann.losses import LOSSES, cross_entropy, l2_penalty, log_softmax, mse, softmax
from jaxann.network import forward, init_mlp, loss
from jaxann.estimators import MLPClassifier, MLPRegressor

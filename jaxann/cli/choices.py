"""The names the command line offers for activations, losses, learning rules and data
sets, written out here so that parsing, `--help` and usage errors import neither JAX nor
NumPy (each would cost seconds). tests/test_cli_help.py checks each tuple against the
library's own table (`jaxann.activations.ACTIVATIONS`, `jaxann.losses.LOSSES`,
`jaxann.deltas.GRADS` and `RULES`, `jaxann.data.DATASETS`, `jaxann.gradcheck.MODES` and
`CHEAP`), so a name added there and not here fails
a test instead of being silently missing."""

ACTIVATIONS = ("step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "identity")
LOSSES = ("cross_entropy", "mse", "binary_cross_entropy", "squared_error", "poisson")
GRADS = ("autodiff", "backprop", "feedback_alignment", "direct_feedback_alignment", "sign_symmetry",
         "sign_symmetry_frm", "sign_symmetry_brm")
RULES = GRADS[1:]  # every source but autodiff: backprop and the learning rules
DATASETS = ("digits", "mnist", "fashion-mnist")
FD_MODES = ("entries", "directions", "sample")  # gradcheck's finite-difference modes
FD_CHEAP = 5000  # parameters up to which gradcheck's default checks every entry

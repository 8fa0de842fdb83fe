"""Activation functions h(z) and their analytic derivatives h'(z).

Each activation is one `Activation(h, dh)` entry in `ACTIVATIONS`, so the function and
its derivative are written side by side and cannot drift apart. Both act elementwise on
an array `z` of any shape and return an array of the same shape and dtype.

Conventions at the kinks (where h is not differentiable) are chosen so that the analytic
h'(z) equals what `jax.grad` gives for the same h, which keeps the explicit
backpropagation equal to autodiff:

- step:        h'(z) = 0 everywhere (0 at z = 0 too; the step is flat on both sides)
- relu:        h'(0) = 0
- leaky_relu:  h'(0) = slope (0.01)
- elu:         h'(0) = 1

sigmoid and softplus are written in forms that stay finite (no overflow, no NaN) for
|z| up to 1e4 and beyond.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from jaxann.errors import JaxannError

LEAKY_SLOPE = 0.01


class Activation(NamedTuple):
    """An activation h and its derivative dh = h', both elementwise."""

    h: Callable[[jax.Array], jax.Array]
    dh: Callable[[jax.Array], jax.Array]


def _step(z):
    # h(z) = 1 if z >= 0 else 0
    return jnp.where(z >= 0, jnp.ones_like(z), jnp.zeros_like(z))


def _dstep(z):
    # h'(z) = 0: the step carries no gradient (the lecture's reason to leave it behind)
    return jnp.zeros_like(z)


def _sigmoid(z):
    # h(z) = 1 / (1 + exp(-z)), computed without overflowing exp for large |z|
    return jax.nn.sigmoid(z)


def _dsigmoid(z):
    # h'(z) = h(z) (1 - h(z))
    s = jax.nn.sigmoid(z)
    return s * (1 - s)


def _tanh(z):
    return jnp.tanh(z)


def _dtanh(z):
    # h'(z) = 1 - tanh(z)^2
    t = jnp.tanh(z)
    return 1 - t * t


def _relu(z):
    # h(z) = max(0, z); `where` (not jnp.maximum) so that autodiff gives h'(0) = 0
    return jnp.where(z > 0, z, jnp.zeros_like(z))


def _drelu(z):
    return jnp.where(z > 0, jnp.ones_like(z), jnp.zeros_like(z))


def _leaky_relu(z):
    # h(z) = z if z > 0 else 0.01 z
    return jnp.where(z > 0, z, LEAKY_SLOPE * z)


def _dleaky_relu(z):
    return jnp.where(z > 0, jnp.ones_like(z), jnp.full_like(z, LEAKY_SLOPE))


def _nonpositive(z):
    return jnp.where(z > 0, jnp.zeros_like(z), z)


def _elu(z):
    # h(z) = z if z > 0 else exp(z) - 1; the negative branch sees z clipped to <= 0 so
    # that exp never overflows in the branch `where` throws away (its gradient would be
    # NaN). Clipped with `where`, not jnp.minimum, whose gradient at 0 is 1/2.
    return jnp.where(z > 0, z, jnp.expm1(_nonpositive(z)))


def _delu(z):
    # h'(z) = 1 if z > 0 else exp(z)
    return jnp.where(z > 0, jnp.ones_like(z), jnp.exp(_nonpositive(z)))


def _softplus(z):
    # h(z) = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), finite for any z
    return jnp.logaddexp(z, 0)


def _dsoftplus(z):
    # h'(z) = sigmoid(z)
    return jax.nn.sigmoid(z)


def _identity(z):
    return z


def _didentity(z):
    return jnp.ones_like(z)


ACTIVATIONS: dict[str, Activation] = {
    "step": Activation(_step, _dstep),
    "sigmoid": Activation(_sigmoid, _dsigmoid),
    "tanh": Activation(_tanh, _dtanh),
    "relu": Activation(_relu, _drelu),
    "leaky_relu": Activation(_leaky_relu, _dleaky_relu),
    "elu": Activation(_elu, _delu),
    "softplus": Activation(_softplus, _dsoftplus),
    "identity": Activation(_identity, _didentity),
}

# Activations whose h is differentiable everywhere, so central differences agree with h'.
SMOOTH = ("sigmoid", "tanh", "elu", "softplus", "identity")


def get_activation(name: str) -> Activation:
    """Look an activation up by name; an unknown name raises ValueError listing the valid ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise JaxannError(
            f"unknown activation {name!r}; expected one of: {', '.join(ACTIVATIONS)}"
        ) from None


def derivative(f: Callable[[jax.Array], jax.Array], z, eps: float = 1e-6) -> jax.Array:
    """The lecture's central difference: f'(z) ~ (f(z + eps) - f(z - eps)) / (2 eps).

    Accurate to O(eps^2) where f is smooth; in float32 choose eps near 1e-3, since
    rounding error grows like 1e-7 / eps.
    """
    z = jnp.asarray(z)
    return (f(z + eps) - f(z - eps)) / (2 * eps)

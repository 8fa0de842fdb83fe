"""Gradient-descent updates as optax transformations, in scikit-learn's forms.

    sgd(learning_rate, momentum, nesterov)     the lecture's momentum form (nesterov 0 or 1)
        v     <- momentum * v - learning_rate * g
        theta <- theta + v                                   (classical momentum)
        theta <- theta + momentum * v - learning_rate * g    (Nesterov, v already updated)
      momentum = 0 is plain SGD, theta <- theta - learning_rate * g.

    adam(learning_rate, b1, b2, eps)           Kingma & Ba, as scikit-learn writes it
        m <- b1 m + (1 - b1) g,   s <- b2 s + (1 - b2) g^2,   t <- t + 1
        lr_t = learning_rate * sqrt(1 - b2^t) / (1 - b1^t)
        theta <- theta - lr_t * m / (sqrt(s) + eps)

Why not optax.sgd / optax.adam: optax keeps the momentum trace in units of the gradient
(v = mu v + g; theta -= lr v), which equals the form above only while the learning rate is
constant -- a schedule (scikit-learn's 'invscaling', 'adaptive') makes them part. optax's
Adam adds eps to the bias-corrected sqrt(s_hat), scikit-learn to the raw sqrt(s). These
forms make jaxann's runs follow scikit-learn's step for step.

Both are pure `init` / `update` pairs with NamedTuple states, meant to be wrapped in
`optax.inject_hyperparams` so that the learning rate is an input of the compiled step.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class VelocityState(NamedTuple):
    velocity: optax.Params  # v, one array per parameter


def sgd(learning_rate, momentum=0.9, nesterov=True) -> optax.GradientTransformation:
    """SGD with (Nesterov) momentum in the velocity form above; updates are added to params.
    nesterov is a bool or a number (nonzero: Nesterov), so it can be an input of a compiled
    step: one program serves both forms, each selecting its update exactly."""

    def init(params):
        return VelocityState(jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        def step(v, g):
            return momentum * v - learning_rate * g

        velocity = jax.tree.map(step, state.velocity, grads)
        updates = jax.tree.map(lambda v, g: jnp.where(nesterov != 0, step(v, g), v), velocity, grads)
        return updates, VelocityState(velocity)

    return optax.GradientTransformation(init, update)


class AdamState(NamedTuple):
    count: jax.Array  # t, steps taken
    mu: optax.Params  # m, first-moment estimate
    nu: optax.Params  # s, second-moment estimate


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8) -> optax.GradientTransformation:
    """Adam with scikit-learn's bias correction folded into the step size (see above)."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return AdamState(jnp.zeros((), jnp.int32), zeros, zeros)

    def update(grads, state, params=None):
        count = state.count + 1
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
        nu = jax.tree.map(lambda s, g: b2 * s + (1 - b2) * (g * g), state.nu, grads)
        t = count.astype(jnp.result_type(learning_rate))
        lr_t = learning_rate * jnp.sqrt(1 - b2**t) / (1 - b1**t)
        updates = jax.tree.map(lambda m, s: -lr_t * m / (jnp.sqrt(s) + eps), mu, nu)
        return updates, AdamState(count, mu, nu)

    return optax.GradientTransformation(init, update)

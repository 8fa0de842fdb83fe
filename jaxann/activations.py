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

An `activation` argument names one activation for every hidden layer ("relu") or one per
hidden layer (("relu", "tanh")); `layer_activations` resolves it, for the forward pass and
backprop alike. `register(name, h, dh)` adds your own, its dh checked against jax.grad of h.

sigmoid and softplus are written in forms that stay finite (no overflow, no NaN) for
|z| up to 1e4 and beyond.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

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
    """Look an activation up by name; an unknown name raises JaxannError listing the known
    ones (a user's must be registered first: `register`, e.g. in a process loading a model
    trained with one)."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise JaxannError(
            f"unknown activation {name!r}; expected one of: {', '.join(ACTIVATIONS)}, or your own registered "
            "first with jaxann.activations.register(name, h, dh)"
        ) from None


BUILTIN = tuple(ACTIVATIONS)  # the activations jaxann defines; `register` adds others beside them
# a name the estimators already give a builtin (scikit-learn's for sigmoid), so no user activation takes it
RESERVED = ("logistic",)
# register's check: h' against jax.grad of h in float64, where a correct formula agrees to
# rounding (~1e-16 per operation; more where an equal formula arranged otherwise cancels,
# as 1 - tanh^2 does near saturation): 1e-6 leaves ample room for that, while a wrong
# formula (a missing term or factor, a wrong sign or constant) errs by far more at some point
CHECK_RTOL, CHECK_ATOL = 1e-6, 1e-8


def _check_points() -> np.ndarray:
    """Where register compares h' with jax.grad: a grid over [-4, 4] that misses 0 (where
    the builtins' kinks are) and 24 points drawn with a fixed seed, wider spread."""
    drawn = np.random.default_rng(0).normal(0.0, 3.0, 24)
    return np.concatenate([np.linspace(-4.0, 4.0, 40), drawn[drawn != 0]])


def _one_line(e: Exception) -> str:
    """An exception as one line: its type and its message's first line."""
    return f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"


def _check(name: str, act: Activation) -> None:
    """Refuse (JaxannError) an h that changes shape or dtype, or an h' that disagrees with
    jax.grad of h at `_check_points` beyond CHECK_RTOL, CHECK_ATOL."""
    with jax.enable_x64(True):
        for dtype in (jnp.float32, jnp.float64):
            z = jnp.asarray(_check_points(), dtype)
            for what, f in (("h", act.h), ("dh", act.dh)):
                try:
                    out = jnp.asarray(f(z))
                except Exception as e:  # whatever the user's function raises, told in one line
                    raise JaxannError(f"activation {name!r}: {what}(z) failed on a {dtype.__name__} array "
                                      f"({_one_line(e)})") from None
                if out.shape != z.shape or out.dtype != z.dtype:
                    raise JaxannError(f"activation {name!r}: {what}(z) gave shape {out.shape} {out.dtype} for z "
                                      f"{z.shape} {z.dtype}; expected the same shape and dtype (elementwise)")
        z = jnp.asarray(_check_points(), jnp.float64)
        try:
            # the elementwise derivative: d/dz_i sum_j h(z_j) = h'(z_i)
            auto = np.asarray(jax.grad(lambda z: jnp.sum(act.h(z)))(z))
        except Exception as e:  # e.g. h calls NumPy on a tracer
            raise JaxannError(f"activation {name!r}: jax.grad cannot differentiate h ({_one_line(e)})") from None
        dh = np.asarray(act.dh(z))
    excess = np.abs(dh - auto) - (CHECK_ATOL + CHECK_RTOL * np.abs(auto))
    excess = np.where(np.isnan(excess), np.inf, excess)  # a NaN on either side disagrees
    worst = int(np.argmax(excess))
    if excess[worst] > 0:
        raise JaxannError(f"activation {name!r}: dh disagrees with jax.grad of h by {abs(dh[worst] - auto[worst]):.3g} "
                          f"at z = {float(z[worst]):.6g} (dh {dh[worst]:.9g}, jax.grad {auto[worst]:.9g}); expected "
                          f"agreement within {CHECK_RTOL:g} relative + {CHECK_ATOL:g}")


def register(name: str, h: Callable[[jax.Array], jax.Array], dh: Callable[[jax.Array], jax.Array], *,
             check: bool = True) -> Activation:
    """Add your own activation h with its derivative dh = h', both elementwise, under name:
    from then on name works wherever a builtin's does (the estimators, `TrainConfig`,
    `jaxann.forward`, backprop, gradcheck), in this process.

    check (default True): before accepting them, h must keep its input's shape and dtype
    (float32 and float64) and dh must equal `jax.grad` of h at fixed points in [-4, 4] and
    beyond (`_check_points`) within CHECK_RTOL relative + CHECK_ATOL, in float64; else
    JaxannError naming the largest disagreement and where. check=False trusts dh unchecked.
    A builtin's name (or scikit-learn's "logistic") is refused; registering a name again
    replaces the earlier functions. Programs compiled with a registered activation are kept
    in this process only, never in the program store on disk (its code is not jaxann's, so
    no stored program can be known to match it). Returns the Activation."""
    if not isinstance(name, str) or not name or "," in name or name != name.strip():
        raise JaxannError(f"activation name {name!r} must be a non-empty string without commas or outer spaces")
    if name in BUILTIN or name in RESERVED:
        raise JaxannError(f"activation {name!r} is jaxann's own; register yours under another name "
                          f"(taken: {', '.join(BUILTIN + RESERVED)})")
    if not (callable(h) and callable(dh)):
        raise JaxannError(f"activation {name!r}: h and dh must be functions of an array z")
    act = Activation(h, dh)
    if check:
        _check(name, act)
    if name in ACTIVATIONS:
        # jax.jit's caches hold the functions traced with the earlier h and dh under this name
        jax.clear_caches()
    ACTIVATIONS[name] = act
    return act


def registered() -> tuple[str, ...]:
    """The names of the activations registered in this process (`register`)."""
    return tuple(name for name in ACTIVATIONS if name not in BUILTIN)


def registered_in(key) -> tuple:
    """(name, Activation) of each registered activation whose quoted name occurs in the
    repr of key (a program's key): what, besides its name, a program using it depends on.
    () at once while nothing is registered (this runs for every program request)."""
    user = registered()
    if not user:
        return ()
    text = repr(key)
    return tuple((name, ACTIVATIONS[name]) for name in user if repr(name) in text)


def check_activation(activation, n_hidden: int | None = None):
    """activation in the one form programs take it (static, hashable): a name, for every
    hidden layer, or a tuple of names, one per hidden layer (a list becomes a tuple). Every
    name must be known and, given n_hidden, a tuple must have n_hidden names; else
    JaxannError."""
    if isinstance(activation, (list, tuple)):
        activation = tuple(activation)
        if not activation:
            raise JaxannError("activation () names no activation; expected a name or one name per hidden layer")
        for name in activation:
            get_activation(name)
        if n_hidden is not None and len(activation) != n_hidden:
            raise JaxannError(f"activation {list(activation)} has {len(activation)} names for {n_hidden} hidden "
                              f"layers; expected one name, or one per hidden layer ({n_hidden})")
        return activation
    get_activation(activation)
    return activation


def layer_activations(activation, n_hidden: int) -> tuple[Activation, ...]:
    """The Activation of each hidden layer l = 1..n_hidden, for a name (every layer) or a
    tuple of names (layer l takes the l-th); checked by `check_activation`."""
    activation = check_activation(activation, n_hidden)
    names = (activation,) * n_hidden if isinstance(activation, str) else activation
    return tuple(ACTIVATIONS[name] for name in names)


def label(activation) -> str:
    """An activation as text, as the command line takes it: 'relu' or 'relu,tanh'."""
    return activation if isinstance(activation, str) else ",".join(activation)


def derivative(f: Callable[[jax.Array], jax.Array], z, eps: float = 1e-6) -> jax.Array:
    """The lecture's central difference: f'(z) ~ (f(z + eps) - f(z - eps)) / (2 eps).

    Accurate to O(eps^2) where f is smooth; in float32 choose eps near 1e-3, since
    rounding error grows like 1e-7 / eps.
    """
    z = jnp.asarray(z)
    return (f(z + eps) - f(z - eps)) / (2 * eps)

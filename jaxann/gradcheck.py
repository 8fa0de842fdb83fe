"""Gradient checking: explicit backprop vs `jax.grad` vs central finite differences.

For each layer l and each of W^l, b^l the three gradients of the cost C (`jaxann.loss`)
are compared through the relative error

    rel(g, g_ref) = ||g - g_ref||_2 / (||g||_2 + ||g_ref||_2)      (0 when both are 0)

with ||.||_2 the Euclidean norm over all entries of that array; autodiff is the reference.
Central differences perturb one parameter at a time:
dC/dtheta_k ~ (C(theta + eps e_k) - C(theta - eps e_k)) / (2 eps).

Finite differences run in float64 whenever `jax_enable_x64` is on (the command line turns
it on), whatever the parameters' dtype, so they are a reference free of float32 rounding.
Tolerances (CS231n's guide: > 1e-2 is wrong, < 1e-7 is good in float64):

    backprop vs autodiff:  1e-10 in float64 (both exact up to rounding, ~1e-16 per operation)
                           1e-4 in float32 (rounding ~6e-8 per operation, summed over a batch)
    finite differences:    1e-6 for float64 parameters (eps 1e-6: truncation ~eps^2,
                           rounding ~1e-16 / eps);
                           1e-3 for float32 parameters against float64 differences (the
                           float32 gradient's own rounding);
                           1e-2 when x64 is off and the differences themselves run in float32
                           (eps 1e-3: rounding ~6e-8 / eps dominates; tiny gradients, such as
                           a pure L2 term, can fail it -- turn x64 on)

Kinks (relu at 0, the step) make finite differences unreliable where a z^l lies within
eps of the kink; random inputs almost never do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxann import network
from jaxann.deltas import backprop
from jaxann.errors import JaxannError


def tolerances(dtype) -> tuple[float, float, float, str]:
    """(backprop tolerance, finite-difference tolerance, eps, finite-difference dtype)."""
    x64 = jax.config.jax_enable_x64
    if jnp.dtype(dtype) == jnp.float64:
        return 1e-10, 1e-6, 1e-6, "float64"
    if x64:
        return 1e-4, 1e-3, 1e-6, "float64"
    return 1e-4, 1e-2, 1e-3, "float32"


def relative_error(g, g_ref) -> float:
    """||g - g_ref||_2 / (||g||_2 + ||g_ref||_2), over all leaves of two pytrees; 0 if both are 0.

    The two must have the same tree structure and leaf shapes (JaxannError otherwise): the
    leaves are paired in order, and pairing those of two different trees means nothing.
    """
    if jax.tree.structure(g) != jax.tree.structure(g_ref):
        raise JaxannError(f"relative_error of two different trees: {jax.tree.structure(g)} "
                          f"and {jax.tree.structure(g_ref)}")
    shapes = [(jnp.shape(a), jnp.shape(b)) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref))]
    if any(a != b for a, b in shapes):
        raise JaxannError(f"relative_error of leaves with different shapes: {shapes}")
    d = sum(float(jnp.sum((a - b) ** 2)) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref)))
    n = sum(float(jnp.sum(a * a)) for a in jax.tree.leaves(g)) ** 0.5
    n_ref = sum(float(jnp.sum(b * b)) for b in jax.tree.leaves(g_ref)) ** 0.5
    return 0.0 if n + n_ref == 0 else d**0.5 / (n + n_ref)


def finite_differences(params, x, y, activation="relu", loss="cross_entropy", alpha=0.0, eps=1e-6):
    """Central-difference estimate of dC/dtheta, one parameter at a time (same tree as params)."""
    x, t = network.prepare(params, x, y, activation, loss)
    flat, unravel = ravel_pytree(params)
    x = x.astype(flat.dtype)

    @jax.jit
    def estimate(flat, x, t, alpha):
        def one(k):
            step = jnp.zeros_like(flat).at[k].set(eps)
            plus = network.loss(unravel(flat + step), x, t, activation, loss, alpha)
            minus = network.loss(unravel(flat - step), x, t, activation, loss, alpha)
            return (plus - minus) / (2 * eps)

        return jax.lax.map(one, jnp.arange(flat.size), batch_size=256)

    return unravel(estimate(flat, x, t, alpha))


@dataclass
class Row:
    layer: int
    param: str
    shape: tuple
    norm_autodiff: float
    backprop: float
    finite_differences: float
    ok: bool


@dataclass
class Report:
    rows: list
    dtype: str
    fd_dtype: str
    tol_backprop: float
    tol_finite_differences: float
    eps: float

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "dtype": self.dtype,
            "finite_differences_dtype": self.fd_dtype,
            "relative_error": "||g - g_autodiff||_2 / (||g||_2 + ||g_autodiff||_2) per array",
            "tolerance": {"backprop": self.tol_backprop, "finite_differences": self.tol_finite_differences},
            "eps": self.eps,
            "rows": [asdict(r) | {"shape": list(r.shape)} for r in self.rows],
        }

    def table(self) -> str:
        lines = [
            "relative error = ||g - g_autodiff||_2 / (||g||_2 + ||g_autodiff||_2), "
            "Euclidean norm over each array's entries",
            f"{'layer':>5}  {'param':<5}  {'shape':<12}  {'|autodiff|':>10}  "
            f"{'backprop':>10}  {'finite-diff':>11}  ok",
        ]
        for r in self.rows:
            lines.append(
                f"{r.layer:>5}  {r.param:<5}  {str(r.shape):<12}  {r.norm_autodiff:>10.3e}  "
                f"{r.backprop:>10.2e}  {r.finite_differences:>11.2e}  {'yes' if r.ok else 'NO'}"
            )
        lines.append(
            f"tolerances ({self.dtype}): backprop {self.tol_backprop:g}, "
            f"finite differences {self.tol_finite_differences:g} "
            f"(eps {self.eps:g}, computed in {self.fd_dtype})"
        )
        lines.append("OK: all gradients agree" if self.ok else "FAILED: gradients disagree")
        return "\n".join(lines)


def gradcheck(params, x, y, activation="relu", loss="cross_entropy", alpha=0.0) -> Report:
    """Compare backprop, jax.grad and finite differences per layer and per W / b."""
    dtype = str(jnp.dtype(params[0]["W"].dtype))
    tol_bp, tol_fd, eps, fd_dtype = tolerances(dtype)
    g_ad = jax.grad(network.loss)(params, x, y, activation, loss, alpha)
    g_bp = backprop(params, x, y, activation, loss, alpha)
    params_fd = jax.tree.map(lambda a: a.astype(fd_dtype), params)
    g_fd = finite_differences(params_fd, x, y, activation, loss, alpha, eps)
    rows = []
    for l, (ad, bp, fd) in enumerate(zip(g_ad, g_bp, g_fd), start=1):
        for name in ("W", "b"):
            e_bp = relative_error(bp[name], ad[name])
            e_fd = relative_error(fd[name], ad[name])
            rows.append(
                Row(l, name, tuple(ad[name].shape), float(jnp.linalg.norm(ad[name])),
                    e_bp, e_fd, e_bp <= tol_bp and e_fd <= tol_fd)
            )
    return Report(rows, dtype, fd_dtype, tol_bp, tol_fd, eps)

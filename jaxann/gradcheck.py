"""Gradient checking: explicit backprop vs `jax.grad` vs central finite differences, and
every learning rule's update measured against the gradient.

For each layer l and each of W^l, b^l (one row of the report) the gradients of the cost
C (`jaxann.loss`) are compared through the relative error

    rel(g, g_ref) = ||g - g_ref||_2 / (||g||_2 + ||g_ref||_2)      (0 when both are 0)

with ||.||_2 the Euclidean norm over the compared numbers of that array:

- backprop (the delta recursion) against autodiff (`jax.grad`), over every entry;
- finite differences of C against backprop's gradient g, in up to three modes:
    entries     every entry: (C(theta + eps e_k) - C(theta - eps e_k)) / (2 eps) against g_k;
                2 n evaluations of C for n parameters, so the default only up to CHEAP
    directions  k random directions v per array (entries N(0, 1), the other arrays held):
                (C(theta + eps v) - C(theta - eps v)) / (2 eps) against g . v, the k numbers
                compared as one vector (`jax.test_util.check_grads`' test, per array)
    sample      k entries per array drawn at random without replacement (all of a smaller
                array), as in `entries`
- every other learning rule's update u (`jaxann.deltas.RULES`) against the true gradient
  g_ad: the angle arccos(u . g_ad / (||u|| ||g_ad||)) in degrees and the norm ratio
  ||u|| / ||g_ad||, per array. These are measurements, not checks: a rule is not expected
  to follow the gradient.

Everything runs in float64 (inside `jax.enable_x64(True)`, whatever the global setting):
the finite differences always, at the parameters cast to float64; backprop and autodiff
in the parameters' own dtype, so a float32 check measures float32 rounding. Tolerances
(CS231n's guide: > 1e-2 is wrong, < 1e-7 is good in float64):

    backprop vs autodiff   1e-10 for float64 parameters (both exact up to rounding, ~1e-16
                           per operation, summed over a batch); 1e-4 for float32 (~6e-8 per
                           operation)
    finite differences     1e-6 for float64 parameters, every mode (eps 1e-6: truncation
                           ~eps^2 ~1e-12, rounding ~1e-16 |C| / eps ~1e-10 per estimate,
                           divided by the compared numbers' norm; the worst arrays measured
                           are some 20x below it, the README says which); 1e-3 for float32
                           (the float32 gradient's own rounding against float64 differences)

A wrong gradient is far above these: a flipped sign gives 1, a missing h' factor ~0.1-1,
a missing L2 term alpha / m * W^l (alpha 1e-4, m 8) ~1e-4 in float64 -- which float32's
1e-3 lets through. Kinks (relu at 0, the step) make finite differences unreliable where
a z^l lies within eps of the kink; random inputs almost never do.

The whole check is one compiled program (per network shape, activation, loss, rules and
mode counts), through `jaxann.compiling.compiled`, so a later process loads it from the
program store; the inputs, directions, samples and feedback matrices are drawn with
NumPy and the comparisons made with NumPy, which compile nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxann import compiling, network
from jaxann.activations import check_activation
from jaxann.deltas import RULES, batch_magnitudes, feedback_matrices, feedback_stream, value_and_backprop
from jaxann.errors import JaxannError
from jaxann.inputs import check_rows
from jaxann.losses import as_targets, get_loss

MODES = ("entries", "directions", "sample")
CHEAP = 5000  # parameters up to which the default mode checks every entry (10,000 costs)
FD_STREAM = 0x6AD  # the random directions' and samples' stream, beside the feedback matrices'


def tolerances(dtype) -> tuple[float, float, float]:
    """(backprop tolerance, finite-difference tolerance, eps) for parameters of `dtype`."""
    if np.dtype(dtype) == np.float64:
        return 1e-10, 1e-6, 1e-6
    return 1e-4, 1e-3, 1e-6


def relative_error(g, g_ref) -> float:
    """||g - g_ref||_2 / (||g||_2 + ||g_ref||_2), over all leaves of two pytrees; 0 if both are 0.

    The two must have the same tree structure and leaf shapes (JaxannError otherwise): the
    leaves are paired in order, and pairing those of two different trees means nothing.
    Computed with NumPy in float64 on the host.
    """
    if jax.tree.structure(g) != jax.tree.structure(g_ref):
        raise JaxannError(f"relative_error of two different trees: {jax.tree.structure(g)} "
                          f"and {jax.tree.structure(g_ref)}")
    pairs = [(np.asarray(a, np.float64), np.asarray(b, np.float64))
             for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(g_ref))]
    shapes = [(a.shape, b.shape) for a, b in pairs]
    if any(a != b for a, b in shapes):
        raise JaxannError(f"relative_error of leaves with different shapes: {shapes}")
    d = sum(float(np.sum((a - b) ** 2)) for a, b in pairs) ** 0.5
    n = sum(float(np.sum(a * a)) for a, _ in pairs) ** 0.5
    n_ref = sum(float(np.sum(b * b)) for _, b in pairs) ** 0.5
    return 0.0 if n + n_ref == 0 else d / (n + n_ref)


def angle_and_ratio(u, g) -> tuple[float, float]:
    """(angle in degrees between u and g, ||u|| / ||g||); NaN for the angle when either is 0."""
    u, g = np.ravel(np.asarray(u, np.float64)), np.ravel(np.asarray(g, np.float64))
    nu, ng = np.linalg.norm(u), np.linalg.norm(g)
    if nu == 0 or ng == 0:
        return float("nan"), float(nu / ng) if ng else float("nan")
    return float(np.degrees(np.arccos(np.clip(u @ g / (nu * ng), -1.0, 1.0)))), float(nu / ng)


def random_problem(sizes, batch: int, loss: str, dtype="float64", seed: int = 0):
    """(params, x, y) for a gradient check, drawn with NumPy (compiles nothing): Glorot-
    uniform parameters for layer sizes [n_0, ..., n_L], a batch x (batch, n_0) of standard
    normal rows, and targets of the kind `loss` takes: class labels (batch,) for
    cross_entropy; rows (batch, n_L) of 0/1 indicators for binary_cross_entropy, of
    counts (Poisson, mean 2) for poisson, of standard normal values otherwise."""
    get_loss(loss)
    rng = np.random.RandomState(seed)
    params = network.init_mlp_from_random_state(rng, sizes, dtype=np.dtype(dtype))
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    n_L = sizes[-1]
    if loss == "cross_entropy":
        y = rng.randint(0, n_L, batch)
    elif loss == "binary_cross_entropy":
        y = (rng.uniform(size=(batch, n_L)) < 0.5).astype(dtype)
    elif loss == "poisson":
        y = rng.poisson(2.0, (batch, n_L)).astype(dtype)
    else:
        y = rng.standard_normal((batch, n_L)).astype(dtype)
    return params, x, y


def _host_problem(params, x, y, activation, loss):
    """params, x (m, n_0) and target rows t (m, n_L) as NumPy arrays of params' dtype,
    and the activation in its static form (`network.prepare`'s checks, without its device
    programs)."""
    get_loss(loss)
    if not isinstance(params, (tuple, list)) or not params or not all(
            isinstance(layer, dict) and "W" in layer and "b" in layer for layer in params):
        raise JaxannError('params must be a non-empty tuple of layers {"W": ..., "b": ...}')
    activation = check_activation(activation, len(params) - 1)
    params = tuple({"W": np.asarray(layer["W"]), "b": np.asarray(layer["b"])} for layer in params)
    dtype = params[0]["W"].dtype
    if dtype not in (np.float32, np.float64):
        raise JaxannError(f"parameters of dtype {dtype}; expected float32 or float64")
    x = np.asarray(check_rows(np.asarray(x), params[0]["W"].shape[0], single=True), dtype)
    if x.ndim == 1:
        x, y = x[None, :], np.asarray(y)[None, ...]
    t = np.asarray(as_targets(np.asarray(y), params[-1]["W"].shape[1], x.shape[0], dtype))
    if not np.isfinite(t).all():
        raise JaxannError("targets y hold NaN or infinite values; expected finite numbers")
    return params, x, t, activation


def _measure(activation, loss, rules, params, x, t, alpha, eps, feedback, directions, indices):
    """The compiled check. directions (k, n) and indices (r,) are in the parameters' flat
    order (W^1, b^1, W^2, ... raveled): each array is perturbed along its own part of each
    of the k directions, and each entry in `indices` alone. Returns (autodiff's gradient,
    {rule: its update}, the central differences: L*2*k along the directions, array by
    array, then r at the indices)."""
    ones = jnp.ones(x.shape[0], x.dtype)
    g_ad = jax.grad(lambda p: network.objective(p, x, t, ones, activation, loss, alpha)[0])(params)
    feedback = dict(feedback)
    if "sign_symmetry_brm" in feedback:  # the magnitudes of a training run's first batch
        bounds, stream = feedback["sign_symmetry_brm"]
        feedback["sign_symmetry_brm"] = batch_magnitudes(params, bounds, stream)
    updates = {rule: value_and_backprop(params, x, t, ones, activation, loss, alpha, rule,
                                        feedback.get(rule, ()))[1] for rule in rules}
    # finite differences: every number in float64
    leaves, tree = jax.tree.flatten(jax.tree.map(lambda a: a.astype(jnp.float64), params))
    x64, t64, alpha64 = x.astype(jnp.float64), t.astype(jnp.float64), jnp.float64(alpha)
    flat = jnp.concatenate([leaf.ravel() for leaf in leaves])
    offsets = np.cumsum([0] + [leaf.size for leaf in leaves])

    def cost(flat):
        arrays = [flat[a:b].reshape(leaf.shape) for a, b, leaf in zip(offsets, offsets[1:], leaves)]
        return network.objective(jax.tree.unflatten(tree, arrays), x64, t64, ones.astype(jnp.float64),
                                 activation, loss, alpha64)[0]

    k, along = directions.shape[0], len(leaves) * directions.shape[0]
    iota = jnp.arange(flat.size)
    bounds = jnp.asarray(offsets)

    def central(r):  # (C(theta + eps p) - C(theta - eps p)) / (2 eps) for the r-th perturbation p
        p = jnp.zeros_like(flat)
        if k:  # array i's part of direction j
            i, j = r // k, r % k
            p = jnp.where(r < along, directions[j] * ((iota >= bounds[i]) & (iota < bounds[i + 1])), p)
        if indices.size:
            p = jnp.where(r < along, p, iota == indices[jnp.maximum(r - along, 0)])
        return (cost(flat + eps * p) - cost(flat - eps * p)) / (2 * eps)

    # one perturbation at a time (a scan, not a batch): the loop's body is one small program,
    # where a batch of perturbed weight matrices would compile batched products
    return g_ad, updates, jax.lax.map(central, jnp.arange(along + indices.size))


@dataclass
class FiniteDifferences:
    """The central differences a check measured, per array (W^1, b^1, W^2, ... in order),
    kept so that any gradient tree can be compared with them (`errors`).

    directions: (k, *shape) each, and along: (k,) the estimates along them (empty tuples
    when not measured); picks: the sampled entries' flat indices, sampled: their
    estimates; entries: every entry's estimate, in the tree of the parameters (or None).
    """

    directions: tuple
    along: tuple
    picks: tuple
    sampled: tuple
    entries: tuple | None

    def errors(self, g) -> list[dict]:
        """Per array of the gradient tree g, {mode: relative error of g to the estimates}
        for each mode measured."""
        out = []
        leaves = jax.tree.leaves(g)
        for i, a in enumerate(leaves):
            a = np.ravel(np.asarray(a, np.float64))
            errors = {}
            if self.entries is not None:
                errors["entries"] = relative_error(np.ravel(jax.tree.leaves(self.entries)[i]), a)
            if self.directions:
                v = self.directions[i].reshape(len(self.along[i]), -1)
                errors["directions"] = relative_error(self.along[i], v @ a)  # against g . v
            if len(self.picks[i]):
                errors["sample"] = relative_error(self.sampled[i], a[self.picks[i]])
            out.append(errors)
        return out


@dataclass
class Row:
    """One array (W^l or b^l): autodiff's norm, backprop's relative error to autodiff, the
    finite differences' relative error to backprop per mode, and per learning rule the
    angle (degrees) and norm ratio of its update to autodiff's gradient."""

    layer: int
    param: str
    shape: tuple
    norm_autodiff: float
    backprop: float
    finite_differences: dict
    ok: bool
    rules: dict = field(default_factory=dict)


@dataclass
class Report:
    """What `gradcheck` measured: one Row per array, the settings and tolerances.
    `table()` is the command line's text, `to_dict()` its JSON."""

    rows: list
    dtype: str
    tol_backprop: float
    tol_finite_differences: float
    eps: float
    modes: dict  # mode -> numbers compared per array (None: every entry)
    rules: tuple  # the learning rules measured besides backprop's check
    seed: int
    fd: FiniteDifferences = field(repr=False, default=None)  # the estimates, for other gradients

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "dtype": self.dtype,
            "finite_differences_dtype": "float64",
            "relative_error": "||g - g_ref||_2 / (||g||_2 + ||g_ref||_2) per array: backprop against "
                              "autodiff, finite differences against backprop",
            "tolerance": {"backprop": self.tol_backprop, "finite_differences": self.tol_finite_differences},
            "eps": self.eps,
            "finite_differences": {mode: {"per_array": k} for mode, k in self.modes.items()},
            "rules": list(self.rules),
            "seed": self.seed,
            "rows": [asdict(r) | {"shape": list(r.shape), "rules": {
                rule: {k: None if np.isnan(v) else v for k, v in m.items()}  # JSON has no NaN
                for rule, m in r.rules.items()}} for r in self.rows],
        }

    def table(self) -> str:
        modes = list(self.modes)
        lines = [
            "relative error = ||g - g_ref||_2 / (||g||_2 + ||g_ref||_2) per array: backprop against "
            "autodiff, finite differences (" + ", ".join(
                f"{m} {'all' if k is None else k}" for m, k in self.modes.items()) + ") against backprop",
            f"{'layer':>5}  {'param':<5}  {'shape':<12}  {'|autodiff|':>10}  {'backprop':>10}"
            + "".join(f"  {m:>10}" for m in modes) + "  ok",
        ]
        for r in self.rows:
            lines.append(
                f"{r.layer:>5}  {r.param:<5}  {str(r.shape):<12}  {r.norm_autodiff:>10.3e}  {r.backprop:>10.2e}"
                + "".join(f"  {r.finite_differences[m]:>10.2e}" for m in modes) + f"  {'yes' if r.ok else 'NO'}"
            )
        lines.append(
            f"tolerances ({self.dtype}): backprop {self.tol_backprop:g}, finite differences "
            f"{self.tol_finite_differences:g} (every mode; eps {self.eps:g}, computed in float64)"
        )
        lines.append("OK: all gradients agree" if self.ok else "FAILED: gradients disagree")
        if self.rules:
            lines += ["", "learning rules against autodiff, per array: angle (degrees) between the "
                          "update and the gradient, norm ratio ||update|| / ||gradient||",
                      f"{'layer':>5}  {'param':<5}" + "".join(f"  {rule:>25}" for rule in self.rules),
                      f"{'':>5}  {'':<5}" + f"  {'angle':>15}  {'ratio':>8}" * len(self.rules)]
            for r in self.rows:
                lines.append(f"{r.layer:>5}  {r.param:<5}" + "".join(
                    f"  {r.rules[rule]['angle']:>15.2f}  {r.rules[rule]['norm_ratio']:>8.3f}"
                    for rule in self.rules))
        return "\n".join(lines)


def fd_modes(n_params: int, fd="auto", directions: int = 8, samples: int = 16) -> dict:
    """{mode: count per array (None: every entry)} for `fd`: "auto" (every entry up to
    CHEAP parameters, else directions and sample), or a sequence of MODES."""
    if fd == "auto":
        fd = ("entries",) if n_params <= CHEAP else ("directions", "sample")
    fd = tuple(fd)
    if not fd or any(m not in MODES for m in fd):
        raise JaxannError(f"finite-difference modes {fd}; expected 'auto' or some of: {', '.join(MODES)}")
    for name, k in (("directions", directions), ("samples", samples)):
        if not (isinstance(k, (int, np.integer)) and k > 0):
            raise JaxannError(f"{name} {k!r} must be a positive integer")
    counts = {"entries": None, "directions": directions, "sample": samples}
    return {m: counts[m] for m in MODES if m in fd}


def gradcheck(params, x, y, activation: str = "relu", loss: str = "cross_entropy", alpha=0.0, *,
              fd="auto", directions: int = 8, samples: int = 16, eps: float | None = None,
              rules=("backprop",), feedback_scale: float = 1.0, seed: int = 0) -> Report:
    """Compare backprop with jax.grad and central finite differences per layer and per
    W / b, and measure each of `rules` against the true gradient (module notes).

    params: a tuple of {"W": (n_{l-1}, n_l), "b": (n_l,)} in float32 or float64; x (m, n_0);
    y labels (m,) or targets (m, n_L). fd: "auto" or some of MODES; directions and
    samples: how many per array; eps: the step (default 1e-6); rules: learning rules
    (`jaxann.deltas.RULES`) whose update is measured (backprop's always is); their fixed
    feedback matrices drawn from `seed` and `feedback_scale` as training draws them; the
    directions and samples from `seed` too. Returns a Report.
    """
    params, x, t, activation = _host_problem(params, x, y, activation, loss)
    alpha = network.check_alpha(alpha)
    rules = tuple(dict.fromkeys(("backprop", *rules)))
    if any(r not in RULES for r in rules):
        raise JaxannError(f"unknown learning rules {rules}; expected some of: {', '.join(RULES)}")
    dtype = params[0]["W"].dtype
    tol_bp, tol_fd, default_eps = tolerances(dtype)
    eps = default_eps if eps is None else eps
    if not (np.isfinite(eps) and eps > 0):
        raise JaxannError(f"eps {eps} must be a positive number")
    leaves = jax.tree.leaves(params)
    sizes = [params[0]["W"].shape[0]] + [layer["W"].shape[1] for layer in params]
    modes = fd_modes(sum(a.size for a in leaves), fd, directions, samples)

    rng = np.random.default_rng((seed, FD_STREAM))
    v = tuple(rng.standard_normal((directions, *a.shape)) for a in leaves) if "directions" in modes else ()
    flat_v = (np.concatenate([d.reshape(directions, -1) for d in v], axis=1) if v
              else np.zeros((0, sum(a.size for a in leaves))))
    picks = [np.sort(rng.choice(a.size, min(samples, a.size), replace=False)) if "sample" in modes
             else np.zeros(0, np.int64) for a in leaves]
    every = [np.arange(a.size) if "entries" in modes else np.zeros(0, np.int64) for a in leaves]
    offsets = np.cumsum([0] + [a.size for a in leaves])
    indices = np.concatenate([p + o for p, o in zip(picks, offsets)] + [e + o for e, o in zip(every, offsets)])
    feedback = {r: feedback_matrices(sizes, r, seed, feedback_scale, dtype) for r in rules}
    feedback = {r: m for r, m in feedback.items() if m}
    if "sign_symmetry_brm" in feedback:  # its bounds, and the stream its batches draw from
        feedback["sign_symmetry_brm"] = (feedback["sign_symmetry_brm"], feedback_stream("sign_symmetry_brm", seed))

    static = (activation, loss, rules)
    with jax.enable_x64(True):
        args = (params, x, t, np.asarray(alpha, dtype), np.asarray(eps, np.float64), feedback, flat_v,
                indices.astype(np.int64))
        program, _ = compiling.compiled("gradcheck", lambda: partial(_measure, *static), args, key=static)
        g_ad, updates, estimates = jax.device_get(program(*args))

    # the estimates split back: along each array's directions, then each array's samples and entries
    n = len(leaves)
    along = estimates[:len(flat_v) * n].reshape(n, len(flat_v))
    split = np.split(estimates[len(flat_v) * n:],
                     np.cumsum([len(p) for p in picks] + [len(e) for e in every])[:-1])
    entries = (jax.tree.unflatten(jax.tree.structure(params), [e.reshape(a.shape) for e, a in zip(split[n:], leaves)])
               if "entries" in modes else None)
    fd = FiniteDifferences(v, tuple(along) if v else (), tuple(picks), tuple(split[:n]), entries)
    g_bp = updates["backprop"]
    rows = []
    for i, (ad, errors) in enumerate(zip(jax.tree.leaves(g_ad), fd.errors(g_bp))):
        e_bp = relative_error(jax.tree.leaves(g_bp)[i], ad)
        measured = {r: dict(zip(("angle", "norm_ratio"), angle_and_ratio(jax.tree.leaves(u)[i], ad)))
                    for r, u in updates.items()}
        rows.append(Row(i // 2 + 1, ("W", "b")[i % 2], tuple(ad.shape), float(np.linalg.norm(ad)), e_bp, errors,
                        e_bp <= tol_bp and all(e <= tol_fd for e in errors.values()), measured))
    shown = rules if len(rules) > 1 else ()  # backprop's own angle only beside other rules
    return Report(rows, str(dtype), tol_bp, tol_fd, eps, modes, shown, seed, fd)

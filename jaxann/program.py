"""The compiled training program: optimizer, step, epoch, and the programs kept for reuse.

    optimizer = make_optimizer(config)             optax, hyperparameters as inputs
    state     = initial_state(config, sizes)       parameters drawn from config.seed (on the
                                                   host, `draw_mlp`), a zero optimizer state
    step      = make_step(optimizer, config)       (state, batch) -> (state, metrics)
    epoch     = make_epoch(step, rows, n)          one `jax.lax.scan` over the batches
    compiled_epoch(config, n, args)                that epoch compiled (`jaxann.compiling`),
                                                   kept for the next fit that needs it

`step` is a pure function of a `TrainState` and one batch (x rows, target rows t, sample
weights); its gradient comes from `jax.grad` (grad="autodiff") or from the explicit delta
recursion (grad="backprop"), through the same code. `epoch(state, x, t, sample_weight,
x_divisor, order)` takes the data as arguments (never closed over, so they are not baked
into the program) and the epoch's row order; it pads the last, partial batch to full size with
rows of weight 0, so every batch has one shape, one program serves every epoch, and no
sample is dropped. Nothing in an epoch reads a value back to the host.

The epoch loss is scikit-learn's: sum(C_batch rows_batch) / n, each batch cost including
its L2 term alpha / (2 m) ||W||^2.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxann import compiling, optimizers
from jaxann.deltas import autodiff, batch_magnitudes, feedback_matrices, feedback_stream, next_draw, value_and_gradient
from jaxann.config import TrainConfig
from jaxann.dropout import dropout_state, scaled_masks
from jaxann.losses import reported_cost
from jaxann.network import draw_mlp, layer_sizes


class TrainState(NamedTuple):
    """What a step changes: the parameters, the optimizer's state, and alpha (an input, so
    a new L2 strength needs no new compilation and can be vmapped over)."""

    params: tuple
    opt_state: optax.OptState
    alpha: jax.Array
    feedback: tuple = ()  # the learning rule's fixed feedback (`deltas.feedback_matrices`), never trained
    # a rule that draws its feedback every batch (sign_symmetry_brm): (key, steps taken), `deltas.feedback_stream`
    stream: tuple = ()
    # with dropout: (rates p_l (L-1,), (key, steps taken)), `jaxann.dropout.dropout_state`; () without
    dropout: tuple = ()


class Metrics(NamedTuple):
    """A batch's (or, packed by the epoch, the epoch's) figures."""

    loss: jax.Array  # the cost C, including its L2 term
    correct: jax.Array  # weight of the rows whose argmax a^L is the target's argmax
    m: jax.Array  # weight of the real (unpadded) rows
    finite: jax.Array | bool = True  # after an epoch: whether every parameter is finite (1.0 / 0.0)
    # with config.alignment: per layer, the angle (degrees) between the update and the true
    # gradient (a batch's (L,); an epoch's, the mean over its batches)
    angles: jax.Array | tuple = ()

    @classmethod
    def unpack(cls, packed) -> "Metrics":
        """The epoch's Metrics from its packed array (..., 4 + L with angles), read back in
        one transfer."""
        packed = np.asarray(packed)
        return cls(*(packed[..., i] for i in range(4)), packed[..., 4:])


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """SGD (momentum, Nesterov) or Adam in scikit-learn's forms (`jaxann.optimizers`).

    `optax.inject_hyperparams` keeps the learning rate (and momentum, Nesterov, betas, eps) in the
    optimizer state rather than in the compiled program: a schedule changes it between
    epochs (`set_learning_rate`) without a new compilation, and models with different
    values can be vmapped together. SGD with momentum 0 is plain SGD.
    """
    dtype = jnp.dtype(config.dtype)
    if config.optimizer == "sgd":
        return optax.inject_hyperparams(optimizers.sgd, hyperparam_dtype=dtype)(**hyperparameters(config))
    return optax.inject_hyperparams(optimizers.adam, hyperparam_dtype=dtype)(**hyperparameters(config))


def hyperparameters(config: TrainConfig) -> dict:
    """The optimizer's numeric settings, by the names its state keeps them under (Nesterov's
    flag as 1.0 or 0.0: one program serves SGD with and without it)."""
    if config.optimizer == "sgd":
        return {"learning_rate": config.lr, "momentum": config.momentum, "nesterov": float(config.nesterov)}
    return {"learning_rate": config.lr, "b1": config.beta1, "b2": config.beta2, "eps": config.epsilon}


def initial_state(config: TrainConfig, sizes, params=None) -> TrainState:
    """A run's state before its first step: parameters drawn by `draw_mlp(config.seed,
    sizes, config.init)` on the host (nothing compiled), or the given params cast to
    config.dtype on the host; the optimizer state, all zeros for jaxann's optimizers,
    built on the host from its traced shapes; the numeric inputs of the step (learning
    rate, momentum, betas, eps, alpha, dropout rates) set from config, so a new value
    needs no new program."""
    dtype = jnp.dtype(config.dtype)
    if params is None:
        params = draw_mlp(config.seed, sizes, config.init, dtype)
    else:
        params = jax.tree.map(lambda a: np.asarray(a, dtype), params)
    if config.optimizer == "lbfgs":  # L-BFGS's memory lives in SciPy, for one run (`jaxann.lbfgs`)
        return TrainState(params, optax.EmptyState(), np.asarray(config.alpha, dtype))
    feedback = feedback_matrices(layer_sizes(params), config.grad, config.seed, config.feedback_scale, dtype)
    shapes = _zero_optimizer_state(config.optimizer, config.dtype, tuple(layer_sizes(params)))
    zeros = jax.tree.map(lambda a: np.zeros(a.shape, a.dtype), shapes)
    hyper = {name: np.asarray(value, dtype) for name, value in hyperparameters(config).items()}
    return TrainState(params, zeros._replace(hyperparams=hyper), np.asarray(config.alpha, dtype), feedback,
                      feedback_stream(config.grad, config.seed),
                      dropout_state(config.dropout_rates(), config.seed, dtype))


def initial_states(configs: list, sizes) -> TrainState:
    """K models' states before their first step (configs of one program), stacked along a
    leading axis on the host: model i's is `initial_state(configs[i], sizes)`."""
    states = [initial_state(c, sizes) for c in configs]
    return jax.tree.map(lambda *leaves: np.stack(leaves), *states)


@functools.lru_cache(maxsize=64)
def _zero_optimizer_state(optimizer: str, dtype: str, sizes: tuple):
    """The shapes of the optimizer state of parameters of these sizes (traced once per kind
    and sizes: a sweep's models share them)."""
    config = TrainConfig(optimizer=optimizer, dtype=dtype)
    shapes = tuple({"W": jax.ShapeDtypeStruct((n_in, n_out), dtype), "b": jax.ShapeDtypeStruct((n_out,), dtype)}
                   for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    with compiling.precision(dtype):  # traced in the dtype it is kept under, wherever it is first asked for
        return jax.eval_shape(make_optimizer(config).init, shapes)


def learning_rate(state: TrainState):
    """The current learning rate (an array: one per model for a vmapped state)."""
    return state.opt_state.hyperparams["learning_rate"]


def set_learning_rate(state: TrainState, lr) -> TrainState:
    """The state with a new learning rate (an input of the compiled step: no recompilation):
    a host array, or placed like the old one when that is spread over several devices
    (replicated, or split over a sweep's models)."""
    hyper = state.opt_state.hyperparams
    old = hyper["learning_rate"]
    lr = np.asarray(lr, old.dtype)
    sharding = getattr(old, "sharding", None)
    if sharding is not None and len(sharding.device_set) > 1:
        lr = jax.make_array_from_callback(lr.shape, sharding, lambda index, lr=lr: lr[index])
    return state._replace(opt_state=state.opt_state._replace(hyperparams={**hyper, "learning_rate": lr}))


def angles(g, g_true) -> jax.Array:
    """Per layer, the angle in degrees between the weight updates g and g_true (L,)."""
    def angle(a, b):
        cos = jnp.sum(a * b) / (jnp.linalg.norm(a) * jnp.linalg.norm(b))
        return jnp.degrees(jnp.arccos(jnp.clip(cos, -1.0, 1.0)))

    return jnp.stack([angle(l["W"], l_true["W"]) for l, l_true in zip(g, g_true)])


def make_step(optimizer: optax.GradientTransformation, config: TrainConfig) -> Callable:
    """One gradient-descent step: (TrainState, (x, t, sample_weight)) -> (TrainState, Metrics).
    With config.alignment, the step also takes the true gradient (autodiff) of the same
    batch and measures each layer's angle to the update. A rule with a feedback stream
    (sign_symmetry_brm) draws this batch's magnitudes from it and advances it; so does
    dropout its masks, which every gradient taken in the step uses."""
    value_and_grad = value_and_gradient(config.grad)
    activation, loss = config.activation, config.loss

    def step(state: TrainState, batch):
        x, t, sample_weight = batch
        feedback = state.feedback
        if state.stream:
            feedback = batch_magnitudes(state.params, state.feedback, state.stream)
            state = state._replace(stream=next_draw(state.stream))
        masks = ()
        if state.dropout:
            rates, stream = state.dropout
            widths = [layer["W"].shape[1] for layer in state.params[:-1]]
            masks = scaled_masks(rates, stream, x.shape[0], widths, x.dtype)
            state = state._replace(dropout=(rates, next_draw(stream)))
        (C, a_L), g = value_and_grad(state.params, x, t, sample_weight, activation, loss, state.alpha,
                                     feedback=feedback, masks=masks)
        C = reported_cost(C, state.params, a_L, t, sample_weight, loss, state.alpha)
        updates, opt_state = optimizer.update(g, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        correct = jnp.sum(sample_weight * (jnp.argmax(a_L, axis=-1) == jnp.argmax(t, axis=-1)))
        measured = ()
        if config.alignment:
            g_true = autodiff(state.params, x, t, sample_weight, activation, loss, state.alpha, masks=masks)[1]
            measured = angles(g, g_true)
        return state._replace(params=params, opt_state=opt_state), Metrics(C, correct, jnp.sum(sample_weight),
                                                                           angles=measured)

    return step


def make_epoch(step: Callable, rows: int, n: int, batch_sharding=None) -> Callable:
    """One epoch as one `jax.lax.scan`: (state, x, t, sample_weight, x_divisor, order) ->
    (state, the epoch's Metrics packed in one array (4,), or (4 + L,) with the alignment
    angles: `Metrics.unpack` reads it).

    sample_weight (n,) holds the rows' weights, or is None: every row counts once (a program
    of its own, with no weights to read); x_divisor, when given (else None), makes each
    batch's features x / x_divisor (x then raw rows, e.g. uint8); order (n,) is the
    epoch's row order, ending in -1s where a model has fewer rows than the program's n
    (fits of nearby sizes share one program: `jaxann.estimators.batch`). The n slots are
    cut into ceil(n / rows) batches; the last is padded with weight-0 rows, as are the -1
    slots, so its mean and L2 term use its real size (its weight sum). The epoch's
    Metrics, as scikit-learn counts them: loss = sum(C_batch rows_batch) / (the real
    rows), correct = the weight of the rows right, m = the weight of all rows (the real
    rows when unweighted); finite, whether the parameters after it are all finite.
    batch_sharding: where each batch's rows go (data parallelism: split over a mesh's
    'data' axis; XLA then sums the gradient across devices).
    """
    n_batches = -(-n // rows)
    pad = n_batches * rows - n

    def epoch(state, x, t, sample_weight, x_divisor, order):
        dtype = t.dtype
        slots = jnp.concatenate([order, jnp.full(pad, -1, order.dtype)]).reshape(n_batches, rows)
        idx = jnp.maximum(slots, 0)  # an empty slot reads row 0, with weight 0
        real = (slots >= 0).astype(dtype)

        # the fixed feedback matrices are loop invariants, closed over rather than carried
        # (a carried array is copied from step to step); a feedback stream is carried
        feedback = state.feedback

        def body(carry, batch):
            state, sums = carry
            state = state._replace(feedback=feedback)
            idx, real = batch
            weight = real if sample_weight is None else sample_weight[idx] * real
            # raw rows (uint8 pixels, say) become features here, batch by batch
            x_batch = x[idx] if x_divisor is None else x[idx].astype(dtype) / x_divisor
            batch = (x_batch, t[idx], weight)
            if batch_sharding is not None:
                batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
            state, metrics = step(state, batch)
            # the epoch's sums, added batch after batch as scikit-learn adds its loss
            sums = (sums[0] + metrics.loss * jnp.sum(real), sums[1] + metrics.correct, sums[2] + metrics.m)
            return (state._replace(feedback=()), sums), metrics.angles

        zero = jnp.zeros((), dtype)
        (state, (loss, correct, m)), angles = jax.lax.scan(body, (state._replace(feedback=()), (zero, zero, zero)),
                                                           (idx, real))
        state = state._replace(feedback=feedback)
        loss = loss / jnp.sum(real)
        packed = [jnp.asarray(v, dtype)[None] for v in (loss, correct, m, all_finite(state.params))]
        if isinstance(angles, jax.Array):  # with alignment: each layer's mean angle
            packed.append(jnp.mean(angles, axis=0).astype(dtype))
        return state, jnp.concatenate(packed)  # one read-back for all

    return epoch


def epoch_function(config: TrainConfig, n: int, batch_sharding=None) -> Callable:
    """The epoch of config's program on n rows (`make_epoch` over `make_step`), not compiled.

    Built from `config.program_config()` alone: the numbers that are inputs (learning
    rate, momentum, betas, eps, alpha) come from the state, never from config.
    """
    program = config.program_config()
    step = make_step(make_optimizer(program), program)
    return make_epoch(step, config.batch_rows(n), n, batch_sharding)


def forget_compiled_epochs() -> None:
    """Drop every kept compiled program: the next fit compiles afresh (benchmarks time that)."""
    compiling.forget()


def compiled_epoch(config: TrainConfig, n: int, args: tuple, batch_sharding=None, models: bool = False):
    """`epoch_function` compiled for args = (state, x, t, sample_weight, x_divisor, order),
    or vmapped over models: args then end with `active` (K,), the state and order have a
    leading model axis, and a model that is not active, or whose epoch made its loss or
    parameters non-finite, leaves the epoch as it entered it (its metrics still report
    the epoch). Kept and reused.

    The key is everything the program is built from: `config.program_config()` with its
    batch size resolved for n, n, the batch placement, whether it is vmapped, and the
    arguments' tree, shapes, dtypes and placements. Fits that differ only in input or loop
    settings (learning rate, alpha, seed, epochs, ...) or in the data's values reuse one
    program. Returns (compiled epoch, seconds spent compiling: 0 when it was kept).
    """
    program = replace(config.program_config(), batch_size=config.batch_rows(n))

    def build():
        epoch = epoch_function(program, n, batch_sharding)
        if not models:
            return epoch

        def model_epoch(state, x, t, sample_weight, x_divisor, order, active):
            new, packed = epoch(state, x, t, sample_weight, x_divisor, order)
            keep = active & jnp.isfinite(packed[0]) & (packed[3] > 0)
            return jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, state), packed

        return jax.vmap(model_epoch, in_axes=(0, None, None, None, None, 0, 0))

    return compiling.compiled("epoch", build, args, key=(program, n, batch_sharding, models))


def all_finite(tree) -> jax.Array:
    """True when every entry of every leaf is finite (traced inside the epoch): a * 0 is 0
    for a finite entry and NaN for an infinite or NaN one, so one sum per leaf tells."""
    return jnp.isfinite(sum(jnp.sum(a * 0) for a in jax.tree.leaves(tree)))

"""Every program jaxann compiles goes through `compiled`: kept, stored on disk, and counted.

    program = compiled("epoch", build, args, key)     build() -> the function to compile
    with counting() as ledger: ...                     ledger.names, ledger.seconds, ledger.loaded

- Kept: the last KEPT programs stay in the process, keyed by the name, the caller's key
  (what the function is built from), the arguments' tree, shapes, dtypes and placements,
  and the JAX settings that change lowering (LOWERING_SETTINGS); a second request for the
  same program compiles nothing.
- Stored on disk (`jaxann.program_store`): each program compiled here is written whole,
  signed, and a later process loads it instead of tracing, lowering and compiling it
  again: the same executable, so the same results bit for bit. Not stored: a program
  whose key names an activation the user registered (`jaxann.activations.register`; kept,
  keyed by those functions too: its code is not jaxann's source, so no digest could tell
  two processes' functions of one name apart); one spread over several devices; one
  compiled under NaN/inf debugging (it re-runs a failing program's function, which a
  loaded one lacks); one that JAX's own cache handed back (an executable itself loaded
  from disk serializes incompletely: XLA:CPU leaves out its kernels' code).
- Compiled, on a CPU and for small arguments, with XLA's loop emitters (CPU_OPTIONS): a
  third less time to compile than its default fusion emitters, for slightly slower runs.
- Counted: each compilation adds its name and seconds to every `counting()` ledger open in
  this thread, so a run reports exactly the programs it compiled (`JAX_LOG_COMPILES=1`
  lists the same ones, as `jit(NAME)`); each program loaded from disk adds its name to
  the ledgers' `loaded`.
Every program of a fit, a sweep, a prediction or a score goes through here. The stated
exceptions (tested: `tests/test_compiling.py`) are the lecture's math functions, which
users compose with their own `jax.jit`, `jax.grad` and `jax.vmap` and so must stay plain
jitted JAX functions (`jaxann.forward`, `jaxann.loss`, `jaxann.backprop`,
`jaxann.per_example_grads`), and the measuring tools' own functions (`jaxann bench`'s
matmul rate, the perceptron experiment's gradient). `jaxann gradcheck`'s one program goes
through here, so a later check loads it from the store.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field

import jax
import numpy as np

from jaxann import program_store
from jaxann.activations import registered_in

KEPT = 32
# JAX settings that change how a function lowers, so a program compiled under one value
# must not serve another (jax.default_matmul_precision(...) contexts included)
LOWERING_SETTINGS = ("jax_default_matmul_precision", "jax_enable_x64", "jax_numpy_rank_promotion")
# XLA:CPU's options for jaxann's programs of small arguments (under SMALL_PROGRAM elements
# in all): its loop emitters compile an epoch in two thirds of the time its default fusion
# emitters take (0.3 s against 0.45 s on the gallery's data sets), and run it 5-8% slower
# at every size measured (MNIST rows, 0.8M to 47M elements), so they pay where a program is
# small: at 4M elements, 0.2 s saved against 0.5 ms an epoch (docs/benchmarks.md,
# "Compiling"). Larger programs keep XLA's defaults. An option the user's XLA_FLAGS names
# is theirs; if this jaxlib does not know one, none is passed.
CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False}
SMALL_PROGRAM = 1 << 22
_CPU_OPTIONS_KNOWN = True  # False once this jaxlib refused them
_KEPT: OrderedDict = OrderedDict()
_LOCK = threading.Lock()  # fits may run in threads (joblib's threading backend)
_LEDGERS: contextvars.ContextVar = contextvars.ContextVar("jaxann_ledgers", default=())
_COMPILING = threading.local()  # .cache_hit: JAX's own cache answered this thread's last compile


def _note_cache_hit(event: str, **kwargs) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _COMPILING.cache_hit = True


jax.monitoring.register_event_listener(_note_cache_hit)


@dataclass
class Ledger:
    """The programs compiled while it was open (their names and the seconds each took), and
    the programs loaded from disk instead."""

    names: list = field(default_factory=list)
    times: list = field(default_factory=list)
    loaded: list = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(self.times)


@contextmanager
def counting():
    """A Ledger that records every compilation until the block ends (nested ledgers each
    record them)."""
    ledger = Ledger()
    token = _LEDGERS.set(_LEDGERS.get() + (ledger,))
    try:
        yield ledger
    finally:
        _LEDGERS.reset(token)


def forget() -> None:
    """Drop every kept program: the next request loads or compiles it again."""
    with _LOCK:
        _KEPT.clear()


def _placement(a):
    """Where an argument lives, for the key: None for a host array or one on a single device
    (a program compiled for either takes both: passing host arrays straight to the call
    copies them faster than `jax.device_put` does), else its sharding."""
    sharding = getattr(a, "sharding", None)
    return None if sharding is None or len(sharding.device_set) == 1 else sharding


def _argument_type(a):
    """What of an argument decides the program: a host array's shape and dtype (read
    directly: this runs on every call of a prediction), else JAX's type and placement."""
    if type(a) is np.ndarray:
        return a.shape, a.dtype
    return jax.typeof(a), _placement(a)


def _device():
    """The device a program of single-device or host arguments is compiled for and runs on."""
    device = jax.config.jax_default_device  # None, a Device, or a platform's name
    return jax.devices(device)[0] if device is None or isinstance(device, str) else device


def _compile(lowered, elements: int):
    """The lowered program compiled; with CPU_OPTIONS (those XLA_FLAGS leaves to us) on a CPU
    when its arguments hold fewer than SMALL_PROGRAM elements."""
    global _CPU_OPTIONS_KNOWN
    options = {}
    if _CPU_OPTIONS_KNOWN and elements < SMALL_PROGRAM and _device().platform == "cpu":
        options = {name: value for name, value in CPU_OPTIONS.items() if f"--{name}=" not in program_store.xla_flags()}
    try:
        return lowered.compile(compiler_options=options or None)
    except Exception as e:
        if not options or "No such compile option" not in str(e):
            raise
        _CPU_OPTIONS_KNOWN = False  # an older jaxlib: its own defaults
        return lowered.compile()


def precision(dtype):
    """The scope jaxann's own programs run in for floats of dtype: inside
    `jax.enable_x64(True)` for float64 (whatever the process's global setting, which it
    leaves alone), nothing for float32."""
    return jax.enable_x64(True) if np.dtype(dtype) == np.float64 else contextlib.nullcontext()


def in_params_precision(fn):
    """fn(params, ...) run inside `precision` of its parameters' dtype (their first leaf's):
    float64 parameters are computed with in float64, whatever JAX's global setting."""
    @functools.wraps(fn)
    def scoped(params, *args, **kwargs):
        with precision(jax.tree.leaves(params)[0].dtype):
            return fn(params, *args, **kwargs)
    return scoped


def compiled(name: str, build, args: tuple, key=()):
    """The program build() compiled for args (kept, stored and reused), and the seconds
    compiling took (0 when it was kept or loaded). key: what build's function depends on
    besides the arguments' types (hashable, with a stable repr)."""
    leaves, tree = jax.tree.flatten(args)
    full_key = (name, key, tree, tuple(map(_argument_type, leaves)),
                *(getattr(jax.config, setting) for setting in LOWERING_SETTINGS))
    user = registered_in(key)  # the user's activations the program is built with
    full_key += user
    with _LOCK:
        if full_key in _KEPT:
            _KEPT.move_to_end(full_key)
            return _KEPT[full_key], 0.0
    folder, device = program_store.store_folder(), _device()
    key = program_store.store_key(folder) if folder else None
    storable = key and not user and not any(_placement(a) is not None for a in leaves) \
        and not (jax.config.jax_debug_nans or jax.config.jax_debug_infs)
    path = program_store.stored_path(folder, name, full_key, device) if storable else None
    program = program_store.load(path, key, device) if path else None
    seconds = 0.0
    if program is not None:
        for ledger in _LEDGERS.get():
            ledger.loaded.append(name)
    else:
        fn = build()
        fn.__name__ = fn.__qualname__ = name
        _COMPILING.cache_hit = False
        t0 = time.perf_counter()
        program = _compile(jax.jit(fn).lower(*args), sum(int(np.size(a)) for a in leaves))
        seconds = time.perf_counter() - t0
        for ledger in _LEDGERS.get():
            ledger.names.append(name)
            ledger.times.append(seconds)
        if path and not _COMPILING.cache_hit:
            program_store.save(path, program, key)
    with _LOCK:
        _KEPT[full_key] = program
        if len(_KEPT) > KEPT:
            _KEPT.popitem(last=False)
    return program, seconds

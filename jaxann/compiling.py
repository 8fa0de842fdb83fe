"""Every program jaxann compiles goes through `compiled`: kept, cached on disk, and counted.

    program = compiled("epoch", build, args, key)     build() -> the function to compile
    with counting() as ledger: ...                     ledger.names, ledger.seconds

- Kept: the last KEPT programs stay in the process, keyed by the name, the caller's key
  (what the function is built from), the arguments' tree, shapes, dtypes and placements,
  and the JAX settings that change lowering (LOWERING_SETTINGS); a second request for the
  same program compiles nothing.
- Cached on disk: JAX's persistent compilation cache, turned on at the first compilation
  in the folder `cache_folder()` (`$JAXANN_COMPILE_CACHE`, else `<cache>/xla`), unless the
  user configured a cache of their own (`jax_compilation_cache_dir`, left as it is) or
  turned it off (`JAXANN_COMPILE_CACHE=0`, `jaxann ... --no-compile-cache`).
- Counted: each compilation adds its name and seconds to every `counting()` ledger open in
  this thread, so a run reports exactly the programs it compiled (`JAX_LOG_COMPILES=1`
  lists the same ones, as `jit(NAME)`).
Nothing else in jaxann calls `jax.jit` on a path that runs per fit or prediction.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field

import jax

from jaxann.files import cache_dir

KEPT = 32
# JAX settings that change how a function lowers, so a program compiled under one value
# must not serve another (jax.default_matmul_precision(...) contexts included)
LOWERING_SETTINGS = ("jax_default_matmul_precision", "jax_enable_x64", "jax_numpy_rank_promotion")
_KEPT: OrderedDict = OrderedDict()
_LOCK = threading.Lock()  # fits may run in threads (joblib's threading backend)
_LEDGERS: contextvars.ContextVar = contextvars.ContextVar("jaxann_ledgers", default=())
_CACHE_DECIDED = False


@dataclass
class Ledger:
    """The programs compiled while it was open: their names and the seconds each took."""

    names: list = field(default_factory=list)
    times: list = field(default_factory=list)

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


def cache_folder() -> str | None:
    """Where the persistent cache goes, or None when JAXANN_COMPILE_CACHE turns it off."""
    setting = os.environ.get("JAXANN_COMPILE_CACHE", "")
    if setting.lower() in ("0", "off", "false", "no"):
        return None
    return setting or str(cache_dir() / "xla")


def use_persistent_cache(enabled: bool = True) -> str | None:
    """Decide the persistent cache now (before anything compiles); returns its folder.

    A cache the user configured (`jax_compilation_cache_dir` set) is left as it is. The
    size and time thresholds are lowered to 0: jaxann's programs are small and compile in
    well under JAX's default 1 s threshold, which would otherwise skip them all.
    """
    global _CACHE_DECIDED
    _CACHE_DECIDED = True
    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    folder = cache_folder() if enabled else None
    if folder is None:
        return None
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def forget() -> None:
    """Drop every kept program: the next request compiles afresh (benchmarks time that)."""
    with _LOCK:
        _KEPT.clear()


def _placement(a):
    """Where an argument lives, for the key: None for a host array or one on a single device
    (a program compiled for either takes both: passing host arrays straight to the call
    copies them several times faster than `jax.device_put` does), else its sharding."""
    sharding = getattr(a, "sharding", None)
    return None if sharding is None or len(sharding.device_set) == 1 else sharding


def compiled(name: str, build, args: tuple, key=()):
    """The program build() compiled for args (kept and reused), and the seconds compiling
    took (0 when it was kept). key: what build's function depends on besides the
    arguments' types (hashable)."""
    leaves = jax.tree.leaves(args)
    full_key = (name, key, jax.tree.structure(args), tuple((jax.typeof(a), _placement(a)) for a in leaves),
                *(getattr(jax.config, setting) for setting in LOWERING_SETTINGS))
    with _LOCK:
        if full_key in _KEPT:
            _KEPT.move_to_end(full_key)
            return _KEPT[full_key], 0.0
    if not _CACHE_DECIDED:
        use_persistent_cache()
    fn = build()
    fn.__name__ = fn.__qualname__ = name
    t0 = time.perf_counter()
    program = jax.jit(fn).lower(*args).compile()
    seconds = time.perf_counter() - t0
    for ledger in _LEDGERS.get():
        ledger.names.append(name)
        ledger.times.append(seconds)
    with _LOCK:
        _KEPT[full_key] = program
        if len(_KEPT) > KEPT:
            _KEPT.popitem(last=False)
    return program, seconds

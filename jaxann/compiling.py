"""Every program jaxann compiles goes through `compiled`: kept, stored on disk, and counted.

    program = compiled("epoch", build, args, key)     build() -> the function to compile
    with counting() as ledger: ...                     ledger.names, ledger.seconds, ledger.loaded

- Kept: the last KEPT programs stay in the process, keyed by the name, the caller's key
  (what the function is built from), the arguments' tree, shapes, dtypes and placements,
  and the JAX settings that change lowering (LOWERING_SETTINGS); a second request for the
  same program compiles nothing.
- Stored on disk: each program compiled here is written whole (its executable,
  `jax.experimental.serialize_executable`) to `store_folder()`, under a digest of its key,
  the versions of jax, jaxlib and optax, jaxann's own source, XLA_FLAGS and the device (on
  a CPU, its model and instruction set). A program whose key names an activation the user
  registered (`jaxann.activations.register`) is kept, keyed by those functions too, but
  never stored: its code is not jaxann's source, so no digest could tell two processes'
  functions of one name apart. A later process loads a stored program instead of tracing,
  lowering and compiling it again: the same executable, so the same results bit for bit.
  Only programs compiled in this process are stored, never one that JAX's own cache
  handed back: an executable that was itself loaded from disk serializes incompletely
  (XLA:CPU leaves out the code of its kernels, and the program fails when called).
  Only files this user's jaxann wrote are loaded: each is signed with an HMAC-SHA256 under
  a key of this user's (`<cache>/program-store.key`, mode 0600) and the signature is
  checked before anything is unpickled; a folder, file or key that another user owns or
  can write is not used at all (one warning line; the run compiles as if the store were
  empty). The store's folder is made 0700 and its files 0600.
  The store keeps at most `$JAXANN_COMPILE_CACHE_MAX` bytes (default 1G; K, M, G suffixes),
  removing the programs used longest ago first (a load marks a file used); `jaxann cache`
  shows and clears it.
  The folder is `$JAXANN_COMPILE_CACHE`, else `<cache>/programs`; off with
  `JAXANN_COMPILE_CACHE=0`, `jaxann ... --no-compile-cache` or `use_program_store(False)`,
  and off while the user has configured JAX's own cache (`jax_compilation_cache_dir`),
  which then serves as they configured it.
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
import hashlib
import hmac
import os
import pickle
import secrets
import sys
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import jax
import numpy as np

from jaxann.activations import registered_in
from jaxann.files import atomic_write, cache_dir

KEPT = 32
# JAX settings that change how a function lowers, so a program compiled under one value
# must not serve another (jax.default_matmul_precision(...) contexts included)
LOWERING_SETTINGS = ("jax_default_matmul_precision", "jax_enable_x64", "jax_numpy_rank_promotion")
STORE_FORMAT = b"jaxann-program-2\n"  # first bytes of a stored program; a new layout, a new number
STORE_LIMIT = 1 << 30  # bytes the store keeps by default (JAXANN_COMPILE_CACHE_MAX)
KEY_FILE = "program-store.key"  # in the cache root: this user's key for signing stored programs
SIGNATURE = 32  # bytes of HMAC-SHA256 after STORE_FORMAT
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
_STORE_ON = True
_ENVIRONMENT: str | None = None
_COMPILING = threading.local()  # .cache_hit: JAX's own cache answered this thread's last compile
_STORES: dict = {}  # folder -> its signing key, or None when the folder is not safe to use (warned once)
_BAD_LIMITS: set = set()  # JAXANN_COMPILE_CACHE_MAX values already warned about


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


def cache_folder() -> str | None:
    """The folder JAXANN_COMPILE_CACHE names, else `<cache>/programs`; None when it says 0/off."""
    setting = os.environ.get("JAXANN_COMPILE_CACHE", "")
    if setting.lower() in ("0", "off", "false", "no"):
        return None
    return setting or str(cache_dir() / "programs")


def store_folder() -> str | None:
    """Where compiled programs are stored and loaded now, or None (see the module's notes)."""
    if not _STORE_ON or jax.config.jax_compilation_cache_dir:
        return None
    return cache_folder()


def use_program_store(enabled: bool = True) -> str | None:
    """Turn the program store on or off for this process; returns its folder (None: off).
    With JAX's own cache configured, that cache's folder (jaxann stores nothing then)."""
    global _STORE_ON
    _STORE_ON = enabled
    return jax.config.jax_compilation_cache_dir or store_folder()


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


def _environment() -> str:
    """What besides its key decides a compiled program: versions, jaxann's source, XLA's
    flags and the device (computed once per process)."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        import jaxlib
        import optax

        source = hashlib.sha256()
        package = Path(__file__).parent
        for path in sorted(package.rglob("*.py")):
            source.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
        device = jax.devices()[0]
        processor = ""
        if device.platform == "cpu" and os.path.exists("/proc/cpuinfo"):
            with open("/proc/cpuinfo") as f:  # the model and instruction set the code was built for
                processor = "".join(sorted({line for line in f if line.startswith(("model name", "flags"))}))
        _ENVIRONMENT = repr((sys.version_info[:2], jax.__version__, jaxlib.__version__, optax.__version__,
                             source.hexdigest(), _xla_flags(), device.platform,
                             device.device_kind, jax.device_count(), processor))
    return _ENVIRONMENT


@functools.cache
def _xla_flags() -> str:
    """XLA_FLAGS as XLA read them: once, when this process started its backend."""
    return os.environ.get("XLA_FLAGS", "")


def _device():
    """The device a program of single-device or host arguments is compiled for and runs on."""
    device = jax.config.jax_default_device  # None, a Device, or a platform's name
    return jax.devices(device)[0] if device is None or isinstance(device, str) else device


def _stored_path(folder: str, name: str, full_key: tuple, leaves) -> Path | None:
    """The file of this program in the store, or None when it cannot be stored: spread over
    several devices, a key with no stable text (an object shown by its address), or NaN/inf
    debugging on (it re-runs a failing program's function, which a loaded one lacks)."""
    if any(_placement(a) is not None for a in leaves) or jax.config.jax_debug_nans or jax.config.jax_debug_infs:
        return None
    text = repr(full_key)
    if " at 0x" in text:
        return None
    digest = hashlib.sha256((text + repr(_device()) + _environment()).encode()).hexdigest()[:40]
    return Path(folder) / f"{name}-{digest}.bin"


def store_limit() -> int:
    """The most bytes the program store keeps: $JAXANN_COMPILE_CACHE_MAX (a number of bytes,
    or with a K, M or G suffix), else STORE_LIMIT; a setting that is not one warns once."""
    text = os.environ.get("JAXANN_COMPILE_CACHE_MAX", "").strip()
    if not text:
        return STORE_LIMIT
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1].upper(), 1)
    try:
        limit = int(float(text[:-1] if scale > 1 else text) * scale)
        if limit < 0:
            raise ValueError(text)
        return limit
    except ValueError:
        if text not in _BAD_LIMITS:
            _BAD_LIMITS.add(text)
            print(f"jaxann: warning: JAXANN_COMPILE_CACHE_MAX={text!r} is not a size (e.g. 500M, 2G); "
                  f"keeping at most {STORE_LIMIT >> 30}G", file=sys.stderr)
        return STORE_LIMIT


def stored_programs(folder) -> list[Path]:
    """The program files in a store folder, the one used longest ago first."""
    try:
        files = [p for p in Path(folder).glob("*.bin") if p.is_file()]
    except OSError:
        return []
    return sorted(files, key=lambda p: p.stat().st_mtime)


def _trim(folder, limit: int) -> None:
    """Remove the programs used longest ago until the store holds at most limit bytes."""
    files = stored_programs(folder)
    sizes = [p.stat().st_size for p in files]
    total = sum(sizes)
    for path, size in zip(files, sizes):
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= size


def _foreign(path) -> str:
    """Why another user could have written path ("" when only this user can): owned by
    someone else, or writable by the group or everyone. Nothing to check without POSIX ids."""
    if not hasattr(os, "getuid"):
        return ""
    st = os.stat(path)
    if st.st_uid != os.getuid():
        return f"it is owned by user {st.st_uid}, not you"
    if st.st_mode & 0o022:
        return f"other users can write it (mode {st.st_mode & 0o777:o})"
    return ""


def _warn(what, why) -> None:
    print(f"jaxann: warning: not using the program store: {what}: {why}; compiling instead", file=sys.stderr)


def _store_key(folder: str) -> bytes | None:
    """This user's signing key for the store at folder, made on first use; None (warned
    once per folder) when the folder or the key is not this user's alone."""
    if folder in _STORES:
        return _STORES[folder]
    key = None
    try:
        why = _foreign(folder) if os.path.isdir(folder) else ""  # a new one is made 0700 by _store
        key_path = cache_dir() / KEY_FILE
        if why:
            _warn(folder, why)
        else:
            key_path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # made earlier, or by a process beside this one
                fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
            why = _foreign(key_path) or ("it is readable by other users" if hasattr(os, "getuid") and
                                          os.stat(key_path).st_mode & 0o077 else "")
            if why:
                _warn(key_path, why)
            else:
                key = key_path.read_bytes()
                if len(key) != 32:
                    _warn(key_path, "it is not a jaxann key")
                    key = None
    except OSError as e:
        _warn(folder, e.strerror or e)
    _STORES[folder] = key
    return key


def _compile(lowered, elements: int):
    """The lowered program compiled; with CPU_OPTIONS (those XLA_FLAGS leaves to us) on a CPU
    when its arguments hold fewer than SMALL_PROGRAM elements."""
    global _CPU_OPTIONS_KNOWN
    options = {}
    if _CPU_OPTIONS_KNOWN and elements < SMALL_PROGRAM and _device().platform == "cpu":
        options = {name: value for name, value in CPU_OPTIONS.items() if f"--{name}=" not in _xla_flags()}
    try:
        return lowered.compile(compiler_options=options or None)
    except Exception as e:
        if not options or "No such compile option" not in str(e):
            raise
        _CPU_OPTIONS_KNOWN = False  # an older jaxlib: its own defaults
        return lowered.compile()


def _signature(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def _load(path: Path, key: bytes):
    """The program stored at path, or None: absent; or not signed with this user's key
    (damaged, or written by anyone else: nothing of it is unpickled, and it is deleted);
    or a file another user can write (left alone)."""
    from jax.experimental.serialize_executable import deserialize_and_load

    try:
        why = _foreign(path)
        if why:
            _warn(path, why)
            return None
        blob = path.read_bytes()
    except OSError:
        return None
    start = len(STORE_FORMAT) + SIGNATURE
    payload = blob[start:]
    if not (blob.startswith(STORE_FORMAT) and
            hmac.compare_digest(blob[len(STORE_FORMAT):start], _signature(key, payload))):
        path.unlink(missing_ok=True)  # compile afresh and store anew
        return None
    try:
        program = deserialize_and_load(*pickle.loads(payload), execution_devices=[_device()])
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: the store removes the programs used longest ago first
        return program
    except Exception:  # signed by us, but not loadable here (another jaxlib build, say)
        path.unlink(missing_ok=True)
        return None


def _store(path: Path, program, key: bytes) -> None:
    """Write a program compiled in this process to path, signed (best effort: a cache)."""
    from jax.experimental.serialize_executable import serialize

    try:
        payload = pickle.dumps(serialize(program))
    except (NotImplementedError, TypeError, AttributeError, pickle.PicklingError, jax.errors.JaxRuntimeError):
        return  # a program this JAX or backend cannot serialize (constants baked in, say): kept in memory only
    try:
        os.makedirs(path.parent, mode=0o700, exist_ok=True)
        atomic_write(path, lambda f: f.write(STORE_FORMAT + _signature(key, payload) + payload), mode=0o600)
        _trim(path.parent, store_limit())
    except OSError:
        return  # a read-only or full disk: the store is a cache, the run goes on


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
    folder = store_folder()
    key = _store_key(folder) if folder else None
    path = _stored_path(folder, name, full_key, leaves) if key and not user else None
    program = _load(path, key) if path else None
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
            _store(path, program, key)
    with _LOCK:
        _KEPT[full_key] = program
        if len(_KEPT) > KEPT:
            _KEPT.popitem(last=False)
    return program, seconds

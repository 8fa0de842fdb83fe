"""The program store: compiled programs kept on disk for later processes, signed.

    path = stored_path(folder, name, full_key, device)   a program's file, by a digest
    load(path, store_key(folder), device) / save(path, program, key)

Each program `jaxann.compiling` compiles is written whole (its executable,
`jax.experimental.serialize_executable`) to `store_folder()`, under a digest of its key,
the versions of jax, jaxlib and optax, jaxann's own source, XLA_FLAGS and the device (on a
CPU, its model and instruction set), so an upgrade or an edit never loads a stale program.
Only files this user's jaxann wrote are loaded: each is signed with an HMAC-SHA256 under a
key of this user's (`<cache>/program-store.key`, mode 0600) and the signature is checked
before anything is unpickled; a folder, file or key that another user owns or can write is
not used at all (one warning line; the run compiles as if the store were empty). The
store's folder is made 0700 and its files 0600.
The store keeps at most `$JAXANN_COMPILE_CACHE_MAX` bytes (default 1G; K, M, G suffixes),
removing the programs used longest ago first (a load marks a file used); `jaxann cache`
shows and clears it.
The folder is `$JAXANN_COMPILE_CACHE`, else `<cache>/programs`; off with
`JAXANN_COMPILE_CACHE=0`, `jaxann ... --no-compile-cache` or `use_program_store(False)`,
and off while the user has configured JAX's own cache (`jax_compilation_cache_dir`), which
then serves as they configured it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import pickle
import secrets
import sys
from pathlib import Path

import jax

from jaxann.files import atomic_write, cache_dir

STORE_FORMAT = b"jaxann-program-2\n"  # first bytes of a stored program; a new layout, a new number
STORE_LIMIT = 1 << 30  # bytes the store keeps by default (JAXANN_COMPILE_CACHE_MAX)
KEY_FILE = "program-store.key"  # in the cache root: this user's key for signing stored programs
SIGNATURE = 32  # bytes of HMAC-SHA256 after STORE_FORMAT
_STORE_ON = True
_ENVIRONMENT: str | None = None
_STORES: dict = {}  # folder -> its signing key, or None when the folder is not safe to use (warned once)
_BAD_LIMITS: set = set()  # JAXANN_COMPILE_CACHE_MAX values already warned about


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


@functools.cache
def xla_flags() -> str:
    """XLA_FLAGS as XLA read them: once, when this process started its backend."""
    return os.environ.get("XLA_FLAGS", "")


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
                             source.hexdigest(), xla_flags(), device.platform,
                             device.device_kind, jax.device_count(), processor))
    return _ENVIRONMENT


def stored_path(folder: str, name: str, full_key: tuple, device) -> Path | None:
    """The file in the store of the program named name with this full key, compiled for
    device; None when the key has no stable text (an object shown by its address)."""
    text = repr(full_key)
    if " at 0x" in text:
        return None
    digest = hashlib.sha256((text + repr(device) + _environment()).encode()).hexdigest()[:40]
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


def store_key(folder: str) -> bytes | None:
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


def _signature(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def load(path: Path, key: bytes, device):
    """The program stored at path, loaded onto device, or None: absent; or not signed with this user's key
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
        program = deserialize_and_load(*pickle.loads(payload), execution_devices=[device])
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: the store removes the programs used longest ago first
        return program
    except Exception:  # signed by us, but not loadable here (another jaxlib build, say)
        path.unlink(missing_ok=True)
        return None


def save(path: Path, program, key: bytes) -> None:
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

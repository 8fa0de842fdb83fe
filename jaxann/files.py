"""Writing files so that a crash never leaves a half-written one under the real name.

    atomic_write(path, write)    write(file) into a temporary beside path, then rename it
    remove_leftovers(path)       delete the temporaries a writer killed mid-write left

Every file jaxann writes (data downloads, checkpoints, parameters, metrics) goes through
`atomic_write`.
"""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """jaxann's cache root: $JAXANN_CACHE_DIR, else ~/.cache/jaxann (downloaded and parsed
    data sets, compiled programs)."""
    return Path(os.environ.get("JAXANN_CACHE_DIR") or Path.home() / ".cache" / "jaxann")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# the mode open() would give a new file (0644 under the usual umask 022); mkstemp's own is 0600
FILE_MODE = 0o666 & ~_umask()


def atomic_write(path, write, mode: int | None = None) -> Path:
    """Call write(binary file object) on a temporary file beside path, then rename it to
    path (with `mode`, default the mode a plain open() would give it). If write raises, the
    temporary is deleted and path is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE if mode is None else mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def check_writable(path, what: str = "") -> None:
    """Refuse, before any work, a path whose folder cannot be made or written to."""
    from jaxann.errors import JaxannError

    folder = Path(path).parent if what != "folder" else Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise JaxannError(f"cannot write {path}: {e.strerror or e}") from None
    if not os.access(folder, os.W_OK):
        raise JaxannError(f"cannot write {path}: {folder} is not writable")
    try:  # the access bits do not tell (root, read-only mounts, /proc): make a file there, then delete it
        tempfile.NamedTemporaryFile(dir=folder, prefix=".jaxann-check-").close()
    except OSError as e:
        raise JaxannError(f"cannot write {path}: {e.strerror or e}") from None


def remove_leftovers(path) -> list[Path]:
    """Delete the temporary files that a writer of path killed mid-write (SIGKILL) left behind.

    Call it before a run starts writing path: the temporaries of a live writer of the same
    file would go too.
    """
    path = Path(path)
    leftovers = sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return leftovers

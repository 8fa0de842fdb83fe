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


def atomic_write(path, write) -> Path:
    """Call write(binary file object) on a temporary file beside path, then rename it to
    path. If write raises, the temporary is deleted and path is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


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

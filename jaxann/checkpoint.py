"""Saving and loading parameters.

    save_params(path, params)      a .npz file holding W1, b1, ..., WL, bL
    params = load_params(path)     the same tuple of {"W", "b"} layers back

Files are written to a temporary name beside the target and renamed into place, so an
interrupted save never leaves a half-written file under the real name.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxann.errors import JaxannError


def atomic_write(path, write) -> Path:
    """Call write(file object) on a temporary file beside path, then rename it to path."""
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


def save_params(path, params) -> Path:
    """Save params (a tuple of {"W", "b"} layers) as W1, b1, ..., WL, bL in a .npz file."""
    arrays = {}
    for l, layer in enumerate(params, start=1):
        arrays[f"W{l}"] = np.asarray(layer["W"])
        arrays[f"b{l}"] = np.asarray(layer["b"])
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def load_params(path) -> tuple:
    """Load parameters saved by `save_params` (and by `jaxann train --out DIR`: DIR/params.npz).

    Raises JaxannError for a missing, unreadable or malformed file.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise JaxannError(f"{path}: not a jaxann parameter file ({e})") from None
    L = len(arrays) // 2
    if L == 0 or set(arrays) != {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}:
        raise JaxannError(f"{path}: expected arrays W1, b1, ..., WL, bL; found {sorted(arrays)}")
    params = tuple({"W": jnp.asarray(arrays[f"W{l}"]), "b": jnp.asarray(arrays[f"b{l}"])} for l in range(1, L + 1))
    for l, layer in enumerate(params, start=1):
        W, b = layer["W"], layer["b"]
        if W.ndim != 2 or b.shape != (W.shape[1],) or (l > 1 and params[l - 2]["W"].shape[1] != W.shape[0]):
            raise JaxannError(f"{path}: layer {l} has W {W.shape} and b {b.shape}, which do not chain")
    return params

"""Saving and loading parameters, and checkpoints that resume a run exactly.

    save_params(path, params)      a .npz file holding W1, b1, ..., WL, bL
    params = load_params(path)     the same tuple of {"W", "b"} layers back
    save_params(path, params, about), params, about = read_params(path)
        a saved model: the same arrays and a `model` entry, the JSON description below
        (`jaxann.model.Model` is the object that uses it; a file of W and b only reads
        back with about None)

    save_checkpoint(path, progress, config, sizes)
    progress = load_checkpoint(path, config, sizes)
    save_sweep(path, sweep_progress), sweep_progress = load_sweep(path)   a whole sweep
        one .npz file: every array of the run's `Progress` (parameters, optimizer state,
        the stopping rule's best parameters) and, as JSON, its epoch count, history,
        samples seen, stopping-rule memory and the run's configuration. The random state
        is (config.seed, epoch), from which every epoch's row order is recomputed, and,
        with dropout, the mask stream's step count in the saved state.

A saved model's description (MODEL_FORMAT), JSON:

    format          "jaxann-model-1"
    jaxann_version  the version that wrote it
    sizes           layer sizes [n_0, ..., n_L]
    activation      the hidden layers' activation, or a list of one per hidden layer
                    (`jaxann.activations`)
    loss            the cost it was trained on (`jaxann.losses`)
    output          the output link: "softmax", "logistic", "identity" or "exp"
    task            "multiclass", "binary", "multilabel" or "regression"
    classes         the class labels in output order (null for regression)
    input_divisor   features = input / input_divisor (e.g. 255 for pixels as stored);
                    null: the inputs are the features
    grad            the learning rule it was trained by (`jaxann.deltas.GRADS`)
    config          the training run's settings (`TrainConfig.to_dict`), or null

Files are written through `jaxann.files.atomic_write`, so an interrupted save never leaves
a half-written file under the real name.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.config import TrainConfig
from jaxann.errors import JaxannError
from jaxann.files import atomic_write
from jaxann.loop import History, Member, Progress
from jaxann.program import initial_state
from jaxann.rules import Stopping
from jaxann.sweep import SweepProgress

FORMAT = "jaxann-checkpoint-2"  # a new state layout, a new number
MODEL_FORMAT = "jaxann-model-1"
MODEL_KEYS = ("format", "jaxann_version", "sizes", "activation", "loss", "output", "task", "classes",
              "input_divisor", "grad", "config")
TASKS = ("multiclass", "binary", "multilabel", "regression")
# what reading a damaged .npz can raise (a mutated zip header can even name an unknown
# compression method or zip version, NotImplementedError, or claim encryption, RuntimeError)
UNREADABLE = (OSError, ValueError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error)
# settings a run may change when it resumes: how long it goes on
RESUMABLE_CHANGES = ("epochs",)


def save_params(path, params, about: dict | None = None) -> Path:
    """Save params (a tuple of {"W", "b"} layers) as W1, b1, ..., WL, bL in a .npz file;
    with about (a saved model's description, MODEL_KEYS less format and version), also
    the `model` entry."""
    arrays = {}
    for l, layer in enumerate(params, start=1):
        arrays[f"W{l}"] = np.asarray(layer["W"])
        arrays[f"b{l}"] = np.asarray(layer["b"])
    if about is not None:
        from jaxann.version import version

        about = {"format": MODEL_FORMAT, "jaxann_version": version(), **about}
        _check_about(path, about, [layer["W"].shape for layer in params])
        arrays["model"] = np.frombuffer(json.dumps(about).encode(), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def load_params(path) -> tuple:
    """Load parameters saved by `save_params` (and by `jaxann train --out DIR`: DIR/params.npz).

    Raises JaxannError for a missing, unreadable or malformed file.
    """
    return read_params(path)[0]


def read_params(path) -> tuple[tuple, dict | None]:
    """(the parameters, the model's description) saved at path; the description is None
    for a file of W and b only (written by jaxann 0.1.0 and `save_params` without about).

    Raises JaxannError for a missing, unreadable or malformed file.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        about = json.loads(arrays.pop("model").tobytes().decode()) if "model" in arrays else None
    except UNREADABLE as e:
        raise JaxannError(f"{path}: not a jaxann parameter file ({e})") from None
    L = len(arrays) // 2
    if L == 0 or set(arrays) != {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}:
        raise JaxannError(f"{path}: expected arrays W1, b1, ..., WL, bL; found {sorted(arrays)}")
    # NumPy, in the dtype saved (a Model computes in it: `jaxann.model.Model`)
    params = tuple({"W": arrays[f"W{l}"], "b": arrays[f"b{l}"]} for l in range(1, L + 1))
    for l, layer in enumerate(params, start=1):
        W, b = layer["W"], layer["b"]
        if W.ndim != 2 or b.shape != (W.shape[1],) or (l > 1 and params[l - 2]["W"].shape[1] != W.shape[0]):
            raise JaxannError(f"{path}: layer {l} has W {W.shape} and b {b.shape}, which do not chain")
    if about is not None:
        _check_about(path, about, [layer["W"].shape for layer in params])
    return params, about


def _check_about(path, about, shapes) -> None:
    """Refuse a model description that is not MODEL_FORMAT's or does not fit the arrays."""
    if not isinstance(about, dict) or about.get("format") != MODEL_FORMAT:
        found = about.get("format") if isinstance(about, dict) else None
        raise JaxannError(f"{path}: its model entry has format {found!r}; expected {MODEL_FORMAT!r} "
                          "(written by a newer jaxann?)")
    missing = [k for k in MODEL_KEYS if k not in about]
    if missing:
        raise JaxannError(f"{path}: its model entry lacks {', '.join(missing)}")
    sizes = [shapes[0][0], *(shape[1] for shape in shapes)]
    if list(about["sizes"]) != sizes:
        raise JaxannError(f"{path}: its model entry says layer sizes {about['sizes']}, its arrays {sizes}")
    if about["task"] not in TASKS:
        raise JaxannError(f"{path}: unknown task {about['task']!r}; expected one of: {', '.join(TASKS)}")
    classes = about["classes"]
    n_L = sizes[-1]
    if about["task"] != "regression" and (
            not isinstance(classes, list) or len(classes) != (2 if about["task"] == "binary" else n_L)):
        raise JaxannError(f"{path}: its model entry names classes {classes!r} for {n_L} outputs")


class CheckpointError(JaxannError):
    """A checkpoint that cannot be read, or that belongs to another run."""


def _trees(progress: Progress):
    return (progress.state, progress.stopping.best_params)


def save_checkpoint(path, progress: Progress, config: TrainConfig, sizes) -> Path:
    """Write the run's progress to path (.npz), atomically: a crash leaves the old one whole."""
    leaves = jax.tree.leaves(_trees(progress))
    stopping = progress.stopping
    meta = {
        "format": FORMAT,
        "config": config.to_dict(),
        "sizes": list(sizes),
        "epoch": progress.epoch,
        "history": progress.history.to_dict(),
        "samples_seen": progress.samples_seen,
        "best_loss": stopping.best_loss,
        "best_score": stopping.best_score,
        "has_best_params": stopping.best_params is not None,
        "no_improvement": stopping.no_improvement,
    }
    arrays = {f"leaf_{i}": np.asarray(a) for i, a in enumerate(leaves)}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def load_checkpoint(path, config: TrainConfig, sizes) -> Progress:
    """The Progress saved at path, checked against this run's config and layer sizes.

    Raises CheckpointError for a file that is not a jaxann checkpoint (missing, truncated,
    corrupt) or that was written by a run with other settings (another architecture,
    optimizer, seed, ...); only `epochs` may differ.
    """
    try:
        arrays, meta = _read(path, FORMAT)
        saved_config, saved_sizes = meta["config"], meta["sizes"]
        epoch, samples_seen = int(meta["epoch"]), int(meta["samples_seen"])
        history = History.from_dict(meta["history"])
        best_loss, best_score = float(meta["best_loss"]), float(meta["best_score"])
        no_improvement, has_best = int(meta["no_improvement"]), bool(meta["has_best_params"])
    except CheckpointError:
        raise
    except UNREADABLE + (KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a readable jaxann checkpoint ({e})") from None
    ours = config.to_dict()
    differ = [k for k in ours if k not in RESUMABLE_CHANGES and saved_config.get(k) != ours[k]]
    if list(saved_sizes) != list(sizes):
        differ.insert(0, "sizes")
        saved_config, ours = saved_config | {"sizes": saved_sizes}, ours | {"sizes": list(sizes)}
    if differ:
        what = ", ".join(f"{k}={saved_config.get(k)!r} (this run: {ours[k]!r})" for k in differ)
        raise CheckpointError(f"{path} was written by another run: {what}; resume with the same "
                              "settings, or train into another --out folder")
    template = _template(config, sizes)
    trees = (template, template.params if has_best else None)
    expected, treedef = jax.tree.flatten(trees)
    leaves = [arrays.get(f"leaf_{i}") for i in range(len(expected))]
    if len(arrays) != len(expected) or any(
            a is None or a.shape != e.shape or a.dtype != e.dtype for a, e in zip(leaves, expected)):
        raise CheckpointError(f"{path}: its arrays do not fit the network {'-'.join(map(str, sizes))}; "
                              "the file is corrupt or from another version")
    if not 0 <= epoch <= config.epochs or len(history.loss) != epoch:
        raise CheckpointError(f"{path}: it records {epoch} epochs and {len(history.loss)} losses; "
                              f"expected 0..{config.epochs} epochs with one loss each")
    # NumPy in the dtype saved: the run places them on its device(s), in its own precision
    state, best_params = jax.tree.unflatten(treedef, leaves)
    return Progress(epoch, state, history, samples_seen, Stopping(best_loss, best_score, best_params, no_improvement))


SWEEP_FORMAT = "jaxann-sweep-checkpoint-2"


def save_sweep(path, progress) -> Path:
    """Write a sweep's `jaxann.sweep.SweepProgress` to path (.npz), atomically: every
    program's stacked arrays (state, best validation parameters) and, as JSON, the member
    configs, each model's record (epochs, history, samples seen, stopping memory, learning
    rate) and the records a compacted program holds."""
    arrays, groups = {}, []
    for g, saved in enumerate(progress.groups):
        if saved is None:
            groups.append(None)
            continue
        indices, records, state, best, program = saved
        arrays.update({f"g{g}_leaf_{i}": np.asarray(a) for i, a in enumerate(jax.tree.leaves((state, best)))})
        groups.append({
            "indices": list(indices),
            "program": None if program is None else [int(p) for p in program],
            "sizes": [int(np.shape(state.params[0]["W"])[1])] + [int(np.shape(layer["W"])[2]) for layer in state.params],
            "has_best": best is not None,
            "records": [{"epoch": r.epoch, "history": r.history.to_dict(), "samples_seen": r.samples_seen,
                         "best_loss": r.stopping.best_loss, "best_score": r.stopping.best_score,
                         "no_improvement": r.stopping.no_improvement, "lr": r.lr, "diverged": r.diverged}
                        for r in records],
        })
    meta = {"format": SWEEP_FORMAT, "configs": [c.to_dict() for c in progress.configs], "groups": groups}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez(f, **arrays))


def load_sweep(path):
    """The `jaxann.sweep.SweepProgress` saved at path; CheckpointError for a file that is not
    a sweep checkpoint or whose arrays do not fit its own records (fit_many checks that its
    members are the checkpoint's)."""
    try:
        arrays, meta = _read(path, SWEEP_FORMAT)
        configs = [TrainConfig.from_dict(c) for c in meta["configs"]]
        groups = []
        for g, saved in enumerate(meta["groups"]):
            if saved is None:
                groups.append(None)
                continue
            indices, sizes = [int(i) for i in saved["indices"]], [int(n) for n in saved["sizes"]]
            records = [Member(configs[i], int(r["epoch"]), History.from_dict(r["history"]), int(r["samples_seen"]),
                              Stopping(float(r["best_loss"]), float(r["best_score"]), None, int(r["no_improvement"])),
                              float(r["lr"]), diverged=bool(r["diverged"]))
                       for i, r in zip(indices, saved["records"], strict=True)]
            template = _template(configs[indices[0]], sizes)
            trees = (template, template.params if saved["has_best"] else None)
            expected, treedef = jax.tree.flatten(trees)
            leaves = [arrays.pop(f"g{g}_leaf_{i}", None) for i in range(len(expected))]
            K = len(indices)
            if any(a is None or a.shape != (K, *e.shape) or a.dtype != e.dtype for a, e in zip(leaves, expected)):
                raise ValueError(f"the arrays of program {g + 1} do not fit {K} networks "
                                 f"{'-'.join(map(str, sizes))}")
            state, best = jax.tree.unflatten(treedef, leaves)
            program = saved.get("program")  # absent from checkpoints older than compaction
            if program is not None and not all(isinstance(p, int) and p >= 0 for p in program):
                raise ValueError(f"program {g + 1}'s compacted models {program!r} are not record numbers")
            groups.append((indices, records, state, best, program))
        if arrays:
            raise ValueError(f"arrays {sorted(arrays)[:3]} belong to no program")
    except CheckpointError:
        raise
    except UNREADABLE + (KeyError, TypeError, IndexError) as e:
        raise CheckpointError(f"{path}: not a readable jaxann sweep checkpoint ({e})") from None
    return SweepProgress(configs, groups)


def _read(path, format: str):
    """(the arrays, the JSON meta) of a checkpoint file of this format; ValueError (or what
    reading a damaged .npz raises) otherwise."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    if not isinstance(meta, dict) or meta.get("format") != format:
        raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else None!r}, expected {format!r}")
    return arrays, meta


def _template(config: TrainConfig, sizes):
    """A state's tree, shapes and dtypes, built on the host from zero parameters (nothing compiles)."""
    dtype = jnp.dtype(config.dtype)
    zeros = tuple({"W": np.zeros((n_in, n_out), dtype), "b": np.zeros(n_out, dtype)}
                  for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    return initial_state(config, list(sizes), zeros)

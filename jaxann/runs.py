"""The run folder that `jaxann train --out DIR` writes, and the metrics schema.

    DIR/checkpoint.npz   during training: the run's Progress (`jaxann.checkpoint`)
    DIR/params.npz       after training: the model, parameters and description (`jaxann.model`)
    DIR/metrics.json     after training: `metrics(...)`, read back by `read_metrics`
    DIR/loss_curve.png   after training: the loss curve

and the folder of `jaxann sweep --out DIR`:

    DIR/checkpoint.npz   during the sweep: its SweepProgress (`jaxann.checkpoint.save_sweep`)
    DIR/results.csv      after it: one row per model (`jaxann.sweep.SweepResult.to_csv`)
    DIR/metrics.json     after it: a list of `metrics(...)`, one per model

A folder that already holds a run is never written into by accident: `claim` refuses it
unless the run is continued (--resume) or replaced (--overwrite: its files are deleted
first, so the folder never mixes two runs).

This module is the one owner of these layouts and of the metrics' keys: the command line
writes through it, `jaxann plot history` and `jaxann runs` read through it (`find_runs`,
`summary`). Every file is written by `jaxann.files.atomic_write`. Importing it loads no
JAX, so listing runs is quick.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from jaxann.config import TrainConfig, differing
from jaxann.errors import JaxannError
from jaxann.files import atomic_write, remove_leftovers

CHECKPOINT, PARAMS, METRICS, LOSS_CURVE = "checkpoint.npz", "params.npz", "metrics.json", "loss_curve.png"


def metrics(config: TrainConfig, history, *, train_accuracy: float, test_accuracy: float,
            fit_seconds: float, compile_seconds: float, **extra) -> dict:
    """A run's metrics, as `--metrics FILE` and DIR/metrics.json hold them (extra keys after
    the common ones: the data set, the number of devices, a sweep member's settings);
    history: the run's `jaxann.loop.History`."""
    from jaxann.placement import device_name

    return {
        "train_accuracy": train_accuracy,
        "test_accuracy": test_accuracy,
        "loss_curve": history.loss,
        "fit_seconds": fit_seconds,
        "compile_seconds": compile_seconds,
        "device": device_name(),
        "config": config.to_dict(),
        # each epoch's validation loss (`jaxann.loop.History`); empty without a validation set
        "validation_loss_curve": history.validation_loss,
        **extra,
        "n_iter": len(history.loss),
        "history": history.to_dict(),
    }


def write_json(path, obj) -> None:
    """obj as indented JSON at path; a path that cannot be written is a JaxannError."""
    try:
        atomic_write(path, lambda f: f.write(json.dumps(obj, indent=2).encode()))
    except OSError as e:
        raise JaxannError(f"cannot write {path}: {e.strerror or e}") from None


def save_figure(path, draw) -> None:
    """draw() -> a matplotlib Figure, saved to path as PNG (Agg backend), then closed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = draw()
    try:
        fig.savefig(path, dpi=100)
    except OSError as e:
        raise JaxannError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        plt.close(fig)


class _Folder:
    """What the two run folders share: their files, and `claim`."""

    FILES: tuple = ()

    def __init__(self, path):
        self.path = Path(path)
        self.checkpoint = self.path / CHECKPOINT

    def existing(self) -> list[str]:
        """The names of this layout's files the folder holds now."""
        return [name for name in self.FILES if (self.path / name).is_file()]

    def claim(self, *, resume: bool, overwrite: bool) -> list[str]:
        """Make the folder ready for a run: JaxannError when it holds a run and neither
        resume nor overwrite is set; with overwrite, that run's files deleted (their names
        returned)."""
        if resume and overwrite:
            raise JaxannError("--resume continues the run in --out and --overwrite replaces it: pass one")
        found = self.existing()
        if not found or resume:
            return []
        if not overwrite:
            raise JaxannError(f"{self.path} already holds a run ({', '.join(found)}); pass --resume to continue "
                              "it or --overwrite to replace it, or choose another --out folder")
        for name in found:
            (self.path / name).unlink()
        return found


class RunFolder(_Folder):
    """The folder of one `jaxann train --out DIR` run."""

    FILES = (CHECKPOINT, PARAMS, METRICS, LOSS_CURVE)

    def remove_leftovers(self) -> list[Path]:
        """Delete the temporaries that a run killed while writing its files left behind."""
        return [leftover for name in (CHECKPOINT, PARAMS, METRICS) for leftover in remove_leftovers(self.path / name)]

    def save(self, model, run_metrics: dict, draw_loss_curve) -> None:
        """The finished run's model (a `jaxann.model.Model`), metrics and loss-curve figure
        (draw_loss_curve() -> a matplotlib Figure: the figures are the command line's to draw)."""
        from jaxann.model import save_model

        try:
            self.path.mkdir(parents=True, exist_ok=True)
            save_model(self.path / PARAMS, model)
        except OSError as e:
            raise JaxannError(f"cannot write to {self.path}: {e.strerror or e}") from None
        write_json(self.path / METRICS, run_metrics)
        save_figure(self.path / LOSS_CURVE, draw_loss_curve)

    def read_metrics(self) -> dict:
        """DIR/metrics.json, its history under `History`'s keys (older runs' files say
        'validation_accuracy'); JaxannError when it is missing or not a run's."""
        from jaxann.loop import History

        path = self.path / METRICS
        try:
            values = json.loads(path.read_text())
            values["history"] = History.from_dict(values["history"]).to_dict()
            values["config"]["lr"], values["test_accuracy"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise JaxannError(f"{path}: not the metrics of a `jaxann train --out` run ({e})") from None
        return values


class SweepFolder(_Folder):
    """The folder of one `jaxann sweep --out DIR` sweep."""

    RESULTS = "results.csv"
    FILES = (CHECKPOINT, RESULTS, METRICS)

    def remove_leftovers(self) -> list[Path]:
        """Delete the temporaries that a sweep killed while writing its files left behind."""
        return [leftover for name in (CHECKPOINT, self.RESULTS, METRICS)
                for leftover in remove_leftovers(self.path / name)]

    def save(self, result, entries: list) -> None:
        """The finished sweep's table and per-model metrics."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            result.to_csv(self.path / self.RESULTS)
        except OSError as e:
            raise JaxannError(f"cannot write to {self.path}: {e.strerror or e}") from None
        write_json(self.path / METRICS, entries)


def find_runs(folders) -> list[tuple[str, dict]]:
    """(name, metrics) of every run in or under the folders: a train run's metrics.json
    (name: its folder), each model of a sweep's (name: the folder and [model]). JaxannError
    for a folder that does not exist, or when none holds a run."""
    found = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise JaxannError(f"{folder} is not a folder")
        for path in sorted(folder.rglob(METRICS)):
            try:
                values = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # not a run's file: a run folder's metrics.json is written whole
            entries = values if isinstance(values, list) else [values]
            if not all(isinstance(e, dict) and isinstance(e.get("config"), dict) for e in entries):
                continue
            when = path.stat().st_mtime
            for i, entry in enumerate(entries):
                name = str(path.parent) + (f"[{i}]" if isinstance(values, list) else "")
                found.append((name, entry | {"finished": when}))
    if not found:
        raise JaxannError(f"no runs (a metrics.json of jaxann train or sweep --out) under "
                          f"{', '.join(map(str, folders))}")
    return found


def settings(entry: dict) -> dict:
    """A run's settings as `summary` compares them: its config, and its data set."""
    return {"dataset": entry.get("dataset", {}).get("name")} | entry["config"]


def summary(runs) -> list[dict]:
    """One row per (name, metrics) of `find_runs`: the run, the settings that differ
    between the runs, the epochs (iterations) it ran (n_iter), training and test scores,
    training seconds, when it ended."""
    changed = differing([settings(m) for _, m in runs])
    return [{"run": name, **{k: settings(m).get(k) for k in changed}, "n_iter": m.get("n_iter"),
             "train": m.get("train_accuracy"), "test": m.get("test_accuracy"), "seconds": m.get("fit_seconds"),
             "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(m["finished"]))} for name, m in runs]

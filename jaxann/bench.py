"""Side-by-side timings of training systems: jaxann's own, and others registered by scripts.

`jaxann bench` times jaxann (autodiff and backprop; optionally vmapped models and data
parallelism). Runners for other libraries live outside the package, in the source
checkout's `benchmarks/runners.py` (scikit-learn, PyTorch); `python benchmarks/bench.py`
registers them (`register`) and runs the same command with their rows added.

Every system trains the same network (sizes, activation relu, SGD with Nesterov momentum,
the same learning rate, alpha, batch size and epochs) on the same float32 data, in one
process on one machine, and is timed from its first to its last training step:

    fit seconds      wall time of training only (jaxann: after compilation, which is
                     reported apart; results are read back before the clock stops)
    samples / s      n_train * epochs / fit seconds
    GFLOP/s          FLOPs / fit seconds, with the FLOPs counted from the architecture:
                     FLOPs = 6 * sum_l n_{l-1} n_l * n_train * epochs
                     (2 per weight for the forward product, 4 for the two backward ones)
    % of matmul      GFLOP/s over the float32 matmul rate measured on the same device in
                     the same run (`matmul_rate`)

A runner may raise `Skipped(note)` (PyTorch not installed, too few devices): its row says
so. Nothing here asserts a time.
"""

from __future__ import annotations

import importlib
import platform
import statistics
import time
from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxann.config import GRADS, TrainConfig
from jaxann.loop import fit
from jaxann.placement import device_name
from jaxann.predict import accuracy
from jaxann.program import forget_compiled_epochs

# timed by default; every gradient source and learning rule can be named ("jaxann-<grad>")
JAXANN_SYSTEMS = ("jaxann-autodiff", "jaxann-backprop")
JAXANN_RULES = tuple(f"jaxann-{g}" for g in GRADS if f"jaxann-{g}" not in JAXANN_SYSTEMS)
# other libraries' runners: name -> runner(data, config) -> Run, added by `register`
_REGISTERED: dict = {}


class Run(NamedTuple):
    """What one timed training run gives back (compile_seconds None: nothing compiled)."""

    fit_seconds: float
    compile_seconds: float | None
    train_accuracy: float
    test_accuracy: float
    note: str = ""


class Skipped(Exception):
    """A system that cannot run here; its message becomes the row's note."""


def register(name: str, runner) -> None:
    """Add another library's runner(data, config) -> Run to the systems `run` knows."""
    _REGISTERED[name] = runner


def systems(everything: bool = True) -> tuple:
    """The systems `run` can time: jaxann's (its learning rules too, unless `everything`
    is False: the default selection) and the registered ones."""
    return (*JAXANN_SYSTEMS, *(JAXANN_RULES if everything else ()), *_REGISTERED)


@dataclass
class BenchRow:
    system: str
    fit_seconds: float | None = None
    compile_seconds: float | None = None
    seconds_per_epoch: float | None = None
    samples_per_second: float | None = None
    train_accuracy: float | None = None
    test_accuracy: float | None = None
    gflops: float | None = None
    percent_of_matmul: float | None = None
    note: str = ""


def flops(sizes, n_samples: int, epochs: int) -> float:
    """6 * sum_l n_{l-1} n_l * n_samples * epochs: forward and backward products of training."""
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 6.0 * weights * n_samples * epochs


def matmul_rate(min_seconds: float = 0.02, max_n: int = 8192) -> tuple[float, int]:
    """(GFLOP/s, n): the best float32 rate of an n x n matmul on jax's default device.

    n doubles from 512 until one product takes at least `min_seconds` (so the device is
    busy, not waiting on dispatch) or reaches max_n; each size is timed as the best of 5.
    """
    best, best_n = 0.0, 0
    n = 512
    f = jax.jit(lambda a, b: a @ b)
    while True:
        a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
        f(a, a).block_until_ready()
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            f(a, a).block_until_ready()
            times.append(time.perf_counter() - t0)
        rate = 2 * n**3 / min(times) / 1e9
        if rate > best:
            best, best_n = rate, n
        if min(times) >= min_seconds or n >= max_n:
            return best, best_n
        n *= 2


def _jaxann(grad, data, config: TrainConfig, devices: int = 1, cold: bool = True):
    config = replace(config, grad=grad)
    if cold:  # time the compilation too, not a program kept from an earlier run
        forget_compiled_epochs()
    result = fit(config, data.x_train, data.y_train, n_out=data.n_classes, devices=devices)
    return Run(result.fit_seconds, result.compile_seconds,
               accuracy(result.params, data.x_train, data.y_train, config.activation),
               accuracy(result.params, data.x_test, data.y_test, config.activation))


def _jaxann_devices(data, config: TrainConfig, devices: int):
    if devices > jax.device_count():
        raise Skipped(f"skipped: {jax.device_count()} device(s) here; on a CPU, "
                      f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} makes {devices}")
    return _jaxann(config.grad, data, config, devices)


def _jaxann_sweep(data, config: TrainConfig, K: int):
    from jaxann.sweep import fit_many, grid

    forget_compiled_epochs()
    result = fit_many(grid(config, seed=[config.seed + i for i in range(K)]), data.x_train, data.y_train,
                      n_out=data.n_classes)
    return Run(result.fit_seconds, result.compile_seconds, float(np.mean(result.scores["train"])),
               float(np.mean(result.evaluate(data.x_test, data.y_test))))


def _jaxann_sequential(data, config: TrainConfig, K: int):
    # one after another, as a user would: the first compiles, the others reuse its program
    runs = [_jaxann(config.grad, data, replace(config, seed=config.seed + i), cold=i == 0) for i in range(K)]
    return Run(sum(r.fit_seconds for r in runs), sum(r.compile_seconds for r in runs),
               float(np.mean([r.train_accuracy for r in runs])), float(np.mean([r.test_accuracy for r in runs])))


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("jax", "jaxlib", "optax", "numpy", "sklearn", "torch"):
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = None
    return out


def run(data, config: TrainConfig, names=JAXANN_SYSTEMS, repeat: int = 1, progress=None, models: int = 1,
        devices: int = 1) -> dict:
    """Time each system `repeat` times on `data` (a `jaxann.data.Dataset`); medians per system.

    names: some of `systems()`. models K > 1 adds two rows: K models (seeds seed..seed+K-1)
    trained as one vmapped program (`jaxann.sweep`) and the same K trained one after
    another; devices N > 1 adds a row of data-parallel training over N devices. Their
    samples/s and GFLOP/s count all K models' work; their accuracies are the K models' mean.
    Returns {"rows": [BenchRow as dict], "matmul_gflops": ..., "flops": ..., ...}.
    progress(done, total, text), when given, is called before each of the
    len(systems) x repeat runs and once after the last.
    """
    config.validate()
    sizes = config.sizes(data.x_train.shape[1], data.n_classes)
    n, epochs = len(data.x_train), config.epochs
    total_flops = flops(sizes, n, epochs)
    rate, rate_n = matmul_rate()
    runners = {
        **{f"jaxann-{g}": (lambda g=g: _jaxann(g, data, config)) for g in GRADS},
        f"jaxann-{models}-vmapped": lambda: _jaxann_sweep(data, config, models),
        f"jaxann-{models}-in-turn": lambda: _jaxann_sequential(data, config, models),
        f"jaxann-{devices}-devices": lambda: _jaxann_devices(data, config, devices),
        **{name: (lambda runner=runner: runner(data, config)) for name, runner in _REGISTERED.items()},
    }
    names = list(names)
    if models > 1:
        names += [f"jaxann-{models}-vmapped", f"jaxann-{models}-in-turn"]
    if devices > 1:
        names.append(f"jaxann-{devices}-devices")
    rows, total = [], len(names) * repeat

    def timed(i, system):
        if progress:
            progress(i, total, f"{system}, run {i % repeat + 1} of {repeat}")
        return runners[system]()

    for s, system in enumerate(names):
        work = models if system.startswith(f"jaxann-{models}-") and models > 1 else 1
        try:
            runs = [timed(s * repeat + r, system) for r in range(repeat)]
        except Skipped as e:
            rows.append(BenchRow(system, note=str(e)))
            continue
        fit_s = statistics.median(r.fit_seconds for r in runs)
        compile_s = None if runs[0].compile_seconds is None else statistics.median(r.compile_seconds for r in runs)
        gflops = work * total_flops / fit_s / 1e9
        rows.append(BenchRow(
            system, fit_s, compile_s, fit_s / epochs, work * n * epochs / fit_s,
            statistics.median(r.train_accuracy for r in runs), statistics.median(r.test_accuracy for r in runs),
            gflops, 100 * gflops / rate, note=runs[0].note))
    if progress:
        progress(total, total, "done")
    return {
        "dataset": data.name,
        "source": data.source,
        "sizes": sizes,
        "n_train": n,
        "config": config.to_dict(),
        "repeat": repeat,
        "device": _device(),
        "versions": versions(),
        "matmul_gflops": rate,
        "matmul_n": rate_n,
        "flops": total_flops,
        "flops_formula": "6 * sum_l n_{l-1} n_l * n_train * epochs",
        "models": models,
        "devices": devices,
        "rows": [asdict(r) for r in rows],
    }


def _device() -> str:
    return f"{device_name()}; {platform.machine()}, {_cpu_count()} CPU cores"


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _fmt(value, spec):
    """value formatted by spec ("9.2f": width 9), or a right-aligned "-" for a missing one."""
    return format(value, spec) if value is not None else "-".rjust(int(spec.split(".")[0].rstrip(",")))


def table(report: dict) -> str:
    """The report as the text table `jaxann bench` prints (and the README shows)."""
    c = report["config"]
    w = max(18, *(len(r["system"]) for r in report["rows"]))  # the system column's width
    lines = [
        f"jaxann bench: {report['dataset']} ({report['n_train']} training rows, {report['source']}), "
        f"network {'-'.join(map(str, report['sizes']))} relu, sgd lr {c['lr']:g} momentum {c['momentum']:g}"
        f"{' nesterov' if c['nesterov'] else ''}, alpha {c['alpha']:g}, batch {c['batch_size'] or 'full'}, "
        f"{c['epochs']} epochs, median of {report['repeat']}",
        f"device: {report['device']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v),
        f"matmul rate: {report['matmul_gflops']:.0f} GFLOP/s (float32 {report['matmul_n']}x{report['matmul_n']}, "
        f"same device); FLOPs = {report['flops_formula']} = {report['flops'] / 1e9:.1f} GFLOP",
        "compile s: jaxann's cold compilation (the bench does not use the program store)",
        "",
        f"| {'system':<{w}} | {'compile s':>9} | {'fit s':>7} | {'s/epoch':>7} | {'samples/s':>10} | "
        f"{'train acc':>9} | {'test acc':>8} | {'GFLOP/s':>7} | {'% matmul':>8} |",
        "| " + " | ".join("-" * k for k in (w, 9, 7, 7, 10, 9, 8, 7, 8)) + " |",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['system']:<{w}} | {_fmt(r['compile_seconds'], '9.2f')} | {_fmt(r['fit_seconds'], '7.2f')} | "
            f"{_fmt(r['seconds_per_epoch'], '7.3f')} | {_fmt(r['samples_per_second'], '10,.0f')} | "
            f"{_fmt(r['train_accuracy'], '9.4f')} | {_fmt(r['test_accuracy'], '8.4f')} | "
            f"{_fmt(r['gflops'], '7.1f')} | {_fmt(r['percent_of_matmul'], '7.0f')}% |"
        )
    notes = [f"{r['system']}: {r['note']}" for r in report["rows"] if r["note"]]
    ratio = _ratios(report)
    return "\n".join(lines + ([""] if notes or ratio else []) + notes + ratio)


def _ratios(report: dict) -> list[str]:
    fit_s = {r["system"]: r["fit_seconds"] for r in report["rows"] if r["fit_seconds"]}
    out = []
    for base in ("jaxann-autodiff", "jaxann-backprop"):
        if base not in fit_s:
            continue
        parts = [f"{fit_s[base] / fit_s[other]:.2f}x {other}" for other in
                 ("scikit-learn", "pytorch", "jaxann-autodiff") if other in fit_s and other != base]
        if parts:
            out.append(f"{base} fit time = " + ", ".join(parts))
    K, N = report.get("models", 1), report.get("devices", 1)
    if f"jaxann-{K}-vmapped" in fit_s and f"jaxann-{K}-in-turn" in fit_s:
        out.append(f"{K} models vmapped in one program: {fit_s[f'jaxann-{K}-in-turn'] / fit_s[f'jaxann-{K}-vmapped']:.2f}x "
                   f"the throughput of training them one after another")
    if f"jaxann-{N}-devices" in fit_s and "jaxann-autodiff" in fit_s:
        out.append(f"{N} devices: {fit_s['jaxann-autodiff'] / fit_s[f'jaxann-{N}-devices']:.2f}x the throughput of one")
    return out

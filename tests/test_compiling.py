"""`jaxann.compiling`'s program store: a program compiled once is loaded by later
processes instead of being traced, lowered and compiled again, and trains bit for bit as a
fresh compilation does."""

import json
import os
import pickle
import subprocess
import sys
from collections import OrderedDict
from types import SimpleNamespace

import jax
import numpy as np
import pytest

from jaxann import compiling, program_store
from jaxann.config import TrainConfig
from jaxann.loop import fit


def train(tmp_path, name, *extra, store):
    metrics = tmp_path / f"{name}.json"
    r = subprocess.run([sys.executable, "-m", "jaxann", "train", "--epochs", "2", "--quiet", "--metrics",
                        str(metrics), *extra], capture_output=True, text=True,
                       env={**os.environ, "JAXANN_COMPILE_CACHE": str(store), "JAX_LOG_COMPILES": "1"})
    assert r.returncode == 0, r.stderr
    return json.loads(metrics.read_text()), r.stderr


def test_a_later_process_loads_the_stored_programs_and_trains_bit_for_bit(tmp_path):
    store = tmp_path / "programs"
    first, _ = train(tmp_path, "first", store=store)
    stored = sorted(path.name.split("-")[0] for path in store.iterdir())
    # the epoch, one prediction program per bucket of rows scored (training 2,048, test 512)
    assert sorted(first["compiled"]) == stored == ["epoch", "outputs", "outputs"]
    assert first["loaded"] == []
    second, log = train(tmp_path, "second", store=store)
    assert second["compiled"] == [] and second["compile_seconds"] == 0.0
    assert sorted(second["loaded"]) == stored and "Compiling" not in log  # nothing traced or compiled
    fresh, _ = train(tmp_path, "fresh", "--no-compile-cache", store=store)
    assert sorted(fresh["compiled"]) == stored and fresh["loaded"] == []
    for key in ("loss_curve", "train_accuracy", "test_accuracy"):
        assert first[key] == second[key] == fresh[key], key


def test_a_damaged_stored_program_is_compiled_and_stored_again(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXANN_COMPILE_CACHE", str(tmp_path))
    monkeypatch.setattr(compiling, "_KEPT", OrderedDict())
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(17, 3)), rng.integers(0, 3, size=17)
    config = TrainConfig(hidden=(4,), epochs=3, batch_size=5, validation_fraction=0.2)
    first = fit(config, x, y)
    assert first.compiled == ["epoch", "scores"] and first.loaded == []
    files = sorted(tmp_path.iterdir())
    assert [f.name.split("-")[0] for f in files] == ["epoch", "scores"]
    files[0].write_bytes(files[0].read_bytes()[:200])  # cut short
    files[1].write_bytes(b"something else entirely")
    compiling.forget()
    again = fit(config, x, y)
    assert again.compiled == ["epoch", "scores"] and again.loaded == []
    compiling.forget()
    loaded = fit(config, x, y)
    assert loaded.compiled == [] and loaded.loaded == ["epoch", "scores"]
    assert first.history.loss == again.history.loss == loaded.history.loss
    for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(loaded.params)):
        np.testing.assert_array_equal(a, b)


def run_python(code: str, **env) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    return r.stdout


FIT = """
import numpy as np
import pytest
from jaxann import compiling, program_store
from jaxann.config import TrainConfig
from jaxann.loop import fit
x, y = np.random.default_rng(0).normal(size=(17, 3)), np.arange(17) % 3
def fit_once():
    compiling.forget()
    return fit(TrainConfig(hidden=(4,), epochs=2, batch_size=5), x, y)
"""


def test_a_cache_the_user_configured_is_left_in_charge(tmp_path):
    store, theirs = tmp_path / "programs", tmp_path / "theirs"
    out = run_python("import jax; jax.config.update('jax_compilation_cache_dir', %r)\n" % str(theirs) + FIT +
                     "result = fit_once(); print(result.compiled, result.loaded, program_store.store_folder())",
                     JAXANN_COMPILE_CACHE=str(store))
    assert out.split() == ["['epoch']", "[]", "None"] and not store.exists()


def test_a_program_that_jax_own_cache_handed_back_is_never_stored(tmp_path):
    # such an executable serializes without its kernels' code and would fail when called
    store, theirs = tmp_path / "programs", tmp_path / "theirs"
    out = run_python(
        "import jax\n"
        "jax.config.update('jax_compilation_cache_dir', %r)\n" % str(theirs) +
        "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)\n"
        "jax.config.update('jax_persistent_cache_min_entry_size_bytes', 0)\n" + FIT +
        "fit_once()\n"  # compiled: JAX's cache now holds the program
        "jax.clear_caches()\n"
        "program_store.store_folder = lambda: %r\n" % str(store) +
        "result = fit_once()\n"  # JAX's cache answers; jaxann's store would otherwise take them
        "print(result.compiled, result.loaded)",
        JAXANN_COMPILE_CACHE=str(store))
    assert out.split() == ["['epoch']", "[]"]
    assert any(theirs.iterdir()) and not store.exists()


def test_jax_jit_is_called_only_by_the_stated_exceptions():
    # compiling.py's notes: every program of a fit, sweep, prediction or score goes through
    # `compiled`; the math functions users compose, and the measuring tools, jit their own
    import re
    from pathlib import Path

    import jaxann

    package = Path(jaxann.__file__).parent
    found = {}
    for path in sorted(package.rglob("*.py")):
        hits = re.findall(r"@jax\.jit\b|jax\.jit[,(]", path.read_text())
        if hits:
            found[str(path.relative_to(package))] = len(hits)
    assert found == {"compiling.py": 1, "network.py": 2, "deltas.py": 1, "per_example.py": 1,
                     "bench.py": 1, "experiments.py": 1}


PLANTED = """
import os, pickle
class Payload:
    def __reduce__(self):
        return (os.system, ("touch %s",))
"""


def test_a_planted_program_never_runs_and_is_compiled_anew(tmp_path):
    store, marker = tmp_path / "programs", tmp_path / "ran"
    first, _ = train(tmp_path, "first", store=store)
    # every stored file replaced by a pickle whose loading would run a command, with the
    # store's first line: the signature does not match, so nothing of it is unpickled
    namespace = {}
    exec(PLANTED % marker, namespace)
    blob = program_store.STORE_FORMAT + b"\0" * program_store.SIGNATURE + pickle.dumps(namespace["Payload"]())
    for path in store.iterdir():
        path.write_bytes(blob)
    second, log = train(tmp_path, "second", store=store)
    assert not marker.exists()
    assert sorted(second["compiled"]) == sorted(first["compiled"]) and second["loaded"] == []
    assert second["loss_curve"] == first["loss_curve"] and "warning" not in log
    third, _ = train(tmp_path, "third", store=store)  # stored again, signed: loaded
    assert third["compiled"] == [] and sorted(third["loaded"]) == sorted(first["compiled"])


def test_a_store_other_users_can_write_is_not_used(tmp_path):
    store = tmp_path / "programs"
    train(tmp_path, "first", store=store)
    store.chmod(0o777)
    again, log = train(tmp_path, "again", store=store)
    assert again["loaded"] == [] and again["compiled"]
    warnings = [line for line in log.splitlines() if line.startswith("jaxann: warning")]
    assert warnings == [f"jaxann: warning: not using the program store: {store}: other users can write it "
                        "(mode 777); compiling instead"]
    store.chmod(0o700)
    for path in store.iterdir():
        path.chmod(0o666)  # a file others can write is left alone, never loaded
    files, log = train(tmp_path, "files", store=store)
    assert files["loaded"] == [] and "other users can write it (mode 666)" in log


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to give a folder away")
def test_a_store_owned_by_another_user_is_not_used(tmp_path):
    store = tmp_path / "programs"
    train(tmp_path, "first", store=store)
    os.chown(store, 65534, 65534)
    again, log = train(tmp_path, "again", store=store)
    assert again["loaded"] == [] and "it is owned by user 65534, not you" in log


def test_the_store_keeps_its_size_removing_the_programs_used_longest_ago(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JAXANN_COMPILE_CACHE", str(tmp_path))
    monkeypatch.setattr(compiling, "_KEPT", OrderedDict())
    x, y = np.random.default_rng(0).normal(size=(17, 3)), np.arange(17) % 3
    fit(TrainConfig(hidden=(4,), epochs=1, batch_size=5, validation_fraction=0.3), x, y)
    files = program_store.stored_programs(tmp_path)
    sizes = {p.name.split("-")[0]: p.stat().st_size for p in files}
    assert sorted(sizes) == ["epoch", "scores"]
    os.utime(next(p for p in files if p.name.startswith("scores")), (1, 1))  # used long ago
    # room for two epoch programs (theirs differ by a few hundred bytes) and half the scores
    # program: the next epoch program stored pushes out the oldest (scores), and only it
    limit = 2 * sizes["epoch"] + sizes["scores"] // 2
    monkeypatch.setenv("JAXANN_COMPILE_CACHE_MAX", str(limit))
    fit(TrainConfig(hidden=(4,), epochs=1, batch_size=6), x, y)
    names = [p.name.split("-")[0] for p in program_store.stored_programs(tmp_path)]
    assert names == ["epoch", "epoch"], names
    assert program_store.store_limit() == limit
    monkeypatch.setenv("JAXANN_COMPILE_CACHE_MAX", "2G")
    assert program_store.store_limit() == 2 << 30
    monkeypatch.setenv("JAXANN_COMPILE_CACHE_MAX", "lots")
    assert program_store.store_limit() == program_store.STORE_LIMIT
    assert capsys.readouterr().err.count("JAXANN_COMPILE_CACHE_MAX='lots' is not a size") == 1


def test_cache_command_shows_and_clears_each_part(tmp_path, monkeypatch, capsys):
    from jaxann.cli import main

    store, root = tmp_path / "programs", tmp_path / "cache"
    monkeypatch.setenv("JAXANN_COMPILE_CACHE", str(store))
    monkeypatch.setenv("JAXANN_CACHE_DIR", str(root))
    store.mkdir()
    (store / "epoch-abc.bin").write_bytes(b"x" * 2048)
    (root / "parsed").mkdir(parents=True)
    (root / "parsed" / "a.npy").write_bytes(b"y" * 10)
    (root / "mnist").mkdir()
    (root / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"z")
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"| programs  |     1 |    2.0 K | {store} |" in out and "| parsed    |     1 |     10 B |" in out
    assert "| downloads |     1 |      1 B |" in out
    assert main(["cache", "--clear", "programs"]) == 0
    out = capsys.readouterr().out
    assert "Removed 1 file of programs" in out and "| programs  |     0 |      0 B |" in out
    assert (root / "parsed" / "a.npy").exists()
    assert main(["cache", "--clear", "all"]) == 0
    assert not any(root.rglob("*.npy")) and not any(root.rglob("*.gz"))


class _Lowered:
    """A lowered program that records the options it is compiled with; it refuses them
    all when `known` is False, as a jaxlib without the option does."""

    def __init__(self, calls, known=True):
        self.calls, self.known = calls, known

    def compile(self, compiler_options=None):
        if compiler_options and not self.known:
            raise RuntimeError(f"INVALID_ARGUMENT: No such compile option: {next(iter(compiler_options))!r}")
        self.calls.append(compiler_options)
        return "program"


def test_small_cpu_programs_compile_with_the_loop_emitters_unless_xla_flags_names_them(monkeypatch, fresh_programs):
    program, _ = compiling.compiled("double", lambda: (lambda x: 2 * x), (np.ones(3),), key="options")
    assert compiling._CPU_OPTIONS_KNOWN  # this jaxlib took CPU_OPTIONS
    np.testing.assert_array_equal(program(np.ones(3)), 2.0)
    calls = []
    monkeypatch.setattr(compiling, "_device", lambda: SimpleNamespace(platform="cpu"))
    monkeypatch.setattr(program_store, "xla_flags", lambda: "--xla_force_host_platform_device_count=2")
    compiling._compile(_Lowered(calls), compiling.SMALL_PROGRAM - 1)
    compiling._compile(_Lowered(calls), compiling.SMALL_PROGRAM)  # large: XLA's defaults
    monkeypatch.setattr(program_store, "xla_flags", lambda: "--xla_cpu_use_fusion_emitters=true")
    compiling._compile(_Lowered(calls), 10)
    monkeypatch.setattr(compiling, "_device", lambda: SimpleNamespace(platform="gpu"))
    monkeypatch.setattr(program_store, "xla_flags", lambda: "")
    compiling._compile(_Lowered(calls), 10)
    assert calls == [{"xla_cpu_use_fusion_emitters": False}, None, None, None]


def test_a_jaxlib_without_the_options_compiles_with_its_own(monkeypatch):
    monkeypatch.setattr(compiling, "_CPU_OPTIONS_KNOWN", True)
    monkeypatch.setattr(compiling, "_device", lambda: SimpleNamespace(platform="cpu"))
    monkeypatch.setattr(program_store, "xla_flags", lambda: "")
    calls = []
    assert compiling._compile(_Lowered(calls, known=False), 10) == "program"
    assert calls == [None] and not compiling._CPU_OPTIONS_KNOWN
    compiling._compile(_Lowered(calls, known=False), 10)  # not asked again
    assert calls == [None, None]

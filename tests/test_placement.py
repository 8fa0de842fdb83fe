"""Data parallelism over devices, in one process and over two processes (jax.distributed)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest


def run_with_devices(n, *args):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
    return subprocess.run([sys.executable, "-m", "jaxann", *args], capture_output=True, text=True, env=env)


def test_data_parallel_training_equals_one_device(tmp_path):
    one, four = tmp_path / "one.json", tmp_path / "four.json"
    common = ["train", "--epochs", "4", "--batch-size", "100", "--quiet", "--no-compile-cache"]
    r1 = run_with_devices(4, *common, "--metrics", str(one))
    r4 = run_with_devices(4, *common, "--devices", "4", "--metrics", str(four))
    assert r1.returncode == 0 and r4.returncode == 0, r4.stderr
    a, b = json.loads(one.read_text()), json.loads(four.read_text())
    assert b["devices"] == 4 and "4 devices" in b["device"]
    # float32: the gradient summed over four shards in another order; measured 6e-8
    np.testing.assert_allclose(a["loss_curve"], b["loss_curve"], rtol=1e-5)
    assert abs(a["test_accuracy"] - b["test_accuracy"]) <= 0.005


@pytest.mark.parametrize("devices,batch,message", [
    ("8", "100", "8 devices asked for, 4 available"),
    ("3", "100", "batch size 100 is not a multiple of 3 devices"),
])
def test_bad_device_counts_are_refused(devices, batch, message):
    r = run_with_devices(4, "train", "--devices", devices, "--batch-size", batch, "--quiet")
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_as_one(tmp_path):
    # two local processes, one CPU device each, joined by jax.distributed over 127.0.0.1
    # (CPU collectives through gloo): each batch is split over the two processes' devices
    common = ["train", "--epochs", "3", "--batch-size", "100", "--quiet", "--no-compile-cache"]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_COORDINATOR_ADDRESS"] = f"127.0.0.1:{free_port()}"
    procs = [subprocess.Popen([sys.executable, "-m", "jaxann", *common, "--devices", "2", "--distributed",
                               "--num-processes", "2", "--process-id", str(i),
                               "--metrics", str(tmp_path / f"p{i}.json")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    single = subprocess.run([sys.executable, "-m", "jaxann", *common, "--metrics", str(tmp_path / "one.json")],
                            env={k: v for k, v in env.items() if k != "JAX_COORDINATOR_ADDRESS"},
                            capture_output=True, text=True)
    assert single.returncode == 0, single.stderr
    one = json.loads((tmp_path / "one.json").read_text())
    for i in range(2):
        m = json.loads((tmp_path / f"p{i}.json").read_text())
        assert m["devices"] == 2 and "2 devices" in m["device"]
        # float32: the gradient summed over two processes in another order; measured 6e-8
        np.testing.assert_allclose(m["loss_curve"], one["loss_curve"], rtol=1e-5)
        assert abs(m["test_accuracy"] - one["test_accuracy"]) <= 0.005

"""Strict JAX for every test: rank promotion raises; keys come from a fixture.

float64 is turned on only inside the tests that compare gradients (the `x64` fixture),
so that the rest of the suite runs in the float32 our users train in.
"""

import os

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

# compiled programs and parsed data cached in folders of the test session's own, never the
# user's (real MNIST is found through JAXANN_DATA_DIR); the process that made a folder
# removes it when it exits (pytest-xdist's workers inherit the variables and share them)
import atexit
import shutil
import tempfile

for variable, prefix in (("JAXANN_COMPILE_CACHE", "jaxann-xla-"), ("JAXANN_CACHE_DIR", "jaxann-cache-")):
    if not os.environ.get(variable):
        os.environ[variable] = folder = tempfile.mkdtemp(prefix=prefix)
        atexit.register(shutil.rmtree, folder, ignore_errors=True)

# test_data.py isolates itself from JAXANN_DATA_DIR; it finds real MNIST through this copy
if os.environ.get("JAXANN_DATA_DIR"):
    os.environ.setdefault("JAXANN_REAL_MNIST", os.environ["JAXANN_DATA_DIR"])


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


@pytest.fixture
def fresh_programs(monkeypatch):
    """Nothing kept from other tests and nothing loaded from the program store: every
    program this test asks for compiles here (and counts in its ledger)."""
    from collections import OrderedDict

    from jaxann import compiling

    monkeypatch.setattr(compiling, "_KEPT", OrderedDict())
    monkeypatch.setenv("JAXANN_COMPILE_CACHE", "0")


@pytest.fixture
def small_problem():
    """small_problem(n=10, n_in=3, n_out=2, seed=0) -> (x, y): n standard normal rows of
    n_in features and labels in 0..n_out-1."""
    import numpy as np

    def make(n=10, n_in=3, n_out=2, seed=0):
        rng = np.random.default_rng(seed)
        return rng.normal(size=(n, n_in)), rng.integers(0, n_out, size=n)

    return make


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def mnist():
    """Real MNIST (a `jaxann.data.Dataset`) from $JAXANN_DATA_DIR or the cache; skip when absent."""
    from jaxann.data import DataError, find_files, load

    try:
        found = find_files("mnist") is not None
    except DataError:
        found = False
    if not found:
        pytest.skip("real MNIST not found (set JAXANN_DATA_DIR)")
    return load("mnist")

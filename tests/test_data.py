import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from functools import partial

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxann.data import DataError, PARTS, fetch, find_files, load, parse_idx, read_idx


def idx_bytes(array, magic):
    array = np.asarray(array, dtype=np.uint8)
    return struct.pack(f">i{array.ndim}i", magic, *array.shape) + array.tobytes()


def make_set(folder, n_train=12, n_test=5, rows=4, cols=3, spelling="{stem}-{kind}-ubyte.gz", seed=0):
    """Four small IDX files in `folder`; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, rows, cols)), "y_train": rng.integers(0, 10, n_train),
        "x_test": rng.integers(0, 256, (n_test, rows, cols)), "y_test": rng.integers(0, 10, n_test),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for part, stem, kind, magic in PARTS:
        name = spelling.format(stem=stem, kind=kind)
        data = idx_bytes(arrays[part], magic)
        (folder / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return arrays


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.delenv("JAXANN_DATA_DIR", raising=False)
    monkeypatch.delenv("JAXANN_DATA_MIRROR", raising=False)
    monkeypatch.setenv("JAXANN_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("spelling", ["{stem}-{kind}-ubyte.gz", "{stem}-{kind}-ubyte",
                                      "{stem}.{kind}-ubyte", "{stem}.{kind}-ubyte.gz"])
def test_reads_every_usual_spelling(tmp_path, spelling):
    arrays = make_set(tmp_path / "d", spelling=spelling)
    d = load("mnist", tmp_path / "d")
    assert d.x_train.shape == (12, 12) and d.x_test.shape == (5, 12) and d.image_shape == (4, 3)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int32
    # the rows as stored: uint8 pixels, the features they divide into
    assert d.raw_train.dtype == np.uint8 and d.x_divisor == 255.0
    np.testing.assert_array_equal(d.raw_train, arrays["x_train"].reshape(12, 12))
    # pixels scaled to [0, 1] as x / 255, row-major per image
    np.testing.assert_allclose(d.x_train, arrays["x_train"].reshape(12, 12) / 255.0, rtol=1e-7)
    np.testing.assert_array_equal(d.y_test, arrays["y_test"])


def test_search_order_data_dir_then_env_then_cache(tmp_path, monkeypatch):
    make_set(tmp_path / "arg", n_train=3)
    make_set(tmp_path / "env", n_train=4)
    make_set(tmp_path / "cache" / "mnist", n_train=5)
    monkeypatch.setenv("JAXANN_DATA_DIR", str(tmp_path / "env"))
    assert len(load("mnist", tmp_path / "arg").x_train) == 3
    assert len(load("mnist").x_train) == 4
    monkeypatch.delenv("JAXANN_DATA_DIR")
    assert len(load("mnist").x_train) == 5


@pytest.mark.parametrize("mutate,message", [
    (lambda b: struct.pack(">i", 2049) + b[4:], "magic number 2049; expected 2051"),
    (lambda b: b[:-7], "truncated"),
    (lambda b: b + b"\0", "trailing bytes"),
    (lambda b: b[:10], "too short for an IDX header"),
])
def test_corrupt_image_files_are_refused(tmp_path, mutate, message):
    make_set(tmp_path, spelling="{stem}-{kind}-ubyte")
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(DataError, match=message):
        load("mnist", tmp_path)


def test_bad_gzip_and_count_mismatch_are_refused(tmp_path):
    make_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(4), 2049)))
    with pytest.raises(DataError, match="test set: 5 images but 4 labels"):
        load("mnist", tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bnot really gzip")
    with pytest.raises(DataError, match="cannot be read"):
        load("mnist", tmp_path)


def test_parse_idx_round_trip():
    a = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(a, 2051), 2051), a)


class Server:
    """A static file server on 127.0.0.1 for the download tests; stops with the test."""

    def __init__(self, root):
        handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        handler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def mirror(tmp_path):
    arrays = make_set(tmp_path / "served")
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tmp_path / "served").iterdir()}
    server = Server(tmp_path / "served")
    yield server.url, sums, arrays
    server.close()


def test_download_with_good_checksums(mirror, tmp_path):
    url, sums, arrays = mirror
    paths = fetch("mnist", mirrors=[url], sha256=sums)
    assert paths["x_train"].parent == tmp_path / "cache" / "mnist"
    assert find_files("mnist") == paths  # found in the cache next time
    np.testing.assert_array_equal(read_idx(paths["y_train"], 2049), arrays["y_train"])
    assert not [p for p in paths["x_train"].parent.iterdir() if p.suffix == ".part"]


def test_download_with_a_bad_checksum_keeps_nothing(mirror, tmp_path):
    url, sums, _ = mirror
    sums = dict(sums, **{"train-labels-idx1-ubyte.gz": "0" * 64})
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: SHA-256 .* does not match"):
        fetch("mnist", mirrors=[url], sha256=sums)
    left = os.listdir(tmp_path / "cache" / "mnist")
    assert "train-labels-idx1-ubyte.gz" not in left and not [f for f in left if f.endswith(".part")]


def test_second_mirror_is_tried_when_the_first_fails(mirror):
    url, sums, _ = mirror
    paths = fetch("mnist", mirrors=[url + "missing/", url], sha256=sums)
    assert len(paths) == 4


def test_load_downloads_through_the_mirror_variable(mirror, monkeypatch):
    url, _, _ = mirror
    monkeypatch.setenv("JAXANN_DATA_MIRROR", url)
    # the served files are not the real MNIST, so the real checksums refuse them
    with pytest.raises(DataError, match="does not match"):
        load("mnist")


def test_server_down_names_the_places_looked_in(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError) as err:
        load("mnist", tmp_path / "mine", mirrors=[f"http://127.0.0.1:{port}/"])
    message = str(err.value)
    assert str(tmp_path / "mine") in message and str(tmp_path / "cache") in message
    assert "--data-dir" in message and "JAXANN_DATA_DIR" in message and "refused" in message.lower()


def test_missing_data_dir_and_unknown_dataset_are_refused(tmp_path):
    with pytest.raises(DataError, match="does not exist or is not a folder"):
        load("mnist", tmp_path / "nope")
    with pytest.raises(DataError, match="unknown dataset 'cifar'; expected one of: digits, mnist"):
        load("cifar")


def test_digits():
    d = load("digits")
    assert d.x_train.shape == (1347, 64) and d.x_test.shape == (450, 64)
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0  # 0..16 scaled by 1/16
    assert np.bincount(d.y_test).min() >= 43  # stratified: each class 43-46 of the 450 test rows


def test_real_mnist_when_present():
    real = os.environ.get("JAXANN_REAL_MNIST")
    if not real or not os.path.isdir(real):
        pytest.skip("real MNIST not found (the suite sets JAXANN_REAL_MNIST from JAXANN_DATA_DIR)")
    d = load("mnist", real)
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784)
    # label counts from the data set's README
    assert list(np.bincount(d.y_test)) == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert list(np.bincount(d.y_train)) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


# --- fuzzing: random and mutated bytes give the right array or DataError ---------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=200), st.sampled_from([2049, 2051]))
def test_idx_parser_on_random_bytes(data, magic):
    try:
        out = parse_idx(data, magic)
    except DataError:
        return
    assert out.dtype == np.uint8 and out.ndim == (1 if magic == 2049 else 3)
    assert 4 + 4 * out.ndim + out.size == len(data)


@FUZZ
@given(st.data())
def test_idx_reader_on_mutated_files(tmp_path, data):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    raw = bytearray(idx_bytes(images, 2051))
    if data.draw(st.booleans()):
        raw = bytearray(gzip.compress(bytes(raw)))
    for _ in range(data.draw(st.integers(0, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "add"]))
        pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if kind == "flip" and raw:
            raw[pos] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del raw[pos:]
        else:
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    path = tmp_path / "f"
    path.write_bytes(bytes(raw))
    try:
        out = read_idx(path, 2051)
    except DataError:
        return
    assert out.dtype == np.uint8 and out.ndim == 3  # a valid file, perhaps another valid one


def test_a_parsed_file_is_read_back_from_the_cache_until_the_file_changes(tmp_path):
    make_set(tmp_path / "d", n_train=6)
    first = load("mnist", tmp_path / "d")
    cached = sorted((tmp_path / "cache" / "parsed").glob("*.npy"))
    assert len(cached) == 4  # one ready array per file, named by the file's SHA-256
    again = load("mnist", tmp_path / "d")
    np.testing.assert_array_equal(again.raw_train, first.raw_train)
    assert isinstance(again.raw_train.base, np.memmap) or isinstance(again.raw_train, np.memmap)
    make_set(tmp_path / "d", n_train=7, seed=1)  # new contents: parsed anew, never the stale array
    assert len(load("mnist", tmp_path / "d").raw_train) == 7


def test_a_data_dir_variable_naming_no_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXANN_DATA_DIR", str(tmp_path / "typo"))
    with pytest.raises(DataError, match=r"JAXANN_DATA_DIR .*typo does not exist or is not a folder"):
        load("mnist")


def test_mnist_if_found_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch):
    from jaxann.data import mnist_if_found

    monkeypatch.delenv("JAXANN_DATA_DIR", raising=False)
    (tmp_path / "empty").mkdir()
    name, why = mnist_if_found(tmp_path / "empty")
    assert name == "digits"
    assert str(tmp_path / "empty") in why and "--dataset mnist downloads" in why and "--data-dir" in why
    make_set(tmp_path / "here", n_train=3)
    assert mnist_if_found(tmp_path / "here") == ("mnist", "")

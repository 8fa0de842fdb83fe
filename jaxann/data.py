"""Real data sets from their standard files: digits, MNIST and Fashion-MNIST.

    load("digits")                      scikit-learn's bundled 8x8 digits (offline default)
    load("mnist", data_dir=None)        the four standard IDX files
    load("fashion-mnist", data_dir=None)
    read_rows(path)                     rows to predict from a .npy, .csv or IDX images file

Images come back as rows of pixels: `x_train` / `x_test` float32 scaled to [0, 1] (the
lecture's x / 255; the digits' 0..16 scale / 16), `raw_train` / `raw_test` as stored
(uint8 for the IDX sets, with `x_divisor` 255), labels as int32 class indices.

MNIST-style files are looked for, in this order, in `data_dir` (argument or `--data-dir`),
in `$JAXANN_DATA_DIR`, and in the cache (`$JAXANN_CACHE_DIR`, else ~/.cache/jaxann), each
folder and its subfolder named after the data set, under any of the usual spellings:
`train-images-idx3-ubyte.gz`, `train-images-idx3-ubyte`, `train-images.idx3-ubyte` (and
that one gzipped). Files a user supplies are read as they are; files that are missing
everywhere are downloaded into the cache from the public mirrors, each verified against
its SHA-256 before it is kept. A file that is corrupt (bad magic number, truncated, wrong
length, image and label counts that differ) raises `DataError`, never a wrong array.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import struct
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from jaxann.console import ProgressBar
from jaxann.errors import JaxannError
from jaxann.files import atomic_write, cache_dir


class DataError(JaxannError):
    """A data set that cannot be found, fetched or read."""


@dataclass(frozen=True)
class Dataset:
    """A data set's rows as stored (`raw_train`, `raw_test`: uint8 pixels for the image
    sets) and its features x = raw / x_divisor (`x_train`, `x_test`: float32, made on
    first use). Training can take the raw rows and the divisor instead (`fit(raw,
    x_divisor=...)`): a quarter of the bytes on the host and the device, the division
    done inside the compiled step, with the same results."""

    name: str
    raw_train: np.ndarray  # (n_train, n_features), uint8 pixels or float32 features
    y_train: np.ndarray  # (n_train,) int32
    raw_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple  # (rows, cols) of one image
    n_classes: int
    source: str  # where the data came from, for logs and metrics
    x_divisor: float | None = None  # features = raw / x_divisor (None: raw are the features)

    @cached_property
    def x_train(self) -> np.ndarray:
        """(n_train, n_features) float32 features (pixels scaled to [0, 1])."""
        return self._features(self.raw_train)

    @cached_property
    def x_test(self) -> np.ndarray:
        return self._features(self.raw_test)

    def _features(self, raw):
        if self.x_divisor is None:
            return raw
        return raw.astype(np.float32) / np.float32(self.x_divisor)


# The four files of an MNIST-style data set: (part, stem, magic number)
PARTS = (
    ("x_train", "train-images", "idx3", 2051),
    ("y_train", "train-labels", "idx1", 2049),
    ("x_test", "t10k-images", "idx3", 2051),
    ("y_test", "t10k-labels", "idx1", 2049),
)

# Public mirrors and the SHA-256 of each .gz file they serve (REFERENCE.md).
REMOTE = {
    "mnist": {
        "mirrors": (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        "sha256": {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    },
    "fashion-mnist": {
        "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "sha256": {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    },
}

DATASETS = ("digits", "mnist", "fashion-mnist")


def spellings(stem: str, kind: str) -> list[str]:
    """The usual names of one file: train-images-idx3-ubyte(.gz), train-images.idx3-ubyte(.gz)."""
    names = [f"{stem}-{kind}-ubyte", f"{stem}.{kind}-ubyte"]
    return [n + ".gz" for n in names] + names


# --- the IDX format ------------------------------------------------------------------------

def parse_idx(data: bytes, magic: int, where: str = "data") -> np.ndarray:
    """An IDX array from its bytes: big-endian magic, dimensions, then uint8 values.

    magic is 2051 for images (n, rows, cols) and 2049 for labels (n,). Anything else --
    another magic number, a header or body of the wrong length -- raises DataError.
    """
    ndim = {2051: 3, 2049: 1}[magic]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{where}: {len(data)} bytes is too short for an IDX header; the file is truncated")
    (found,) = struct.unpack(">i", data[:4])
    if found != magic:
        raise DataError(
            f"{where}: magic number {found}; expected {magic} "
            f"({'images' if magic == 2051 else 'labels'} in the IDX format)"
        )
    shape = struct.unpack(f">{ndim}i", data[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        raise DataError(
            f"{where}: {len(data)} bytes; the header {shape} calls for {expected} "
            f"({'truncated' if len(data) < expected else 'trailing bytes'})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one IDX file, gzip-compressed (by its first two bytes) or raw.

    The parsed array is kept in the cache (`<cache>/parsed/<SHA-256 of the file>.npy`) and
    read from there, memory-mapped, while the file's bytes hash to the same SHA-256: a
    second load skips the decompression and parsing, and a changed file is parsed anew.
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from None
    ready = cache_dir() / "parsed" / f"{hashlib.sha256(raw).hexdigest()}-{magic}.npy"
    if ready.is_file():
        try:
            return np.load(ready, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):  # a damaged cache entry: parse the file anew
            ready.unlink(missing_ok=True)
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: cannot be read ({e})") from None
    array = parse_idx(raw, magic, str(path))
    with contextlib.suppress(OSError):  # a cache that cannot be written costs the next load a parse
        atomic_write(ready, lambda f: np.save(f, array))
    return array


# --- finding and fetching files --------------------------------------------------------------

def search_dirs(name: str, data_dir=None) -> list[Path]:
    """Where the files of data set `name` are looked for, in order."""
    roots = []
    # a folder the user named that is not there is a mistake to report, not to look past
    for given, where in ((data_dir, "data directory"), (os.environ.get("JAXANN_DATA_DIR"), "JAXANN_DATA_DIR")):
        if given:
            if not Path(given).is_dir():
                raise DataError(f"{where} {given} does not exist or is not a folder")
            roots.append(Path(given))
    roots.append(cache_dir())
    dirs = []
    for root in roots:
        for d in (root, root / name):
            if d not in dirs:
                dirs.append(d)
    return dirs


def find_files(name: str, data_dir=None) -> dict | None:
    """{part: path} when one folder holds all four files, else None."""
    for d in search_dirs(name, data_dir):
        found = {}
        for part, stem, kind, _ in PARTS:
            for candidate in spellings(stem, kind):
                if (d / candidate).is_file():
                    found[part] = d / candidate
                    break
        if len(found) == len(PARTS):
            return found
    return None


def download(url: str, dest: Path, sha256: str, timeout: float = 30.0) -> Path:
    """Fetch url into dest, keeping it only if its SHA-256 matches; else DataError.

    The bytes go to a temporary file beside dest, renamed into place once verified
    (`atomic_write`), so a failed or interrupted download never leaves a partial or
    unverified file behind.
    """
    def write(out):
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            bar = ProgressBar(total, label=dest.name)
            done = 0
            while chunk := response.read(1 << 16):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                bar.update(done, f"{done / 1e6:6.1f} / {total / 1e6:.1f} MB")
            bar.close()
        if digest.hexdigest() != sha256:
            raise DataError(
                f"{url}: SHA-256 {digest.hexdigest()} does not match the expected {sha256}; "
                "the download was discarded"
            )

    return atomic_write(dest, write)


def fetch(name: str, mirrors=None, sha256=None, dest_dir=None) -> dict:
    """Download the four .gz files of data set `name` into the cache; {part: path}.

    Each file is tried at each mirror in turn; the first that arrives with the right
    SHA-256 is kept. mirrors / sha256 override the registry (a test server, say).
    """
    remote = REMOTE[name]
    mirrors = mirrors or remote["mirrors"]
    sha256 = sha256 or remote["sha256"]
    dest_dir = Path(dest_dir) if dest_dir else cache_dir() / name
    paths, failures = {}, []
    for part, stem, kind, _ in PARTS:
        filename = f"{stem}-{kind}-ubyte.gz"
        for mirror in mirrors:
            try:
                paths[part] = download(mirror + filename, dest_dir / filename, sha256[filename])
                break
            except (urllib.error.URLError, OSError, DataError) as e:
                failures.append(f"{mirror + filename}: {getattr(e, 'reason', e)}")
        else:
            raise DataError("; ".join(failures))
    return paths


def _load_idx_set(name: str, data_dir=None, mirrors=None) -> Dataset:
    paths = find_files(name, data_dir)
    source = str(paths["x_train"].parent) if paths else None
    if paths is None:
        env_mirrors = os.environ.get("JAXANN_DATA_MIRROR")
        mirrors = mirrors or ([env_mirrors] if env_mirrors else None)
        try:
            paths = fetch(name, mirrors)
        except DataError as e:
            looked = ", ".join(str(d) for d in search_dirs(name, data_dir))
            raise DataError(
                f"{name} files not found in {looked}, and the download failed ({e}); put the four "
                f"files (train-images-idx3-ubyte.gz, ...) in a folder and pass --data-dir DIR "
                f"or set JAXANN_DATA_DIR"
            ) from None
        source = f"downloaded to {paths['x_train'].parent}"
    arrays = {part: read_idx(paths[part], magic) for part, _, _, magic in PARTS}
    for split in ("train", "test"):
        n_x, n_y = len(arrays[f"x_{split}"]), len(arrays[f"y_{split}"])
        if n_x != n_y:
            raise DataError(f"{name} {split} set: {n_x} images but {n_y} labels; expected equal counts")
    image_shape = arrays["x_train"].shape[1:]
    if arrays["x_test"].shape[1:] != image_shape:
        raise DataError(f"{name}: train images are {image_shape} but test images {arrays['x_test'].shape[1:]}")
    n_classes = int(max(arrays["y_train"].max(initial=0), arrays["y_test"].max(initial=0))) + 1

    def rows(a):
        return a.reshape(len(a), -1)

    return Dataset(name, rows(arrays["x_train"]), arrays["y_train"].astype(np.int32),
                   rows(arrays["x_test"]), arrays["y_test"].astype(np.int32),
                   tuple(image_shape), n_classes, source, x_divisor=255.0)


def _load_digits() -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    # a fixed, stratified 75 / 25 split, the same on every run
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return Dataset("digits", x_train, y_train, x_test, y_test, (8, 8), 10, "scikit-learn load_digits")


def mnist_if_found(data_dir=None) -> tuple[str, str]:
    """("mnist", "") when MNIST's files are found, else ("digits", why): the choice of
    commands whose default is MNIST when at hand, and the line saying what they fell back to."""
    if find_files("mnist", data_dir):
        return "mnist", ""
    looked = ", ".join(str(d) for d in search_dirs("mnist", data_dir))
    return "digits", (f"MNIST files not found in {looked}; using digits instead "
                      "(--dataset mnist downloads MNIST; --data-dir DIR reads a copy you have)")


def read_rows(path) -> np.ndarray:
    """The rows (m, n_features) a file holds: a .npy array (images (m, rows, cols) are
    flattened), a .csv of numbers (a first line that is not numbers is taken for a header
    and skipped), or IDX images (`train-images-idx3-ubyte`, gzipped or not: uint8 pixels, as
    the data sets store them). DataError for a missing file, or one that holds no rows of
    numbers."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    name = path.name.lower()
    try:
        if name.endswith(".npy"):
            rows = np.load(path, allow_pickle=False)
        elif name.endswith(".csv"):
            with open(path) as f:
                first = f.readline()
            try:
                np.array(first.strip().split(","), dtype=np.float64)
                header = 0
            except ValueError:
                header = 1
            rows = np.loadtxt(path, delimiter=",", skiprows=header, ndmin=2, dtype=np.float64)
        elif "idx3" in name:
            rows = read_idx(path, 2051)
        else:
            raise DataError(f"{path}: unknown kind of file; expected .npy, .csv or IDX images (*-idx3-ubyte[.gz])")
    except (OSError, ValueError, EOFError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: cannot be read as rows of numbers ({str(e).splitlines()[0]})") from None
    if rows.ndim == 3:
        rows = rows.reshape(len(rows), -1)
    if rows.ndim != 2 or not np.issubdtype(rows.dtype, np.number) or rows.dtype.kind == "c":
        raise DataError(f"{path}: holds an array of shape {rows.shape} and dtype {rows.dtype}; "
                        "expected rows (m, n_features) of real numbers")
    return rows


def load(name: str, data_dir=None, mirrors=None) -> Dataset:
    """Load a data set by name: "digits", "mnist" or "fashion-mnist"."""
    if name == "digits":
        return _load_digits()
    if name in REMOTE:
        return _load_idx_set(name, data_dir, mirrors)
    raise DataError(f"unknown dataset {name!r}; expected one of: {', '.join(DATASETS)}")

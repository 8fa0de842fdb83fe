"""`jaxann predict`: a saved model's predictions for the rows of a file."""

from __future__ import annotations

import sys

from jaxann.errors import JaxannError
from jaxann.files import check_writable


def add_model_flags(p):
    """--model and --activation, shared with `jaxann evaluate`."""
    from jaxann.cli.args import activation

    p.add_argument("--model", required=True,
                   help="a run folder (`jaxann train --out DIR`) or a saved model's .npz file")
    p.add_argument("--activation", type=activation, metavar="NAME[,NAME...]",
                   help="only for a file of W and b alone (saved by jaxann 0.1.0), which does not say its activation "
                   "(one, or one per hidden layer)")


def add_arguments(p):
    p.description = ("Predict with a saved model: one label per row of INPUT (a .npy array, a .csv of numbers "
                     "with or without a header line, or IDX images such as t10k-images-idx3-ubyte.gz), or with "
                     "--proba each class's probability. Rows are read as the data set stores them (MNIST: "
                     "pixels 0..255; the model divides them as training did). Output: CSV on stdout, or --out "
                     "FILE (.csv, or .npy for the array itself).")
    add_model_flags(p)
    p.add_argument("input", metavar="INPUT", help="the rows to predict (.npy, .csv or IDX images)")
    p.add_argument("--proba", action="store_true", help="class probabilities instead of labels")
    p.add_argument("--out", help="write the predictions to this .csv or .npy file instead of stdout")
    p.set_defaults(run=run)


def run(args) -> int:
    import numpy as np

    from jaxann.data import read_rows
    from jaxann.model import load_model

    if args.out and not args.out.lower().endswith((".csv", ".npy")):
        raise JaxannError(f"--out {args.out}: expected a .csv or .npy file name")
    if args.out:
        check_writable(args.out)
    model = load_model(args.model, args.activation)
    rows = read_rows(args.input)
    if rows.shape[1] != model.sizes[0]:
        raise JaxannError(f"{args.input}: rows of {rows.shape[1]} values; the model ({model.describe()}) "
                          f"takes {model.sizes[0]}")
    if model.input_divisor and rows.dtype.kind == "f" and rows.size and rows.max() <= 1:
        print(f"jaxann predict: warning: {args.input} holds values in [0, 1], but the model divides its inputs "
              f"by {model.input_divisor:g} itself (it reads rows as the data set stores them)", file=sys.stderr)
    if args.proba:
        values, header = model.predict_proba(rows), [str(c) for c in model.classes]
    else:
        values = model.predict(rows)
        header = (["label"] if model.task in ("multiclass", "binary") else
                  [str(c) for c in model.classes] if model.task == "multilabel" else
                  ["prediction"] if values.ndim == 1 else [f"target_{j}" for j in range(values.shape[1])])
    if args.out and args.out.lower().endswith(".npy"):
        _write(args.out, lambda f: np.save(f, values))
        return 0
    text = _csv(header, values)
    if args.out:
        _write(args.out, lambda f: f.write(text.encode()))
    else:
        sys.stdout.write(text)
    return 0


def _csv(header, values) -> str:
    """A header line, then one line per row (floats to full precision: repr)."""
    import numpy as np

    rows = values.reshape(len(values), -1) if values.ndim > 1 else values[:, None]
    cell = (lambda v: repr(float(v))) if np.issubdtype(values.dtype, np.floating) else str  # noqa: E731
    return ",".join(header) + "\n" + "".join(",".join(cell(v) for v in row) + "\n" for row in rows)


def _write(path, write):
    from jaxann.files import atomic_write

    try:
        atomic_write(path, write)
    except OSError as e:
        raise JaxannError(f"cannot write {path}: {e.strerror or e}") from None

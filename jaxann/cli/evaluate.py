"""`jaxann evaluate`: a saved model's scores and confusion matrix on a data set."""

from __future__ import annotations

from jaxann.cli.args import dataset_of
from jaxann.cli.choices import DATASETS
from jaxann.cli.predict import add_model_flags
from jaxann.errors import JaxannError
from jaxann.files import check_writable


def add_arguments(p):
    p.description = ("Score a saved model on a data set's training and test rows, and print the test "
                     "confusion matrix (rows: the true class, columns: the predicted one); --figure draws it.")
    add_model_flags(p)
    p.add_argument("--dataset", choices=DATASETS, help="default: digits")
    p.add_argument("--data-dir", help="with --dataset mnist or fashion-mnist: folder with the IDX files "
                   "(else $JAXANN_DATA_DIR, then the cache)")
    p.add_argument("--figure", help="save the confusion matrix to this PNG")
    p.set_defaults(run=run)


def run(args) -> int:
    from jaxann.data import load
    from jaxann.activations import label
    from jaxann.model import load_model

    dataset = dataset_of(args)
    if args.figure:
        check_writable(args.figure)
    model = load_model(args.model, args.activation)
    if model.task == "regression":
        raise JaxannError(f"{args.model} is a regression model; evaluate scores classifiers on a data set")
    data = load(dataset, args.data_dir)
    width = data.raw_test.shape[1]
    if width != model.sizes[0]:
        raise JaxannError(f"{data.name} rows have {width} values; the model ({model.describe()}) takes "
                          f"{model.sizes[0]} (trained on another data set?)")
    if model.input_divisor == data.x_divisor:  # rows as stored, divided by the model itself
        x_train, x_test = data.raw_train, data.raw_test
    elif model.input_divisor is None:  # a model of features (e.g. a saved estimator's)
        x_train, x_test = data.x_train, data.x_test
    else:
        raise JaxannError(f"the model divides its inputs by {model.input_divisor:g}, {data.name}'s rows by "
                          f"{data.x_divisor}: it was trained on other data")
    print(f"jaxann evaluate: {args.model} ({model.describe()}) on {data.name} ({data.source})")
    print(f"Training set score: {model.score(x_train, data.y_train):f}")
    print(f"Test set score: {model.score(x_test, data.y_test):f}")
    confusion = model.confusion(x_test, data.y_test)
    print("Test confusion matrix (rows: true class, columns: predicted):")
    print(_table(confusion, model.classes))
    if args.figure:
        from jaxann.plots import confusion_matrix
        from jaxann.runs import save_figure

        title = f"{data.name} test set, {'-'.join(map(str, model.sizes))} {label(model.activation)}"
        save_figure(args.figure, lambda: confusion_matrix(confusion, model.classes, title=title).figure)
        print(f"wrote {args.figure}")
    return 0


def _table(confusion, classes) -> str:
    labels = [str(c) for c in classes]
    width = max(len(str(confusion.max())), *map(len, labels))
    lines = [" " * width + " | " + " ".join(c.rjust(width) for c in labels)]
    lines.append("-" * len(lines[0]))
    for label, row in zip(labels, confusion):
        lines.append(label.rjust(width) + " | " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)

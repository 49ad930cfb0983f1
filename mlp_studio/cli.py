"""The command line's subcommands: train, predict and open.

Every command returns the process's exit status: 0 on success, 2 when an
argument or an input file is wrong (with one line on stderr saying what),
1 when something unexpected fails. Nothing here imports Qt: ``open``
imports the window only once its file has been checked.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import logging
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

from mlp_studio.core import export
from mlp_studio.core.activations import get_activation
from mlp_studio.core.dataset_io import DataFileError, load_csv
from mlp_studio.core.datasets import DATASETS, MAX_POINTS, DataSpec
from mlp_studio.core.features import FEATURES, FeatureMap
from mlp_studio.core.heads import MAX_CLASSES
from mlp_studio.core.network import (
    MAX_HIDDEN_LAYERS,
    MAX_UNITS,
    REGULARIZATIONS,
    NonFiniteLossError,
    forward_layers,
)
from mlp_studio.core.optimizers import OPTIMIZERS
from mlp_studio.core.session import (
    SUFFIX,
    load_session,
    read_session,
    save_session,
)
from mlp_studio.core.training import ModelSettings, TrainingRun, TrainSettings

log = logging.getLogger(__name__)

PROG = "mlp-studio"
MODEL_SUFFIXES = (".onnx", ".json", ".py", SUFFIX)
MAX_POINTS_BYTES = 50 * 2**20
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_WHOLE = re.compile(r"[+-]?[0-9]+")


class UsageError(Exception):
    """A wrong argument or input file: the message is shown as one line."""


class Parser(argparse.ArgumentParser):
    """argparse, reporting a usage error as one line instead of the usage
    text followed by the error."""

    def error(self, message):
        self.exit(2, f"{PROG}: {message} (see {self.prog} --help)\n")


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Add the train, predict and open subcommands to ``parser``."""
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands",
        description="With no command the window opens.")
    _add_train(commands)
    _add_predict(commands)
    _add_open(commands)


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed subcommand; return the exit status."""
    try:
        return args.handler(args)
    except (UsageError, ValueError, OSError) as error:
        log.debug("refused", exc_info=True)  # --verbose shows where
        return _fail(error)
    except NonFiniteLossError as error:
        return _fail(error, status=1)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return _fail("interrupted", status=130)
    except Exception as error:
        log.debug("unexpected failure", exc_info=True)
        return _fail(f"unexpected error: {type(error).__name__}: {error} "
                     "(run with --verbose for details)", status=1)


def _file_kind(suffix):
    return f"a {suffix} file" if suffix else "a file without an extension"


def _fail(error, status=2) -> int:
    if isinstance(error, OSError) and error.filename and error.strerror:
        error = f"{error.filename}: {error.strerror}"
    text = " ".join(str(error).split())  # one line, whatever it holds
    print(f"{PROG}: {text}", file=sys.stderr)
    return status


# ---------------------------------------------------------------- train


def _add_train(commands):
    train = commands.add_parser(
        "train", help="train a network and save it",
        description="Train a network on a built-in data set or a CSV file "
                    "and save it; the file type follows the extension of "
                    "--out: .onnx, .json, .py (a self-contained predictor) "
                    f"or {SUFFIX} (a whole session to open in the window).")
    names = ", ".join(DATASETS)
    train.add_argument("--data", required=True, metavar="NAME|FILE.csv",
                       help=f"a built-in data set ({names}) or a CSV file")
    train.add_argument("--out", required=True, metavar="FILE",
                       help="where to save: " + ", ".join(MODEL_SUFFIXES))
    train.add_argument("--noise", type=_real(0.0, 1.0), default=0.1,
                       metavar="X",
                       help="noise of a built-in data set, 0 to 1 "
                            "(default 0.1)")
    train.add_argument("--points", type=_count(1, MAX_POINTS), default=500,
                       metavar="N",
                       help="points of a built-in data set (default 500)")
    train.add_argument("--classes", type=_count(2, MAX_CLASSES), default=3,
                       metavar="N", help="classes of blobs (default 3)")
    train.add_argument("--hidden", type=_hidden, default=(8, 8),
                       metavar="8,8",
                       help='units per hidden layer; "" or 0 for none '
                            "(default 8,8)")
    train.add_argument("--activation", default="tanh", metavar="NAME",
                       help="activation of every hidden layer, or one per "
                            "layer separated by commas (default tanh)")
    train.add_argument("--optimizer", choices=tuple(OPTIMIZERS),
                       default="adam", help="(default adam)")
    train.add_argument("--epochs", type=_count(0, None), default=500,
                       metavar="N", help="passes over the training points "
                                         "(default 500)")
    train.add_argument("--lr", type=_real(0.0, None, above=True),
                       default=0.03, metavar="RATE",
                       help="learning rate (default 0.03)")
    train.add_argument("--batch", type=_count(1, None), default=10,
                       metavar="N", help="points per update (default 10)")
    train.add_argument("--regularization", choices=REGULARIZATIONS,
                       default="none", help="(default none)")
    train.add_argument("--reg-rate", type=_real(0.0, None), default=0.0,
                       metavar="RATE",
                       help="regularization rate (default 0)")
    train.add_argument("--features", type=_features, default=("x1", "x2"),
                       metavar="x1,x2",
                       help=f"input features, of: {', '.join(FEATURES)} "
                            "(default x1,x2)")
    train.add_argument("--train-ratio", type=_real(0.0, 1.0, above=True),
                       default=0.5, metavar="R",
                       help="fraction of the points trained on; the rest "
                            "test (default 0.5)")
    train.add_argument("--seed", type=_count(0, 2**63 - 1), default=0,
                       metavar="N",
                       help="seed of the data, the split, the weights and "
                            "the batch order (default 0)")
    _add_verbose(train)
    train.set_defaults(handler=train_command)


def train_command(args) -> int:
    """``mlp-studio train``: train, report the metrics, save."""
    out = Path(args.out)
    kind = out.suffix.lower()
    if kind not in MODEL_SUFFIXES:
        raise UsageError(f"--out: cannot save {_file_kind(kind)}; use "
                         + ", ".join(MODEL_SUFFIXES))
    if kind == ".onnx" and importlib.util.find_spec("onnx") is None:
        raise UsageError("saving ONNX needs the onnx package; install it "
                         f"with {export.ONNX_EXTRA}")
    dataset, spec = _training_data(args)
    activations = _activations(args.activation, len(args.hidden))
    model = ModelSettings(args.features, args.hidden, activations, args.seed)
    training = TrainSettings(args.lr, args.batch, args.optimizer,
                             args.regularization, args.reg_rate)
    run = TrainingRun(dataset, model, training, args.train_ratio, args.seed)
    if len(run.train) == 0:
        raise UsageError("no training points: raise --train-ratio or "
                         "--points")

    progress = Progress(args.epochs)
    try:
        for epoch in range(1, args.epochs + 1):
            run.run_epoch()
            progress.show(epoch, float(run.history.view()[-1, 1]))
    finally:
        progress.close()
    _report(run)
    _save_model(run, out, kind, spec)
    print(f"saved {out}")
    return 0


def _training_data(args):
    """(Dataset, DataSpec or None) from --data and its options."""
    source = args.data
    if source.lower().endswith(".csv") or Path(source).is_file():
        try:
            loaded = load_csv(source)
        except DataFileError as error:
            raise UsageError(f"{source}: {error}") from None
        for note in loaded.notes:
            print(f"{PROG}: note: {note}", file=sys.stderr)
        return loaded.dataset, None
    name = source.strip().lower().replace("_", "-")
    if name not in DATASETS:
        raise UsageError(f"--data: unknown data set {source!r}; expected one "
                         f"of {', '.join(DATASETS)}, or a .csv file")
    spec = DataSpec(name, args.points, args.noise, args.seed, args.classes,
                    args.train_ratio)
    return spec.make(), spec


def _activations(text, layers):
    names = [name.strip() for name in text.split(",")]
    for name in names:
        try:
            get_activation(name)
        except ValueError as error:
            raise UsageError(f"--activation: {error}") from None
    if len(names) == 1:
        return tuple(names) * layers
    if len(names) != layers:
        raise UsageError(f"--activation: {len(names)} activations for "
                         f"{layers} hidden layers")
    return tuple(names)


def _report(run):
    """The final metrics, on stdout."""
    train_loss, test_loss, train_acc, test_acc = run.metrics()
    rows = (("train", train_loss, train_acc, len(run.train)),
            ("test", test_loss, test_acc, len(run.test)))
    for name, loss, accuracy, count in rows:
        if count == 0:
            print(f"{name + ':':7}no points")
            continue
        line = f"{name + ':':7}loss {loss:.4g}"
        if not math.isnan(accuracy):
            line += f"  accuracy {accuracy:.2%}"
        print(f"{line}  ({count} points)")


def _save_model(run, out, kind, spec):
    if kind == SUFFIX:
        save_session(run, out, spec=spec)
        return
    save = {".onnx": export.save_onnx, ".json": export.save_json,
            ".py": export.save_python}[kind]
    save(run.model, run.features.names, out)


class Progress:
    """Training progress on stderr: a bar redrawn in place on a terminal,
    elsewhere (a log file, a pipe) one line every tenth of the way."""

    WIDTH = 30
    INTERVAL = 0.1  # seconds between redraws of the bar

    def __init__(self, total: int, stream=None):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.tenths = 0
        self.drawn = 0.0
        self.open = False

    def show(self, done: int, loss: float) -> None:
        """``done`` of ``total`` epochs are finished; ``loss`` is the
        last epoch's training loss."""
        fraction = done / self.total if self.total else 1.0
        text = f"epoch {done}/{self.total}  loss {loss:.4g}"
        if self.tty:
            now = time.monotonic()
            if now - self.drawn < self.INTERVAL and done < self.total:
                return
            self.drawn = now
            filled = round(fraction * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {fraction:4.0%}  {text}")
            self.open = True
        elif int(fraction * 10) > self.tenths:
            self.tenths = int(fraction * 10)
            self.stream.write(f"{fraction:4.0%}  {text}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


# -------------------------------------------------------------- predict


def _add_predict(commands):
    predict = commands.add_parser(
        "predict", help="predict points with a saved model",
        description="Predict the points of a CSV file with x1 and x2 "
                    "columns. Writes x1,x2,prediction (the probability of "
                    "class 1, or the value for regression), or for several "
                    "classes x1,x2,class,p0,p1,...")
    predict.add_argument("model", metavar="MODEL",
                         help=f"a model saved as .json, or a {SUFFIX} "
                              "session")
    predict.add_argument("points", metavar="POINTS.csv",
                         help="CSV with a header naming x1 and x2")
    predict.add_argument("--out", metavar="FILE.csv",
                         help="where to write (default: standard output)")
    _add_verbose(predict)
    predict.set_defaults(handler=predict_command)


def predict_command(args) -> int:
    """``mlp-studio predict``: write a model's predictions as CSV."""
    predict, task = _load_predictor(Path(args.model))
    points = read_points(args.points)
    outputs = predict(points)
    text = _predictions_csv(points, outputs, task)
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


def _load_predictor(path):
    """(function from (n, 2) points to the head's (n, outputs) output,
    task) for a saved model."""
    kind = path.suffix.lower()
    if kind == SUFFIX:
        try:
            run = load_session(path)
        except ValueError as error:
            raise UsageError(f"{path}: {error}") from None
        model, features = run.model, run.features

        def predict(points):
            return model.layer_outputs(features.transform(points))[-1]

        return predict, model.task
    if kind == ".json":
        try:
            params, activations, task, names = export.load_json(path)
        except ValueError as error:
            raise UsageError(f"{path}: {error}") from None
        features = names if isinstance(names, FeatureMap) else FeatureMap(
            names)

        def predict(points):
            return forward_layers(params, activations, task,
                                  features.transform(points))[-1]

        return predict, task
    raise UsageError(f"{path}: cannot read a model from "
                     f"{_file_kind(kind)}; use a .json model or a {SUFFIX} "
                     "session")


def _predictions_csv(points, outputs, task):
    out = io.StringIO()
    if task == "multiclass":
        classes = outputs.shape[1]
        out.write(",".join(["x1", "x2", "class"]
                           + [f"p{k}" for k in range(classes)]) + "\n")
        labels = outputs.argmax(axis=1)
        for (x1, x2), label, probs in zip(points.tolist(), labels.tolist(),
                                          outputs.tolist()):
            out.write(",".join([repr(x1), repr(x2), str(label),
                                *map(repr, probs)]) + "\n")
    else:
        out.write("x1,x2,prediction\n")
        for (x1, x2), value in zip(points.tolist(), outputs[:, 0].tolist()):
            out.write(f"{x1!r},{x2!r},{value!r}\n")
    return out.getvalue()


def read_points(path, max_bytes: int = MAX_POINTS_BYTES) -> np.ndarray:
    """The (n, 2) points of a CSV file whose header names x1 and x2.

    Other columns (a label, say) are ignored, so data set files work too.
    Coordinates are taken as written: unlike ``load_csv`` nothing is
    moved into the view.

    Raises
    ------
    UsageError
        If the file is not such a CSV; the message names the line.
    OSError
        If it cannot be read.
    """
    try:
        return _read_points(Path(path), max_bytes)
    except DataFileError as error:
        raise UsageError(f"{path}: {error}") from None


def _read_points(path, max_bytes):
    if path.stat().st_size > max_bytes:
        raise DataFileError(f"larger than {max_bytes // 2**20} MB")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise DataFileError("not UTF-8 text", line) from None

    reader = csv.reader(io.StringIO(text, newline=""))
    columns, rows = None, []
    try:
        for cells in reader:
            cells = [cell.strip() for cell in cells]
            if not "".join(cells):
                continue  # a blank line
            if columns is None:
                columns = _coordinate_columns(cells, reader.line_num)
                width = len(cells)
                continue
            if len(cells) != width:
                raise DataFileError(
                    f"expected {width} values, found {len(cells)}",
                    reader.line_num)
            rows.append([_coordinate(cells[col], name, reader.line_num)
                         for col, name in zip(columns, ("x1", "x2"))])
    except csv.Error as error:
        raise DataFileError(f"not valid CSV ({error})",
                            reader.line_num) from None
    if not rows:
        raise DataFileError("no rows of points")
    return np.array(rows, dtype=np.float64)


def _coordinate_columns(header, line):
    names = [cell.lower() for cell in header]
    if "x1" in names and "x2" in names:
        return names.index("x1"), names.index("x2")
    raise DataFileError("expected a header line naming the x1 and x2 "
                        "columns", line)


def _coordinate(text, name, line):
    value = float(text) if _NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(value):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise DataFileError(f"{name} {shown!r} is not a finite number", line)
    return value


# ----------------------------------------------------------------- open


def _add_open(commands):
    open_ = commands.add_parser(
        "open", help="open a session or a data set in the window",
        description=f"Open a {SUFFIX} session or a .csv data set in the "
                    "window. The file is checked before the window starts.")
    open_.add_argument("file", metavar="FILE")
    _add_verbose(open_)
    open_.set_defaults(handler=open_command)


def open_command(args) -> int:
    """``mlp-studio open``: check the file, then open the window on it."""
    path = Path(args.file)
    kind = path.suffix.lower()
    try:
        if kind == SUFFIX:
            read_session(path)
        elif kind == ".csv":
            load_csv(path)
        else:
            raise UsageError(f"{path}: cannot open {_file_kind(kind)}; "
                             f"expected a {SUFFIX} session or a .csv data "
                             "set")
    except ValueError as error:
        raise UsageError(f"{path}: {error}") from None

    from mlp_studio.app import application

    return application.run_window(open_path=str(path))


# ------------------------------------------------------ argument types


def _add_verbose(parser):
    # SUPPRESS: a subcommand's default must not undo "mlp-studio -v train".
    parser.add_argument("--verbose", "-v", action="store_true",
                        default=argparse.SUPPRESS, help="log debug messages")


def _count(low, high):
    def count(text):
        if not _WHOLE.fullmatch(text.strip()):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        value = int(text)
        if value < low or (high is not None and value > high):
            bound = f"{low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return count


def _real(low, high, above=False):
    def real(text):
        value = float(text) if _NUMBER.fullmatch(text.strip()) else math.nan
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number")
        if (value <= low if above else value < low) or (
                high is not None and value > high):
            lower = f"above {low}" if above else f"{low} or more"
            bound = lower if high is None else f"{lower} and at most {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return real


def _hidden(text):
    if text.strip() in ("", "0"):
        return ()
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not _WHOLE.fullmatch(part) or not 1 <= int(part) <= MAX_UNITS:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a list of layer sizes 1 to {MAX_UNITS}, "
                "such as 8,8")
        sizes.append(int(part))
    if len(sizes) > MAX_HIDDEN_LAYERS:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(sizes)}")
    return tuple(sizes)


def _features(text):
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    try:
        FeatureMap(names)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return names

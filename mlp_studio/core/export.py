"""Exports of a trained network that other tools can run.

Every export takes raw points (x1, x2) and computes the network's input
features itself, so whoever runs it needs to know nothing of MLP Studio:

* JSON (``save_json``): a plain, documented format (docs/model-format.md)
  with the weights inline or in an ``.npz`` beside it. ``load_json`` reads
  it back with strict checks, and floats round-trip bit for bit.
* Python (``save_python``): a standalone script that needs only numpy and
  predicts exactly what ``MLP.predict`` does.
* ONNX (``save_onnx``): a float32 graph for onnxruntime and other runtimes.
  It needs the optional ``onnx`` package, imported only when used.

Files are written atomically: under a temporary name beside the
destination, synced to disk, then renamed over it, so a crash or a full
disk leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import io
import json
import logging
import os
import string
import textwrap
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from mlp_studio import __version__

from .activations import ACTIVATIONS, LEAKY_SLOPE
from .features import FEATURES, FeatureMap
from .files import read_bounded, size_text, write_atomically
from .heads import MAX_CLASSES, TASKS
from .network import MAX_HIDDEN_LAYERS, MAX_UNITS

log = logging.getLogger(__name__)

FORMAT = "mlp-studio-model"
FORMAT_VERSION = 1
MAX_BYTES = 50 * 2**20  # for the JSON file and for its .npz alike
OUTPUT_ACTIVATIONS = {
    "binary": "sigmoid",
    "multiclass": "softmax",
    "regression": "identity",
}
ONNX_OPSET = 17
# The oldest IR version that carries opset 17: any onnxruntime from 1.13 on
# reads it.
ONNX_IR_VERSION = 8
ONNX_EXTRA = 'pip install "mlp-studio[onnx]"'

_REQUIRED_FIELDS = ("format", "version", "task", "features", "layers",
                    "class_names")
_INLINE_FIELDS = ("weights", "biases")
_NPZ_FIELD = "arrays"

# How each input feature is computed from the raw columns x1 and x2: as
# numpy source for the script, and as (tensor, operator, inputs) for ONNX.
_PY_FEATURES = {
    "x1": "x1",
    "x2": "x2",
    "x1^2": "x1 * x1",
    "x2^2": "x2 * x2",
    "x1*x2": "x1 * x2",
    "sin(x1)": "np.sin(x1)",
    "sin(x2)": "np.sin(x2)",
}
_ONNX_FEATURES = {
    "x1": ("x1", None, ("x1",)),
    "x2": ("x2", None, ("x2",)),
    "x1^2": ("x1_squared", "Mul", ("x1", "x1")),
    "x2^2": ("x2_squared", "Mul", ("x2", "x2")),
    "x1*x2": ("x1_times_x2", "Mul", ("x1", "x2")),
    "sin(x1)": ("sin_x1", "Sin", ("x1",)),
    "sin(x2)": ("sin_x2", "Sin", ("x2",)),
}


class ModelFileError(ValueError):
    """A model file that cannot be read; the message says what is wrong."""


class LoadedModel(tuple):
    """What ``load_json`` read.

    Unpacks as ``params, activations, task, features`` (ready for
    ``network.forward_layers``); like ``os.stat_result`` it carries one
    more value as an attribute only.

    Attributes
    ----------
    params : per layer (W (fan_in, fan_out), b (fan_out,)) float64 arrays.
    activations : one activation name per hidden layer.
    task : "binary", "multiclass" or "regression".
    features : FeatureMap of the input features.
    class_names : list of one name per class, or None.
    """

    def __new__(cls, params, activations, task, features, class_names=None):
        loaded = super().__new__(cls, (params, activations, task, features))
        loaded.class_names = class_names
        return loaded

    params = property(lambda self: self[0])
    activations = property(lambda self: self[1])
    task = property(lambda self: self[2])
    features = property(lambda self: self[3])


# ---------------------------------------------------------------- JSON


def model_dict(model, features,
               class_names: Sequence[str] | None = None) -> dict:
    """The model as a plain dict in the JSON format, weights inline.

    Parameters
    ----------
    model : a trained MLP.
    features : FeatureMap (or feature ids) of the model's inputs.
    class_names : one name per class (2 for a binary task), or None.

    Returns
    -------
    dict of plain Python values; ``json.dumps`` writes it as it is. Its
    ``weights`` hold one (fan_in, fan_out) nested list per layer and its
    ``biases`` one (fan_out,) list.

    Raises
    ------
    ValueError
        If the features do not fit the model, the class names do not fit
        the task, or a weight is NaN or infinite.
    """
    features, params, hidden = _exportable(model, features)
    names = _checked_class_names(class_names, model.task, model.outputs)
    doc = _header(model.task, features, params, hidden, names)
    doc["weights"] = [weights.tolist() for weights, _ in params]
    doc["biases"] = [biases.tolist() for _, biases in params]
    return doc


def save_json(model, features, path: str | os.PathLike, *, npz: bool = False,
              class_names: Sequence[str] | None = None) -> None:
    """Write the model as JSON, atomically.

    Parameters
    ----------
    model, features, class_names : as for ``model_dict``.
    path : the JSON file to create or replace.
    npz : put the weights in a numpy ``.npz`` archive beside the JSON file
        (same name, suffix ``.npz``; arrays W0, b0, W1, b1, ...) and name
        it in the JSON's ``arrays`` field, instead of writing them inline.
    """
    path = Path(path)
    if not npz:
        doc = model_dict(model, features, class_names)
        write_atomically(path, _json_text(doc).encode("utf-8"))
        log.debug("saved %r to %s", model, path)
        return

    if path.suffix.lower() == ".npz":
        raise ValueError(f"{path.name}: the JSON file needs a name not "
                         "ending in .npz, which its weights file takes")
    features, params, hidden = _exportable(model, features)
    names = _checked_class_names(class_names, model.task, model.outputs)
    arrays_path = path.with_suffix(".npz")
    doc = _header(model.task, features, params, hidden, names)
    doc[_NPZ_FIELD] = arrays_path.name

    arrays = {}
    for layer, (weights, biases) in enumerate(params):
        arrays[f"W{layer}"] = weights
        arrays[f"b{layer}"] = biases
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    # Limitation: the two files are replaced one after the other. A crash
    # between the two renames leaves the new weights beside the old JSON;
    # load_json then refuses the pair if the shapes differ, and silently
    # reads the new weights with the old header if they do not.
    write_atomically(arrays_path, buffer.getvalue())
    write_atomically(path, _json_text(doc).encode("utf-8"))
    log.debug("saved %r to %s and %s", model, path, arrays_path.name)


def load_json(path: str | os.PathLike, *,
              max_bytes: int = MAX_BYTES) -> LoadedModel:
    """Read a model written by ``save_json``, checking every field.

    Parameters
    ----------
    path : the JSON file; its ``.npz``, if it names one, must lie beside it.
    max_bytes : larger files (JSON or npz) are refused before being read.

    Returns
    -------
    LoadedModel, which unpacks as ``(params, activations, task,
    features)``: params are per layer (W (fan_in, fan_out), b (fan_out,))
    float64 arrays, activations one name per hidden layer and features a
    FeatureMap. Nothing is evaluated or unpickled.

    Raises
    ------
    ModelFileError
        If the file is not a valid model file; the message says why.
    OSError
        If the JSON file cannot be opened or read.
    """
    path = Path(path)
    doc = _parse(read_bounded(path, max_bytes, ModelFileError))
    _check_fields(doc)
    task = _checked_task(doc["task"])
    features = _checked_features(doc["features"])
    shapes, activations = _checked_layers(doc["layers"], task, len(features))
    class_names = _loaded_class_names(doc["class_names"], task, shapes)
    if _NPZ_FIELD in doc:
        params = _read_npz(path.parent, doc[_NPZ_FIELD], shapes, max_bytes)
    else:
        params = _inline_params(doc["weights"], doc["biases"], shapes)
    log.debug("loaded a %s model with layers %s from %s", task,
              [units for _, units in shapes], path)
    return LoadedModel(params, activations, task, features, class_names)


def _header(task, features, params, hidden, class_names) -> dict:
    """Every field of the JSON document but the weights."""
    activations = [*hidden, OUTPUT_ACTIVATIONS[task]]
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "task": task,
        "features": list(features.names),
        "layers": [
            {"units": int(weights.shape[1]), "activation": activation}
            for (weights, _), activation in zip(params, activations)
        ],
        "class_names": class_names,
    }


def _json_text(doc: dict) -> str:
    """JSON text with one line per field, layer and weight row.

    Floats are written by ``repr``, the shortest text that reads back to
    the same float.
    """
    fields = [f"  {json.dumps(key)}: {_json_value(value, 2)}"
              for key, value in doc.items()]
    return "{\n" + ",\n".join(fields) + "\n}\n"


def _json_value(value, indent: int) -> str:
    nested = (isinstance(value, list) and value
              and all(isinstance(item, (list, dict)) for item in value))
    if not nested:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    inner = " " * (indent + 2)
    items = ",\n".join(inner + _json_value(item, indent + 2) for item in value)
    return "[\n" + items + "\n" + " " * indent + "]"


# ---------------------------------------------------------------- checks
#
# The loader trusts nothing: each check names the field and what it should
# hold. Values shown in messages are shortened, since a hostile file can
# make them as long as it likes.


def _parse(data: bytes) -> dict:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ModelFileError("not a model file: not UTF-8 text") from None
    if not text.strip():
        raise ModelFileError("the file is empty")
    try:
        doc = json.loads(text, object_pairs_hook=_unique_keys)
    except ModelFileError:
        raise
    except RecursionError:
        raise ModelFileError("not valid JSON: nested too deeply") from None
    except json.JSONDecodeError as error:
        if error.pos >= len(text.rstrip()):
            raise ModelFileError(
                "not valid JSON: the text ends too early; is the file "
                "truncated?") from None
        raise ModelFileError(f"not valid JSON: {error}") from None
    except ValueError as error:
        # Python's limit on the digits of an integer, for one.
        raise ModelFileError(f"not valid JSON: {error}") from None
    if not isinstance(doc, dict):
        raise ModelFileError(
            f"not a model file: expected a JSON object, got {_kind(doc)}")
    return doc


def _unique_keys(pairs):
    doc = {}
    for key, value in pairs:
        if key in doc:
            raise ModelFileError(f"field {_show(key)} appears twice")
        doc[key] = value
    return doc


def _check_fields(doc: dict) -> None:
    # Format and version first: a file from elsewhere or from a newer
    # MLP Studio should say so, not list the fields it lacks.
    if doc.get("format") != FORMAT:
        raise ModelFileError(
            f'not an MLP Studio model file: "format" must be "{FORMAT}", '
            f"got {_show(doc.get('format'))}")
    version = doc.get("version")
    if type(version) is not int or version < 1:
        raise ModelFileError(
            f'"version" must be a whole number from 1, got {_show(version)}')
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"the file has format version {version}, written by a newer "
            f"MLP Studio; this one reads version {FORMAT_VERSION}")

    missing = [name for name in _REQUIRED_FIELDS if name not in doc]
    inline = [name for name in _INLINE_FIELDS if name in doc]
    if _NPZ_FIELD in doc and inline:
        raise ModelFileError(
            f'the weights must be either inline ("weights", "biases") or '
            f'in an npz file ("{_NPZ_FIELD}"), not both')
    if _NPZ_FIELD not in doc:
        missing += [name for name in _INLINE_FIELDS if name not in inline]
    if missing:
        raise ModelFileError(f"missing field(s): {', '.join(missing)}")
    known = {*_REQUIRED_FIELDS, *_INLINE_FIELDS, _NPZ_FIELD}
    unknown = [name for name in doc if name not in known]
    if unknown:
        raise ModelFileError(
            "unknown field(s): " + ", ".join(_show(name) for name in unknown))


def _checked_task(task) -> str:
    if task not in TASKS:
        raise ModelFileError(
            f'"task" must be one of {", ".join(TASKS)}; got {_show(task)}')
    return task


def _checked_features(names) -> FeatureMap:
    if not isinstance(names, list) or not names:
        raise ModelFileError(
            f'"features" must be a non-empty list of feature ids, '
            f"got {_show(names)}")
    for name in names:
        if not isinstance(name, str) or name not in FEATURES:
            raise ModelFileError(
                f"unknown input feature {_show(name)}; expected some of: "
                + ", ".join(FEATURES))
    features = FeatureMap(names)
    # The rows of the first weight matrix follow the listed order, and a
    # FeatureMap always keeps the canonical one.
    if list(features.names) != names:
        raise ModelFileError(
            '"features" must list each feature once, in the order '
            + ", ".join(FEATURES))
    return features


def _checked_layers(layers, task, inputs):
    """[(fan_in, units)] per layer and the hidden layers' activations."""
    most = MAX_HIDDEN_LAYERS + 1
    if not isinstance(layers, list) or not 1 <= len(layers) <= most:
        raise ModelFileError(
            f'"layers" must be a list of 1 to {most} layers, '
            f"got {_show(layers)}")
    shapes, activations = [], []
    fan_in = inputs
    for index, layer in enumerate(layers):
        where = f"layers[{index}]"
        is_output = index == len(layers) - 1
        if not isinstance(layer, dict) or set(layer) != {"units",
                                                        "activation"}:
            raise ModelFileError(
                f'{where} must be an object with "units" and "activation" '
                f"only, got {_show(layer)}")
        units, activation = layer["units"], layer["activation"]
        if is_output:
            low, high = (2, MAX_CLASSES) if task == "multiclass" else (1, 1)
        else:
            low, high = 1, MAX_UNITS
        if type(units) is not int or not low <= units <= high:
            what = f"the output layer of a {task} model" if is_output else where
            raise ModelFileError(
                f"{what} must have {_range_text(low, high)} units, "
                f"got {_show(units)}")
        if is_output:
            expected = OUTPUT_ACTIVATIONS[task]
            if activation != expected:
                raise ModelFileError(
                    f'the output layer of a {task} model has activation '
                    f'"{expected}", not {_show(activation)}')
        elif not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ModelFileError(
                f"{where}: unknown activation {_show(activation)}; expected "
                "one of: " + ", ".join(ACTIVATIONS))
        else:
            activations.append(activation)
        shapes.append((fan_in, units))
        fan_in = units
    return shapes, tuple(activations)


def _loaded_class_names(names, task, shapes):
    if names is None:
        return None
    if task == "regression":
        raise ModelFileError(
            f'"class_names" must be null for a regression model, '
            f"got {_show(names)}")
    count = 2 if task == "binary" else shapes[-1][1]
    if (not isinstance(names, list) or len(names) != count
            or not all(isinstance(name, str) for name in names)):
        raise ModelFileError(
            f'"class_names" must be null or a list of {count} strings, '
            f"got {_show(names)}")
    return names


def _inline_params(weights, biases, shapes):
    for field, value in (("weights", weights), ("biases", biases)):
        if not isinstance(value, list) or len(value) != len(shapes):
            raise ModelFileError(
                f'"{field}" must be a list of {len(shapes)} layers, '
                f"got {_show(value)}")
    params = []
    for layer, (fan_in, units) in enumerate(shapes):
        where = f"weights[{layer}]"
        rows = weights[layer]
        if not isinstance(rows, list) or len(rows) != fan_in or not all(
                isinstance(row, list) and len(row) == units for row in rows):
            raise ModelFileError(
                f"{where} must have shape ({fan_in}, {units}): {fan_in} "
                f"rows of {units} numbers (layers[{layer}] has {units} "
                f"units and {fan_in} inputs)")
        bias = biases[layer]
        if not isinstance(bias, list) or len(bias) != units:
            raise ModelFileError(
                f"biases[{layer}] must be a list of {units} numbers, "
                f"got {_show(bias)}")
        params.append((_numbers(rows, where, (fan_in, units)),
                       _numbers(bias, f"biases[{layer}]", (units,))))
    return params


def _numbers(value, where, shape) -> np.ndarray:
    flat = value if len(shape) == 1 else [x for row in value for x in row]
    # bool is an int to Python, and True is not a weight.
    if not all(type(x) is float or type(x) is int for x in flat):
        bad = next(x for x in flat
                   if type(x) is not float and type(x) is not int)
        raise ModelFileError(f"{where} must hold numbers, found {_show(bad)}")
    try:
        array = np.array(flat, dtype=np.float64).reshape(shape)
    except OverflowError:
        raise ModelFileError(f"{where} holds a number too large") from None
    return _finite(array, where)


def _finite(array, where) -> np.ndarray:
    if not np.isfinite(array).all():
        raise ModelFileError(f"{where} holds NaN or infinity")
    return array


def _read_npz(folder: Path, name, shapes, max_bytes):
    """The (W, b) pairs from the npz archive ``name`` in ``folder``."""
    if not _is_plain_npz_name(name):
        raise ModelFileError(
            f'"{_NPZ_FIELD}" must be the name of an .npz file beside the '
            f"JSON file, without folders, got {_show(name)}")
    path = folder / name
    if not path.is_file():
        raise ModelFileError(
            f"the weights file {name} is missing: it must lie beside the "
            "JSON file")
    if path.stat().st_size > max_bytes:
        raise ModelFileError(
            f"the weights file {name} is larger than {size_text(max_bytes)}")

    keys = [f"{kind}{layer}" for layer in range(len(shapes))
            for kind in ("W", "b")]
    expected = {
        f"W{layer}": (fan_in, units) for layer, (fan_in, units)
        in enumerate(shapes)} | {
        f"b{layer}": (units,) for layer, (_, units) in enumerate(shapes)}
    try:
        # Opened here, not by np.load, which leaves the file open when it
        # is not a zip archive.
        with path.open("rb") as stream:
            archive = np.load(stream, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ModelFileError(f"{name} is not an .npz archive")
            with archive:
                _check_archive(archive, name, keys, expected, max_bytes)
                arrays = {key: archive[key] for key in keys}
    except ModelFileError:
        raise
    except (OSError, EOFError, ValueError, KeyError, RuntimeError,
            NotImplementedError, zipfile.BadZipFile, zlib.error) as error:
        raise ModelFileError(
            f"cannot read the weights file {name}: {error}") from None
    return [
        (_finite(arrays[f"W{layer}"].astype(np.float64), f"{name}: W{layer}"),
         _finite(arrays[f"b{layer}"].astype(np.float64), f"{name}: b{layer}"))
        for layer in range(len(shapes))
    ]


def _check_archive(archive, name, keys, expected, max_bytes):
    """Member names, sizes, dtypes and shapes, before any data is read."""
    members = archive.zip.infolist()
    found = sorted(member.filename for member in members)
    if found != sorted(f"{key}.npy" for key in keys):
        shown = ", ".join(_show(member)[1:-1] for member in found[:20])
        raise ModelFileError(
            f"{name} must hold the arrays {', '.join(keys)} and no other; "
            f"it holds: {shown or 'nothing'}")
    # The sizes the archive declares bound what reading it inflates to.
    if sum(member.file_size for member in members) > max_bytes:
        raise ModelFileError(
            f"{name} unpacks to more than {size_text(max_bytes)}")
    for key in keys:
        with archive.zip.open(f"{key}.npy") as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ModelFileError(
                    f"{name}: {key} uses .npy format {version}, not 1.0 "
                    "or 2.0")
        if dtype.kind != "f" or dtype.fields is not None:
            raise ModelFileError(
                f"{name}: {key} must hold floating-point numbers, "
                f"not {dtype}")
        if shape != expected[key]:
            raise ModelFileError(
                f"{name}: {key} must have shape {expected[key]} to fit "
                f'"layers", got {shape}')


def _is_plain_npz_name(name) -> bool:
    return (isinstance(name, str) and name.endswith(".npz")
            and 4 < len(name) <= 255 and not name.startswith(".")
            and not any(c in name for c in "/\\:\0"))


def _columns_used(features: FeatureMap) -> list[tuple[int, str]]:
    """(index, name) of the raw columns the features are computed from."""
    used = {column for name in features.names
            for column in _ONNX_FEATURES[name][2]}
    return [(index, column) for index, column in enumerate(("x1", "x2"))
            if column in used]


def _exportable(model, features):
    """(FeatureMap, params, hidden activation names), checked."""
    if not isinstance(features, FeatureMap):
        features = FeatureMap(features)
    if len(features) != model.inputs:
        raise ValueError(
            f"the model takes {model.inputs} inputs but {len(features)} "
            f"features are given: {', '.join(features.names)}")
    params = model.params()
    for layer, (weights, biases) in enumerate(params):
        if not (np.isfinite(weights).all() and np.isfinite(biases).all()):
            raise ValueError(
                f"layer {layer} holds NaN or infinite weights: nothing "
                "sensible to export")
    return features, params, tuple(act.name for act in model.activations)


def _checked_class_names(names, task, outputs):
    if names is None:
        return None
    if isinstance(names, str):
        raise ValueError("class names must be a list of names, not a string")
    names = [str(name) for name in names]
    if task == "regression":
        raise ValueError("a regression model has no class names")
    count = 2 if task == "binary" else outputs
    if len(names) != count:
        raise ValueError(
            f"a {task} model with {outputs} output(s) needs {count} class "
            f"names, got {len(names)}")
    return names


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string",
             bool: "true or false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _range_text(low, high) -> str:
    return str(low) if low == high else f"{low} to {high}"


# ---------------------------------------------------------------- Python

_SCRIPT = string.Template('''\
"""A trained multi-layer perceptron exported from MLP Studio $version.

$summary

Needs only numpy. From Python::

    from this_module import predict
    predict([[0.5, -1.0], [2.0, 3.0]])

From the command line, with a CSV file whose first two columns are x1 and
x2 (a header line and further columns are ignored); prints one line of
predictions per point::

    python this_file.py points.csv
"""

import csv
import sys

import numpy as np

TASK = "$task"
FEATURES = $features


def features(points):
    """Input features of raw points.

    Parameters
    ----------
    points : (n, 2) array-like of raw (x1, x2).

    Returns
    -------
    (n, $n_features) array, columns in the order of FEATURES.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2), got {points.shape}")
$feature_code
$activation_code

def predict(points):
    """What the network predicts for raw points.

    Parameters
    ----------
    points : (n, 2) array-like of raw (x1, x2).

    Returns
    -------
    $returns
    """
    a = features(points)
    for weights, biases, activation in HIDDEN_LAYERS:
        a = activation(a @ weights + biases)
    logits = a @ OUTPUT_WEIGHTS + OUTPUT_BIASES
$head_code


def read_points(path):
    """(n, 2) array of the first two columns of a CSV file."""
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as stream:
        for line, cells in enumerate(csv.reader(stream), start=1):
            if not "".join(cells).strip():
                continue
            try:
                rows.append([float(cells[0]), float(cells[1])])
            except (ValueError, IndexError):
                if line > 1 or rows:
                    raise ValueError(
                        f"{path}, line {line}: expected x1,x2, got {cells}"
                    ) from None
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


# Hidden layers, input side first: (weights (fan_in, fan_out), biases
# (fan_out,), activation).
HIDDEN_LAYERS = [$hidden_layers]

# Output layer: weights (fan_in, outputs), biases (outputs,).
OUTPUT_WEIGHTS = $output_weights
OUTPUT_BIASES = $output_biases


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {sys.argv[0]} POINTS.csv")
    predictions = predict(read_points(sys.argv[1]))
    for row in predictions.reshape(len(predictions), -1).tolist():
        print(",".join(map(repr, row)))
''')

# Each activation as the script defines it; the same operations, in the
# same order, as the engine's own forward pass, so that the script agrees
# with MLP.predict to the last bit or nearly.
_PY_ACTIVATIONS = {
    "tanh": "def tanh(z):\n    return np.tanh(z)\n",
    "relu": "def relu(z):\n    return np.maximum(z, 0.0)\n",
    "sigmoid": (
        "def sigmoid(z):\n"
        "    # 1 / (1 + e^-z) through tanh, which cannot overflow\n"
        "    return 0.5 + 0.5 * np.tanh(0.5 * z)\n"),
    "linear": "def linear(z):\n    return z\n",
    "leaky_relu": (
        "def leaky_relu(z):\n"
        f"    return np.maximum(z, {LEAKY_SLOPE!r} * z)\n"),
    "swish": (
        "def swish(z):\n"
        "    # z * sigmoid(z), the sigmoid through tanh\n"
        "    return z * (0.5 + 0.5 * np.tanh(0.5 * z))\n"),
}

_PY_HEADS = {
    "binary": (
        "(n,) probabilities of class 1.",
        "    # sigmoid through tanh, which cannot overflow\n"
        "    return 0.5 + 0.5 * np.tanh(0.5 * logits[:, 0])"),
    "multiclass": (
        "(n, classes) probabilities of each class.",
        "    # softmax; without the row maximum, exp could overflow\n"
        "    e = np.exp(logits - logits.max(axis=1, keepdims=True))\n"
        "    return e / e.sum(axis=1, keepdims=True)"),
    "regression": (
        "(n,) predicted values.",
        "    return logits[:, 0]"),
}
_WIDTH = 79


def python_script(model, features) -> str:
    """Source of a standalone Python module that needs only numpy.

    The module's ``predict(points)`` takes an (n, 2) array-like of raw
    (x1, x2) and returns what ``model.predict(features.transform(points))``
    returns: (n,) probabilities of class 1 (binary), (n, classes)
    probabilities (multiclass) or (n,) values (regression). The weights
    are written as literals that read back to the same floats. Run as a
    script, it prints the predictions for the points of a CSV file.

    Parameters
    ----------
    model : a trained MLP.
    features : FeatureMap (or feature ids) of the model's inputs.
    """
    features, params, hidden = _exportable(model, features)
    *hidden_params, (out_weights, out_biases) = params
    used = sorted(set(hidden), key=list(ACTIVATIONS).index)
    returns, head_code = _PY_HEADS[model.task]
    return _SCRIPT.substitute(
        version=__version__,
        task=model.task,
        summary=_summary(model, features),
        features=_tuple_literal(features.names),
        n_features=len(features),
        feature_code=_feature_code(features),
        activation_code="".join("\n\n" + _PY_ACTIVATIONS[name]
                                for name in used),
        returns=returns,
        head_code=head_code,
        hidden_layers=_hidden_layers_code(hidden_params, hidden),
        output_weights=_array_code(out_weights, 0),
        output_biases=_array_code(out_biases, 0),
    )


def save_python(model, features, path: str | os.PathLike) -> None:
    """Write ``python_script(model, features)`` to ``path``, atomically."""
    path = Path(path)
    source = python_script(model, features)
    write_atomically(path, source.encode("utf-8"))
    log.debug("saved %r as a Python script to %s", model, path)


def _summary(model, features: FeatureMap) -> str:
    """What the model is, in a few lines of the script's docstring."""
    sentences = [
        f"Task: {_task_text(model)}",
        "Input features, computed from each raw point (x1, x2): "
        + ", ".join(features.names) + ".",
        f"Layers: {_layers_text(model)}.",
    ]
    return "\n".join(textwrap.fill(sentence, _WIDTH) for sentence in sentences)


def _task_text(model) -> str:
    if model.task == "binary":
        return "binary classification; predict gives P(class 1)."
    if model.task == "multiclass":
        return (f"classification into {model.outputs} classes; predict "
                "gives each class's probability.")
    return "regression; predict gives a value."


def _layers_text(model) -> str:
    hidden = [f"{units} {act.name}" for units, act
              in zip(model.hidden, model.activations)]
    output = f"{model.outputs} {OUTPUT_ACTIVATIONS[model.task]} (output)"
    return ", ".join([*hidden, output])


def _tuple_literal(names: Iterable[str]) -> str:
    names = list(names)
    return "(" + ", ".join(f'"{name}"' for name in names) + (
        ",)" if len(names) == 1 else ")")


def _feature_code(features: FeatureMap) -> str:
    lines = [f"    {column} = points[:, {index}]"
             for index, column in _columns_used(features)]
    exprs = [_PY_FEATURES[name] for name in features.names]
    call = "    return np.column_stack([" + ", ".join(exprs) + "])"
    if len(call) > _WIDTH:
        call = ("    return np.column_stack([\n"
                + "".join(f"        {expr},\n" for expr in exprs) + "    ])")
    return "\n".join([*lines, call])


def _hidden_layers_code(params, activations) -> str:
    if not params:
        return ""
    layers = [
        "    (\n"
        f"        {_array_code(weights, 8)},\n"
        f"        {_array_code(biases, 8)},\n"
        f"        {activation},\n"
        "    ),\n"
        for (weights, biases), activation in zip(params, activations)
    ]
    return "\n" + "".join(layers)


def _array_code(array: np.ndarray, indent: int) -> str:
    """``np.array(...)`` source that reads back to ``array`` exactly,
    wrapped within _WIDTH columns for a first line starting at ``indent``.
    """
    if array.ndim == 1:
        return "np.array(" + _list_code(array.tolist(), indent + 9,
                                        indent) + ")"
    rows = [" " * (indent + 4) + _list_code(row, indent + 4, indent + 4)
            + ",\n"
            for row in array.tolist()]
    return "np.array([\n" + "".join(rows) + " " * indent + "])"


def _list_code(values: list, column: int, margin: int) -> str:
    """``[v0, v1, ...]`` for a list opening at ``column`` of a line
    indented by ``margin``; a long one puts its numbers on lines of their
    own, indented four more."""
    items = [repr(float(value)) for value in values]
    flat = "[" + ", ".join(items) + "]"
    # Room for the "])," or ")," that may follow.
    if column + len(flat) + 3 <= _WIDTH:
        return flat
    inner = " " * (margin + 4)
    lines, line = [], ""
    for item in items:
        if line and len(inner) + len(line) + len(item) + 1 > _WIDTH:
            lines.append(inner + line.rstrip())
            line = ""
        line += item + ", "
    lines.append(inner + line.rstrip())
    return "[\n" + "\n".join(lines) + "\n" + " " * margin + "]"


# ---------------------------------------------------------------- ONNX


def onnx_model(model, features):
    """The model as an ONNX graph (opset 17, float32).

    The graph takes ``points``, a float32 tensor of shape [N, 2] of raw
    (x1, x2) with N free, computes the input features, the layers and the
    head, and returns the same values as ``MLP.predict`` (to float32
    precision): ``probabilities`` of shape [N] (binary, P(class 1)) or
    [N, classes] (multiclass), or ``values`` of shape [N] (regression).

    Parameters
    ----------
    model : a trained MLP.
    features : FeatureMap (or feature ids) of the model's inputs.

    Returns
    -------
    onnx.ModelProto, checked by ``onnx.checker.check_model``.

    Raises
    ------
    ImportError
        If the ``onnx`` package is not installed.
    """
    onnx = _import_onnx()
    features, params, hidden = _exportable(model, features)
    graph = _GraphBuilder(onnx)

    a = _onnx_features(graph, features)
    for layer, (weights, biases) in enumerate(params):
        prefix = f"layer{layer}"
        z = _onnx_dense(graph, a, weights, biases, prefix)
        if layer < len(hidden):
            a = _onnx_activation(graph, hidden[layer], z, prefix)
    output, shape = _onnx_head(graph, model.task, model.outputs, z)

    helper = onnx.helper
    float32 = onnx.TensorProto.FLOAT
    onnx_graph = helper.make_graph(
        graph.nodes, "mlp_studio_model",
        [helper.make_tensor_value_info("points", float32, ["N", 2])],
        [helper.make_tensor_value_info(output, float32, shape)],
        initializer=graph.initializers,
        doc_string=f"{_task_text(model)} Layers: {_layers_text(model)}.",
    )
    proto = helper.make_model(
        onnx_graph,
        producer_name="MLP Studio",
        producer_version=__version__,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        ir_version=ONNX_IR_VERSION,
        doc_string="A multi-layer perceptron trained in MLP Studio. Input "
                   "points: [N, 2] raw (x1, x2).",
    )
    helper.set_model_props(proto, {
        "task": model.task,
        "features": ",".join(features.names),
    })
    onnx.checker.check_model(proto, full_check=True)
    return proto


def save_onnx(model, features, path: str | os.PathLike) -> None:
    """Write ``onnx_model(model, features)`` to ``path``, atomically."""
    path = Path(path)
    proto = onnx_model(model, features)
    write_atomically(path, proto.SerializeToString())
    log.debug("saved %r as ONNX to %s", model, path)


def _import_onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as error:
        raise ImportError(
            "exporting to ONNX needs the onnx package; install it with "
            f"{ONNX_EXTRA}") from error
    return onnx


class _GraphBuilder:
    """Collects an ONNX graph's nodes and constants; each node is named
    after the tensor it produces."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes = []
        self.initializers = []

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(
            self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(self.onnx.helper.make_node(
            op, inputs, [output], name=output, **attrs))
        return output


def _onnx_features(graph: _GraphBuilder, features: FeatureMap) -> str:
    """The tensor of input features, [N, len(features)]."""
    if features.is_identity:
        return "points"
    for index, column in _columns_used(features):
        # Gather with a one-element index list keeps the column 2-D,
        # [N, 1], ready for Concat.
        where = graph.constant(f"{column}_index",
                               np.array([index], dtype=np.int64))
        graph.node("Gather", ["points", where], column, axis=1)
    columns = []
    for name in features.names:
        tensor, op, inputs = _ONNX_FEATURES[name]
        columns.append(tensor if op is None
                       else graph.node(op, list(inputs), tensor))
    return graph.node("Concat", columns, "features", axis=1)


def _onnx_dense(graph: _GraphBuilder, a: str, weights: np.ndarray,
                biases: np.ndarray, prefix: str) -> str:
    """z = a @ weights + biases, with the parameters as float32 constants."""
    weights = graph.constant(f"{prefix}/weights", weights.astype(np.float32))
    biases = graph.constant(f"{prefix}/biases", biases.astype(np.float32))
    product = graph.node("MatMul", [a, weights], f"{prefix}/product")
    return graph.node("Add", [product, biases], f"{prefix}/z")


def _onnx_activation(graph: _GraphBuilder, name: str, z: str,
                     prefix: str) -> str:
    output = f"{prefix}/activation"
    if name == "linear":
        return z
    if name == "swish":
        sigmoid = graph.node("Sigmoid", [z], f"{prefix}/sigmoid")
        return graph.node("Mul", [z, sigmoid], output)
    if name == "leaky_relu":
        return graph.node("LeakyRelu", [z], output, alpha=LEAKY_SLOPE)
    op = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}[name]
    return graph.node(op, [z], output)


def _onnx_head(graph: _GraphBuilder, task: str, outputs: int, z: str):
    """(output tensor name, its shape) for the logits ``z``, [N, outputs]."""
    if task == "multiclass":
        return graph.node("Softmax", [z], "probabilities", axis=-1), [
            "N", outputs]
    axis = graph.constant("output_axis", np.array([1], dtype=np.int64))
    if task == "binary":
        p = graph.node("Sigmoid", [z], "output/sigmoid")
        return graph.node("Squeeze", [p, axis], "probabilities"), ["N"]
    return graph.node("Squeeze", [z, axis], "values"), ["N"]

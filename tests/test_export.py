"""Exports of trained models: ONNX, a standalone Python script and JSON
(weights inline or in an npz), each computing the input features from raw
points; and model files that are not what they claim to be."""

import copy
import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlp_studio.core import (
    ACTIVATIONS,
    FEATURES,
    MLP,
    TASKS,
    FeatureMap,
    export,
    forward_layers,
    make_dataset,
)
from mlp_studio.core.export import (
    ModelFileError,
    load_json,
    model_dict,
    save_json,
    save_onnx,
    save_python,
)

REPO = Path(__file__).resolve().parents[1]
ALL_FEATURES = tuple(FEATURES)
SQUARES = ("x1^2", "x2^2")
RAW = ("x1", "x2")
DATA = {"binary": "circle", "multiclass": "blobs", "regression": "multi-gauss"}
CLASSES = 4
# Raw points over the whole plotted plane, beyond the training data.
POINTS = np.random.default_rng(42).uniform(-6.0, 6.0, (200, 2))


@functools.cache
def trained(task, hidden, activations, feature_names):
    """A small network after a few epochs of Adam, and its features."""
    data = make_dataset(DATA[task], 120, 0.1, seed=2, classes=CLASSES)
    features = FeatureMap(feature_names)
    outputs = CLASSES if task == "multiclass" else 1
    model = MLP(len(features), list(hidden), outputs, list(activations),
                task, seed=7, optimizer="adam")
    X = features.transform(data.X)
    for _ in range(3):
        model.train_epoch(X, data.y, 0.05, batch_size=20)
    return model, features


def case(task, hidden, activations, features, label):
    return pytest.param(task, tuple(hidden), tuple(activations), features,
                        id=f"{task}-{label}")


CASES = [
    case(task, (6, 5), (act, act), names, f"{act}-{label}")
    for task in TASKS
    for act in ACTIVATIONS
    for names, label in ((ALL_FEATURES, "all7"), (SQUARES, "squares"))
] + [
    case(task, (5, 4, 3), ("tanh", "leaky_relu", "swish"), RAW, "mixed-raw")
    for task in TASKS
] + [
    case(task, (), (), names, f"perceptron-{label}")
    for task in TASKS
    for names, label in ((ALL_FEATURES, "all7"), (SQUARES, "squares"),
                         (RAW, "raw"))
]
CASE_ARGS = "task, hidden, activations, names"


def expected_predictions(model, features):
    return model.predict(features.transform(POINTS))


def import_script(path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}",
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and (
        a.tobytes() == b.tobytes())


def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


# ---------------------------------------------------------------- ONNX


@pytest.mark.parametrize(CASE_ARGS, CASES)
def test_onnx_runtime_predicts_what_the_model_predicts(task, hidden,
                                                       activations, names):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model, features = trained(task, hidden, activations, names)

    proto = export.onnx_model(model, features)
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"points": POINTS.astype(np.float32)})

    expected = expected_predictions(model, features)
    assert output.dtype == np.float32
    assert output.shape == expected.shape
    # float32 all the way through, features included.
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("task, output, shape", [
    ("binary", "probabilities", ["N"]),
    ("multiclass", "probabilities", ["N", CLASSES]),
    ("regression", "values", ["N"]),
])
def test_saved_onnx_file_names_its_input_and_output(tmp_path, task, output,
                                                    shape):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model, features = trained(task, (4,), ("relu",), SQUARES)
    path = tmp_path / "model.onnx"

    save_onnx(model, features, path)
    session = ort.InferenceSession(str(path),
                                   providers=["CPUExecutionProvider"])

    (points,) = session.get_inputs()
    (result,) = session.get_outputs()
    assert (points.name, points.shape, points.type) == (
        "points", ["N", 2], "tensor(float)")
    assert (result.name, result.shape) == (output, shape)
    # Any number of points, one included.
    for n in (1, 7):
        (values,) = session.run(None, {"points": np.zeros((n, 2), np.float32)})
        assert values.shape == (n, *shape[1:])


def test_onnx_export_without_onnx_names_the_extra_and_core_imports():
    code = (
        "import sys\n"
        "import mlp_studio.core, mlp_studio.core.export as export\n"
        "print('onnx' in sys.modules)\n"
        "sys.modules['onnx'] = None  # as if not installed\n"
        "try:\n"
        "    export.onnx_model(mlp_studio.core.MLP(2, [3]), ('x1', 'x2'))\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True, env=subprocess_env())
    loaded, message = out.stdout.strip().split("\n")
    assert loaded == "False"
    assert 'pip install "mlp-studio[onnx]"' in message


# ---------------------------------------------------------------- Python


@pytest.mark.parametrize(CASE_ARGS, CASES)
def test_script_predicts_what_the_model_predicts(tmp_path, task, hidden,
                                                 activations, names):
    model, features = trained(task, hidden, activations, names)
    path = tmp_path / "exported_model.py"

    save_python(model, features, path)
    script = import_script(path)

    expected = expected_predictions(model, features)
    predicted = script.predict(POINTS.tolist())  # any array-like
    assert predicted.shape == expected.shape
    np.testing.assert_allclose(predicted, expected, rtol=0, atol=1e-12)
    assert task == script.TASK
    assert features.names == script.FEATURES


@pytest.mark.parametrize("task", TASKS)
def test_script_passes_ruff_and_predicts_a_csv_file(tmp_path, task):
    model, features = trained(task, (6, 5), ("swish", "sigmoid"),
                              ALL_FEATURES)
    path = tmp_path / "exported_model.py"
    save_python(model, features, path)
    points = tmp_path / "points.csv"
    # A file as MLP Studio saves data sets: header, x1, x2, label.
    points.write_text("x1,x2,label\n0.5,-1.25,1\n\n3.0,2.0,0\n-6,6,1\n")

    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache",
         "--extend-select", "E,W", str(path)],
        capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    out = subprocess.run([sys.executable, str(path), str(points)],
                         capture_output=True, text=True, check=True)
    printed = np.array([[float(cell) for cell in line.split(",")]
                        for line in out.stdout.splitlines()])
    raw = np.array([[0.5, -1.25], [3.0, 2.0], [-6.0, 6.0]])
    expected = import_script(path).predict(raw)
    assert np.array_equal(printed, expected.reshape(3, -1))


def test_script_refuses_points_of_the_wrong_shape(tmp_path):
    model, features = trained("binary", (4,), ("tanh",), SQUARES)
    save_python(model, features, tmp_path / "exported_shape.py")
    script = import_script(tmp_path / "exported_shape.py")
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        script.predict([1.0, 2.0, 3.0])


# ---------------------------------------------------------------- JSON


@pytest.mark.parametrize("npz", [False, True], ids=["inline", "npz"])
@pytest.mark.parametrize(CASE_ARGS, CASES)
def test_json_round_trip_is_exact(tmp_path, task, hidden, activations,
                                  names, npz):
    model, features = trained(task, hidden, activations, names)
    path = tmp_path / "model.json"

    save_json(model, features, path, npz=npz)
    params, loaded_acts, loaded_task, loaded_features = load_json(path)

    assert (loaded_acts, loaded_task, loaded_features) == (
        activations, task, features)
    for (w, b), (w_loaded, b_loaded) in zip(model.params(), params,
                                            strict=True):
        assert same_bits(w, w_loaded) and same_bits(b, b_loaded)
    X = features.transform(POINTS)
    assert np.array_equal(
        forward_layers(params, loaded_acts, loaded_task, X)[-1],
        forward_layers(model.params(), activations, task, X)[-1])
    assert (tmp_path / "model.npz").exists() == npz


def test_json_document_is_the_documented_one(tmp_path):
    model, features = trained("multiclass", (5, 3), ("relu", "tanh"),
                              SQUARES)
    names = ["red", "green", "blue", "yellow"]
    save_json(model, features, tmp_path / "model.json", class_names=names)
    save_json(model, features, tmp_path / "split.json", npz=True)

    doc = json.loads((tmp_path / "model.json").read_text("utf-8"))
    assert doc == model_dict(model, features, names)
    assert doc["format"] == "mlp-studio-model" and doc["version"] == 1
    assert doc["features"] == ["x1^2", "x2^2"]
    assert doc["layers"] == [{"units": 5, "activation": "relu"},
                             {"units": 3, "activation": "tanh"},
                             {"units": 4, "activation": "softmax"}]
    assert [np.shape(w) for w in doc["weights"]] == [(2, 5), (5, 3), (3, 4)]
    assert load_json(tmp_path / "model.json").class_names == names

    split = json.loads((tmp_path / "split.json").read_text("utf-8"))
    assert split["arrays"] == "split.npz"
    assert "weights" not in split and "biases" not in split
    with np.load(tmp_path / "split.npz", allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["W0", "W1", "W2", "b0", "b1", "b2"]


def test_export_refuses_what_does_not_fit(tmp_path):
    model, features = trained("binary", (4,), ("tanh",), SQUARES)
    with pytest.raises(ValueError, match="2 class names"):
        model_dict(model, features, ["only one"])
    with pytest.raises(ValueError, match="not a string"):
        model_dict(model, features, "ab")
    with pytest.raises(ValueError, match="takes 2 inputs"):
        model_dict(model, ALL_FEATURES)
    with pytest.raises(ValueError, match="not ending in .npz"):
        save_json(model, features, tmp_path / "model.npz", npz=True)
    regression, features = trained("regression", (), (), RAW)
    with pytest.raises(ValueError, match="no class names"):
        model_dict(regression, features, ["a", "b"])


# ---------------------------------------------------------------- bad files

VALID_MODEL = trained("multiclass", (3,), ("tanh",), SQUARES)
VALID = model_dict(*VALID_MODEL)


def mutated(change):
    doc = copy.deepcopy(VALID)
    change(doc)
    return doc


def weights_in(name):
    """A change moving the weights into the npz file ``name``."""
    def change(doc):
        del doc["weights"], doc["biases"]
        doc["arrays"] = name
    return change


def write_doc(path, doc):
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(version=2), "version 2, written by a newer"),
    (lambda d: d.update(version="1"), '"version" must be a whole number'),
    (lambda d: d.update(version=True), '"version" must be a whole number'),
    (lambda d: d.update(format="keras"), "not an MLP Studio model file"),
    (lambda d: d.pop("layers"), r"missing field\(s\): layers"),
    (lambda d: d.pop("biases"), r"missing field\(s\): biases"),
    (lambda d: d.pop("class_names"), r"missing field\(s\): class_names"),
    (lambda d: d.update(comment="hi"), r"unknown field\(s\): 'comment'"),
    (lambda d: d.update(arrays="model.npz"), "not both"),
    (lambda d: d.update(task="classification"), '"task" must be one of'),
    (lambda d: d.update(features="x1^2"), '"features" must be a non-empty'),
    (lambda d: d.update(features=["x1^2", "x3"]), "unknown input feature 'x3'"),
    (lambda d: d.update(features=["x2^2", "x1^2"]), "in the order"),
    (lambda d: d["layers"][0].update(activation="gelu"),
     r"layers\[0\]: unknown activation 'gelu'"),
    (lambda d: d["layers"][1].update(activation="sigmoid"),
     'output layer of a multiclass model has activation "softmax"'),
    (lambda d: d["layers"][0].update(units=2.5),
     r"layers\[0\] must have 1 to 256 units, got 2.5"),
    (lambda d: d["layers"][0].update(units=True), r"units, got True"),
    (lambda d: d["layers"][1].update(units=7), "2 to 6 units, got 7"),
    (lambda d: d["layers"][0].update(bias=True), '"units" and "activation"'),
    (lambda d: d.update(layers=[]), '"layers" must be a list of 1 to 17'),
    (lambda d: d["layers"][0].update(units=4),
     r"weights\[0\] must have shape \(2, 4\)"),
    (lambda d: d["weights"][1].pop(),
     r"weights\[1\] must have shape \(3, 4\)"),
    (lambda d: d["weights"].pop(), '"weights" must be a list of 2 layers'),
    (lambda d: d["biases"][0].append(0.0),
     r"biases\[0\] must be a list of 3 numbers"),
    (lambda d: d["weights"][0][1].__setitem__(2, "0.5"),
     r"weights\[0\] must hold numbers, found '0.5'"),
    (lambda d: d["weights"][0][1].__setitem__(2, True),
     r"weights\[0\] must hold numbers, found True"),
    (lambda d: d["weights"][0][0].__setitem__(0, float("nan")),
     r"weights\[0\] holds NaN or infinity"),
    (lambda d: d["biases"][1].__setitem__(0, float("-inf")),
     r"biases\[1\] holds NaN or infinity"),
    (lambda d: d["weights"][0][0].__setitem__(0, 10**400),
     r"weights\[0\] holds a number too large"),
    (lambda d: d.update(class_names=["a", "b"]),
     '"class_names" must be null or a list of 4 strings'),
    (lambda d: d.update(class_names=[1, 2, 3, 4]), "list of 4 strings"),
    (weights_in("../elsewhere.npz"), "without folders"),
    (weights_in(["model.npz"]), '"arrays" must be the name of an .npz'),
    (weights_in("model.npz"), "model.npz is missing"),
])
def test_load_json_says_what_is_wrong(tmp_path, change, message):
    path = write_doc(tmp_path / "model.json", mutated(change))
    with pytest.raises(ModelFileError, match=message):
        load_json(path)


@pytest.mark.parametrize("text, message", [
    (json.dumps(VALID)[:-40], "ends too early; is the file truncated"),
    ('{"format": nope}', r"not valid JSON: Expecting value: line 1 column 12"),
    ('{"version": ' + "9" * 5000 + "}", "not valid JSON: Exceeds the limit"),
    ("", "the file is empty"),
    ("[1, 2]", "expected a JSON object, got a list"),
    ('{"format": 1, "format": 2}', "field 'format' appears twice"),
    ("[" * 100_000, "nested too deeply"),
    ('{"format": "mlp-studio-model", "version": 1}', r"missing field\(s\): "
     "task, features, layers, class_names, weights, biases"),
])
def test_load_json_rejects_text_that_is_no_model(tmp_path, text, message):
    path = tmp_path / "model.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError, match=message):
        load_json(path)


def test_load_json_rejects_bytes_that_are_not_text(tmp_path):
    path = tmp_path / "model.json"
    path.write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(ModelFileError, match="not UTF-8"):
        load_json(path)


def test_load_json_refuses_a_file_too_large_before_reading_it(tmp_path):
    path = tmp_path / "huge.json"
    with path.open("wb") as stream:
        stream.truncate(export.MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ModelFileError, match="larger than 50 MB"):
        load_json(path)
    small = write_doc(tmp_path / "model.json", VALID)
    with pytest.raises(ModelFileError, match="larger than 100 bytes"):
        load_json(small, max_bytes=100)


def rewrite_npz(path, arrays):
    with path.open("wb") as stream:
        np.savez(stream, **arrays)


@pytest.fixture
def npz_model(tmp_path):
    """A saved JSON + npz pair, and the npz's arrays."""
    path = tmp_path / "model.json"
    save_json(*VALID_MODEL, path, npz=True)
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:
        arrays = dict(archive)
    return path, arrays


def renamed(arrays, old, new):
    arrays = dict(arrays)
    arrays[new] = arrays.pop(old)
    return arrays


@pytest.mark.parametrize("change, message", [
    (lambda a: renamed(a, "W1", "W9"),
     "must hold the arrays W0, b0, W1, b1 and no other; it holds: W0.npy"),
    (lambda a: a | {"extra": np.zeros(2)}, "and no other"),
    (lambda a: a | {"W1": a["W1"].T}, r"W1 must have shape \(3, 4\)"),
    (lambda a: a | {"b0": a["b0"][:2]}, r"b0 must have shape \(3,\)"),
    (lambda a: a | {"W0": a["W0"].astype(np.int64)},
     "W0 must hold floating-point numbers, not int64"),
    (lambda a: a | {"b1": np.array([None, 1, 2, 3], dtype=object)},
     "b1 must hold floating-point numbers, not object"),
    (lambda a: a | {"W0": np.full_like(a["W0"], np.nan)},
     "W0 holds NaN or infinity"),
])
def test_load_json_checks_the_npz_arrays(npz_model, change, message):
    path, arrays = npz_model
    rewrite_npz(path.with_suffix(".npz"), change(arrays))
    with pytest.raises(ModelFileError, match=message):
        load_json(path)


def test_load_json_reads_float32_npz_arrays(npz_model):
    path, arrays = npz_model
    rewrite_npz(path.with_suffix(".npz"),
                {k: v.astype(np.float32) for k, v in arrays.items()})
    params = load_json(path).params
    assert params[0][0].dtype == np.float64
    assert np.array_equal(params[0][0], arrays["W0"].astype(np.float32))


def test_load_json_rejects_a_missing_or_broken_npz(npz_model):
    path, _ = npz_model
    npz = path.with_suffix(".npz")
    npz.write_bytes(b"\x80\x04 not an archive")
    with pytest.raises(ModelFileError, match="cannot read the weights file"):
        load_json(path)
    npz.write_bytes(b"PK\x03\x04 a broken zip")
    with pytest.raises(ModelFileError, match="model.npz"):
        load_json(path)
    npz.unlink()
    with pytest.raises(ModelFileError, match="model.npz is missing"):
        load_json(path)


def test_load_json_refuses_an_npz_that_inflates_too_far(npz_model):
    path, arrays = npz_model
    # A megabyte of zeros packs into a few kilobytes.
    np.savez_compressed(path.with_suffix(".npz"),
                        **arrays | {"b0": np.zeros(2**17)})
    with pytest.raises(ModelFileError, match="unpacks to more than 1 MB"):
        load_json(path, max_bytes=2**20)


# Anything json can write: what a confused or hostile file may hold.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)


def value_paths(value, path=()):
    """Every place in a JSON document a value sits."""
    yield path
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        yield from value_paths(item, (*path, key))


VALID_PATHS = list(value_paths(VALID))[1:]


def replaced(doc, path, value):
    doc = copy.deepcopy(doc)
    *parents, last = path
    container = doc
    for key in parents:
        container = container[key]
    container[last] = value
    return doc


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "model.json"


def loads_or_says_why(path):
    try:
        loaded = load_json(path)
    except ModelFileError as error:
        assert str(error)
    else:
        assert len(loaded) == 4


@settings(max_examples=150, deadline=None)
@given(doc=json_values)
def test_any_json_document_loads_or_raises_model_file_error(scratch, doc):
    write_doc(scratch, doc)
    loads_or_says_why(scratch)


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(VALID_PATHS), value=json_values)
def test_a_valid_document_with_one_value_replaced_never_crashes(
        scratch, path, value):
    write_doc(scratch, replaced(VALID, path, value))
    loads_or_says_why(scratch)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_load_or_raise_model_file_error(scratch, data):
    scratch.write_bytes(data)
    loads_or_says_why(scratch)


# ---------------------------------------------------------------- writing


def save_inline(model, features, path):
    save_json(model, features, path)


def save_split(model, features, path):
    save_json(model, features, path, npz=True)


def save_onnx_if_possible(model, features, path):
    pytest.importorskip("onnx")
    save_onnx(model, features, path)


@pytest.mark.parametrize("save", [save_inline, save_split, save_python,
                                  save_onnx_if_possible])
def test_interrupted_write_leaves_the_previous_file(tmp_path, monkeypatch,
                                                    save):
    path = tmp_path / "model.out"
    save(*trained("binary", (3,), ("tanh",), RAW), path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save(*trained("binary", (5,), ("relu",), RAW), path)

    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # no temporary file left behind either


# ---------------------------------------------------------------- the docs

DOCS = (REPO / "docs" / "model-format.md").read_text(encoding="utf-8")


def test_documented_example_is_a_valid_model_file(tmp_path):
    example = DOCS.split("```json\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "circle.json"
    path.write_text(example, encoding="utf-8")

    loaded = load_json(path)

    assert (loaded.task, loaded.features.names) == ("binary", SQUARES)
    assert loaded.class_names == ["outside", "inside"]


@pytest.mark.parametrize("npz", [False, True], ids=["inline", "npz"])
@pytest.mark.parametrize("task", TASKS)
def test_documented_numpy_loader_predicts_what_the_model_does(tmp_path,
                                                              task, npz):
    section = DOCS.split("### Loading it with plain numpy", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    loader = {}
    exec(code, loader)  # the documentation's own code, as written
    model, features = trained(task, (5, 4), ("swish", "leaky_relu"),
                              ALL_FEATURES)
    save_json(model, features, tmp_path / "model.json", npz=npz)

    predicted = loader["predict"](tmp_path / "model.json", POINTS)

    expected = expected_predictions(model, features)
    assert predicted.shape == expected.shape
    np.testing.assert_allclose(predicted, expected, rtol=0, atol=1e-12)

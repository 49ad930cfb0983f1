"""Saving and loading data sets as CSV: our own files, foreign ones, and
files that are not data sets at all."""

import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp_studio.core import TASKS, Dataset, dataset_io, make_dataset
from mlp_studio.core.dataset_io import DataFileError, load_csv, save_csv
from mlp_studio.core.datasets import DOMAIN


def write(path, content):
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.write_bytes(data)
    return path


def same_bits(a, b):
    """Equal arrays, telling -0.0 from 0.0."""
    return a.dtype == b.dtype and a.shape == b.shape and (
        a.tobytes() == b.tobytes())


# ---------------------------------------------------------------- our files


@pytest.mark.parametrize("name, task, classes", [
    ("circle", "binary", 3),
    ("spiral", "binary", 3),
    ("blobs", "multiclass", 5),
    ("plane", "regression", 3),
    ("multi-gauss", "regression", 3),
])
def test_saved_data_sets_load_back_exactly(tmp_path, name, task, classes):
    data = make_dataset(name, 400, 0.1, seed=5, classes=classes)
    assert np.abs(data.X).max() <= DOMAIN  # else it would be rescaled
    path = tmp_path / "points.csv"
    save_csv(data, path)

    loaded = load_csv(path)
    back = loaded.dataset
    assert same_bits(back.X, data.X) and same_bits(back.y, data.y)
    assert (back.task, back.n_classes) == (task, data.n_classes)
    assert back.name == "points"
    assert loaded.columns == ("x1", "x2", "label")
    assert (loaded.scale, loaded.offset, loaded.rescaled) == (1.0, (0.0, 0.0),
                                                              False)
    assert loaded.notes == ()


def test_file_format_is_a_header_and_one_row_per_point(tmp_path):
    data = Dataset([[0.1, -2.0], [1 / 3, 6.0]], [1, 0], "binary", 2)
    save_csv(data, tmp_path / "a.csv")
    text = (tmp_path / "a.csv").read_text(encoding="utf-8")
    assert text == "x1,x2,label\n0.1,-2.0,1\n0.3333333333333333,6.0,0\n"

    targets = Dataset([[0.0, 0.0], [1.0, 1.0]], [0.0, 1.0], "regression", 0)
    save_csv(targets, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().splitlines()[1:] == [
        "0.0,0.0,0.0", "1.0,1.0,1.0"]


def test_saved_points_beyond_the_view_are_rescaled_on_loading(tmp_path):
    data = make_dataset("gauss", 300, 1.0, seed=0)
    assert np.abs(data.X).max() > DOMAIN
    save_csv(data, tmp_path / "wide.csv")
    loaded = load_csv(tmp_path / "wide.csv")
    assert loaded.rescaled and same_bits(loaded.dataset.y, data.y)
    # Exact up to rounding, relative to the size of the whole picture.
    np.testing.assert_allclose(
        loaded.dataset.X / loaded.scale + loaded.offset, data.X, rtol=0,
        atol=1e-14 * np.abs(data.X).max())


def test_whole_number_targets_stay_a_regression(tmp_path):
    data = Dataset([[0.0, 0.0], [1.0, 1.0]], [0.0, 1.0], "regression", 0)
    save_csv(data, tmp_path / "r.csv")
    assert load_csv(tmp_path / "r.csv").dataset.task == "regression"


def test_awkward_floats_load_back_exactly(tmp_path):
    X = np.array([[-0.0, 5e-324], [DOMAIN, -DOMAIN], [1 / 3, -2.2e-308],
                  [0.1 + 0.2, np.nextafter(DOMAIN, 0)]])
    y = np.array([1e300, -0.0, 5e-324, 0.1])
    data = Dataset(X, y, "regression", 0)
    save_csv(data, tmp_path / "odd.csv")
    back = load_csv(tmp_path / "odd.csv").dataset
    assert same_bits(back.X, data.X) and same_bits(back.y, data.y)


# ---------------------------------------------------------------- atomic write


def test_failed_rename_keeps_the_old_file_and_no_temporary(tmp_path,
                                                           monkeypatch):
    path = write(tmp_path / "keep.csv", "x1,x2,label\n1.0,2.0,0\n")

    def refuse(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(dataset_io.os, "replace", refuse)
    with pytest.raises(OSError, match="disk gone"):
        save_csv(make_dataset("xor", 50), path)
    assert path.read_text() == "x1,x2,label\n1.0,2.0,0\n"
    assert os.listdir(tmp_path) == ["keep.csv"]


def test_failure_in_the_middle_of_writing_keeps_the_old_file(tmp_path,
                                                             monkeypatch):
    path = write(tmp_path / "keep.csv", "old")

    def half_then_fail(dataset):
        yield "x1,x2,label\n"
        yield "1.0,2.0,0\n"
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_io, "_format_lines", half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        save_csv(make_dataset("xor", 50), path)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["keep.csv"]


def test_save_replaces_an_existing_file_and_leaves_no_temporary(tmp_path):
    path = write(tmp_path / "data.csv", "old")
    save_csv(make_dataset("gauss", 20), path)
    assert path.read_text().startswith("x1,x2,label\n")
    assert os.listdir(tmp_path) == ["data.csv"]


# ---------------------------------------------------------------- foreign files


def test_named_columns_text_labels_semicolons_bom_crlf(tmp_path):
    path = write(tmp_path / "iris.csv", (
        "\ufeffid;petal;sepal;species\r\n"
        "1;1.5;0.2;setosa\r\n"
        "\r\n"
        "2;4.5;1.5;versicolor\r\n"
        "3;1.4;0.3;setosa\r\n"
        "4;6.0;2.5;virginica\r\n"
    ))
    loaded = load_csv(path)
    data = loaded.dataset
    # "id" is numeric too, but it comes first: the first two numeric
    # columns win, the named label column is never a coordinate.
    assert loaded.columns == ("id", "petal", "species")
    assert data.y.tolist() == [0, 1, 0, 2]
    assert (data.task, data.n_classes) == ("multiclass", 3)
    assert any("'setosa' = 0" in note and "'virginica' = 2" in note
               for note in loaded.notes)
    assert any("semicolon" in note for note in loaded.notes)


def test_coordinate_and_label_names_are_recognised(tmp_path):
    path = write(tmp_path / "xy.csv",
                 "index,Y,comment,X,target\n0,1,a,2,1\n1,3,b,4,0\n")
    loaded = load_csv(path)
    assert loaded.columns == ("X", "Y", "target")
    assert loaded.dataset.X.tolist() == [[2.0, 1.0], [4.0, 3.0]]
    assert loaded.dataset.y.tolist() == [1, 0]


def test_label_found_by_name_before_the_coordinates(tmp_path):
    path = write(tmp_path / "c.csv", "class,a,b\nred,1,2\nblue,3,4\n")
    loaded = load_csv(path)
    assert loaded.columns == ("a", "b", "class")
    assert loaded.dataset.task == "binary"
    assert loaded.dataset.y.tolist() == [0, 1]


def test_file_without_header_uses_first_two_columns_and_the_last(tmp_path):
    path = write(tmp_path / "raw.tsv", "1\t2\t9\t0\n3\t4\t9\t2\n-1\t0\t9\t1")
    loaded = load_csv(path)
    assert loaded.columns == ("column 1", "column 2", "column 4")
    assert loaded.dataset.X.tolist() == [[1, 2], [3, 4], [-1, 0]]
    assert loaded.dataset.y.tolist() == [0, 2, 1]
    assert loaded.dataset.task == "multiclass"
    assert any("no header" in note for note in loaded.notes)


def test_large_coordinates_are_moved_into_the_view(tmp_path):
    path = write(tmp_path / "far.csv",
                 "x,y,label\n100,0,0\n120,5,1\n110,2.5,1\n")
    loaded = load_csv(path)
    assert loaded.rescaled
    # Centre (110, 2.5); the widest half-extent is 10, so the scale is 0.5.
    assert loaded.offset == (110.0, 2.5) and loaded.scale == 0.5
    X = loaded.dataset.X
    assert X.tolist() == [[-5.0, -1.25], [5.0, 1.25], [0.0, 0.0]]
    raw = X / loaded.scale + loaded.offset
    assert raw.tolist() == [[100, 0], [120, 5], [110, 2.5]]
    assert any("moved into" in note for note in loaded.notes)


def test_rescaling_follows_the_recorded_formula(tmp_path, rng):
    raw = rng.normal([3e4, -7.0], [2e3, 1.0], (200, 2))
    targets = rng.normal(size=200).tolist()
    lines = [f"{a!r},{b!r},{c!r}" for (a, b), c in zip(raw.tolist(), targets)]
    path = write(tmp_path / "far.csv", "\n".join(["x1,x2,label", *lines]))
    loaded = load_csv(path)
    X = loaded.dataset.X
    expected = (raw - np.array(loaded.offset)) * loaded.scale
    assert same_bits(X, expected)
    assert np.abs(X).max() == pytest.approx(dataset_io.VIEW_EXTENT)
    np.testing.assert_allclose(X / loaded.scale + loaded.offset, raw,
                               rtol=1e-14)


def test_coordinates_near_the_float_limit_do_not_overflow(tmp_path):
    path = write(tmp_path / "huge.csv",
                 "x1,x2,label\n-1.7e308,0,0\n1.7e308,1e308,1\n")
    loaded = load_csv(path)
    assert np.isfinite(loaded.dataset.X).all()
    assert np.abs(loaded.dataset.X).max() <= DOMAIN


def test_points_in_one_place_outside_the_view_are_only_moved(tmp_path):
    path = write(tmp_path / "one.csv",
                 "x1,x2,label\n7,5e-324,0\n7,0,1\n7,5e-324,1\n")
    loaded = load_csv(path)
    assert loaded.rescaled and loaded.scale == 1.0
    assert np.abs(loaded.dataset.X).max() < 1e-300


def test_points_inside_the_view_are_not_moved(tmp_path):
    path = write(tmp_path / "near.csv", "x1,x2,label\n5.5,5.9,1\n6,6,0\n")
    loaded = load_csv(path)
    assert not loaded.rescaled
    assert loaded.dataset.X.tolist() == [[5.5, 5.9], [6.0, 6.0]]


def test_task_argument_overrides_inference(tmp_path):
    path = write(tmp_path / "t.csv", "x1,x2,label\n0,0,1.0\n1,1,0.0\n")
    assert load_csv(path).dataset.task == "regression"
    binary = load_csv(path, task="binary").dataset
    assert (binary.task, binary.y.tolist()) == ("binary", [1, 0])
    multi = load_csv(path, task="multiclass").dataset
    assert (multi.task, multi.n_classes) == ("multiclass", 2)

    classes = write(tmp_path / "c.csv", "x1,x2,label\n0,0,0\n1,1,1\n")
    assert load_csv(classes, task="regression").dataset.y.dtype == np.float64
    with pytest.raises(ValueError, match="unknown task") as caught:
        load_csv(classes, task="clustering")
    assert not isinstance(caught.value, DataFileError)


def test_task_argument_is_checked_against_the_labels(tmp_path):
    path = write(tmp_path / "t.csv", "x1,x2,label\n0,0,0\n1,1,1\n2,2,2\n")
    with pytest.raises(DataFileError, match=r"^line 4: label '2' is not a "
                                            r"class number 0 to 1$"):
        load_csv(path, task="binary")
    names = write(tmp_path / "n.csv", "x1,x2,label\n0,0,a\n1,1,b\n2,2,c\n")
    with pytest.raises(DataFileError, match="^line 4: too many classes"):
        load_csv(names, task="binary")
    with pytest.raises(DataFileError,
                       match="^line 2: 'a' in column label is not a number"):
        load_csv(names, task="regression")


def test_whole_numbers_beyond_six_classes_become_regression(tmp_path):
    rows = "\n".join(f"{i % 5},{i % 3},{i}" for i in range(10))
    loaded = load_csv(write(tmp_path / "d.csv", "x1,x2,label\n" + rows))
    assert loaded.dataset.task == "regression"
    assert any("regression" in note for note in loaded.notes)


# ---------------------------------------------------------------- bad files


BAD_FILES = [
    (b"", r"the file is empty"),
    (b"\n \r\n\t\n", r"the file is empty"),
    (b"\xef\xbb\xbf", r"the file is empty"),
    (b"x1,x2,label\n\n", r"no rows of data"),
    (b"x1,x2\n1,2\n", r"line 1: expected at least 3 columns \(x1, x2, label\), "
                      r"found 2"),
    (b"x1,x2,label\n1,2,0\n\n3,4,1\n1,2,0\n1,2,0\n1,2\n",
     r"line 7: expected 3 values, found 2"),
    (b"x1,x2,label\r\n1,2,0\r\n1,2,0,\r\n", r"line 3: expected 3 values, "
                                            r"found 4"),
    (b"\xef\xbb\xbfx1,x2,label\n" + b"1,2,0\n" * 10 + b"1,abc,0\n",
     r"line 12: 'abc' in column x2 is not a number"),
    (b"x1,x2,label\n1,2,0\nnan,1,0\n", r"line 3: x1 is NaN"),
    (b"x1,x2,label\n1,-inf,0\n", r"line 2: x2 is infinite"),
    (b"x1,x2,label\n1,1e999,0\n", r"line 2: x2 is too large"),
    (b"x1,x2,label\n1,1_000,0\n", r"line 2: '1_000' in column x2 is not a "
                                  r"number"),
    (b"x1,x2,label\n,1,0\n", r"line 2: x1 is empty"),
    (b"x1,x2,label\n1,1,0\n1,1,\n", r"line 3: label is empty"),
    (b"x1,x2,label\n1,1,0.5\n1,1,nan\n", r"line 3: label is NaN"),
    (b"x1,x2,label\n1,1,0.5\n1,1,-inf\n", r"line 3: label is infinite"),
    (b"x1,x2,label\n" + b"".join(b"1,1,%c\n" % c for c in b"abcdefg"),
     r"line 8: too many classes: 'g' would be class number 7, at most 6"),
    (b"x1,x2,label\n1,2,0\n1,2,\xff\n", r"line 3: not UTF-8 text"),
    (b"x1,x2,label\r\n1,2,0\r\n1,2\x00,0\r\n",
     r"line 3: '2\\x00' in column x2 is not a number"),
    (b"x1,x2,label\n1,2,0\n1,2," + b"a" * 200_000 + b"\n",
     r"line 3: not valid CSV \(field larger than field limit"),
    (b"a,b,c\nfoo,bar,baz\n", r"need two columns of numbers for the "
                              r"coordinates, found 0"),
    (b"x;y;class\n1,5;2,0;a\n", r"line 2: '1,5' in column x is not a number"),
    (b"1,2,0\r3,4,1\r5,6\r", r"line 3: expected 3 values, found 2"),
]


@pytest.mark.parametrize("content, message", BAD_FILES)
def test_bad_files_are_refused_with_the_line(tmp_path, content, message):
    path = write(tmp_path / "bad.csv", content)
    with pytest.raises(DataFileError, match=f"^{message}"):
        load_csv(path)


def test_error_carries_the_line_and_the_problem(tmp_path):
    path = write(tmp_path / "bad.csv", "x1,x2,label\n1,2,0\n1,2\n")
    with pytest.raises(DataFileError) as caught:
        load_csv(path)
    assert caught.value.line == 3
    assert caught.value.problem == "expected 3 values, found 2"


def test_large_files_are_refused_before_they_are_read(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    with path.open("wb") as stream:
        stream.truncate(10 * 2**20 + 1)  # sparse: costs no disk

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(type(path), "open", no_reading)
    with pytest.raises(DataFileError, match="^the file is larger than 10 MB$"):
        load_csv(path)


def test_size_and_row_limits_can_be_lowered(tmp_path):
    path = write(tmp_path / "rows.csv", "x1,x2,label\n" + "1,2,0\n" * 4)
    with pytest.raises(DataFileError, match="^line 5: more than 3 rows"):
        load_csv(path, max_rows=3)
    with pytest.raises(DataFileError, match="larger than 20 bytes"):
        load_csv(path, max_bytes=20)
    assert len(load_csv(path, max_rows=4).dataset) == 4


# ---------------------------------------------------------------- properties


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("hypothesis") / "data.csv"


def load_or_refuse(path, task=None):
    """Load ``path``; a refusal must be a DataFileError, and whatever loads
    must be a well-formed data set inside the view."""
    try:
        loaded = load_csv(path, task=task)
    except DataFileError as error:
        assert re.fullmatch(r"(line \d+: )?\S.*", str(error), re.DOTALL)
        return None
    data = loaded.dataset
    assert data.task in TASKS and len(data) >= 1
    assert task is None or data.task == task
    assert np.isfinite(data.X).all() and np.abs(data.X).max() <= DOMAIN
    assert np.isfinite(loaded.scale) and loaded.scale > 0
    return loaded


LOOSE = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


@LOOSE
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(scratch, content):
    load_or_refuse(write(scratch, content))


@LOOSE
@given(st.text(max_size=200))
def test_random_text_never_crashes(scratch, content):
    load_or_refuse(write(scratch, content.encode("utf-8", "surrogatepass")))


CELLS = st.one_of(
    st.sampled_from(["", " ", "0", "1", "2", "5", "7", "-1", "1.0", "0.5",
                     "nan", "-inf", "1e999", "1e308", "-1e308", "5e-324",
                     "x1", "x2", "x", "y", "label", "class", "abc", '"',
                     '"a,b"', "a;b", "1,5", "\x00", "\ufeff"]),
    st.floats().map(repr),
    st.integers(-10, 10).map(str),
    st.text(max_size=4),
)


@LOOSE
@given(
    rows=st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=12),
    separator=st.sampled_from([",", ";", "\t"]),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    task=st.sampled_from([None, *TASKS]),
)
def test_random_csv_rows_never_crash(scratch, rows, separator, newline, task):
    text = newline.join(separator.join(row) for row in rows)
    load_or_refuse(write(scratch, text.encode("utf-8", "surrogatepass")), task)


@st.composite
def datasets(draw):
    n = draw(st.integers(1, 40))
    coordinate = st.floats(-DOMAIN, DOMAIN)
    X = draw(st.lists(st.tuples(coordinate, coordinate), min_size=n,
                      max_size=n))
    task = draw(st.sampled_from(TASKS))
    if task == "regression":
        target = st.floats(allow_nan=False, allow_infinity=False)
        return Dataset(X, draw(st.lists(target, min_size=n, max_size=n)),
                       task, 0)
    n_classes = 2 if task == "binary" else draw(st.integers(3, 6))
    y = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    return Dataset(X, y, task, n_classes)


@settings(max_examples=100, deadline=None)
@given(data=datasets())
def test_generated_data_sets_round_trip(scratch, data):
    save_csv(data, scratch)
    back = load_csv(scratch).dataset
    assert same_bits(back.X, data.X) and same_bits(back.y, data.y)
    # Only the classes present are known after a round trip.
    if data.task == "regression":
        assert back.task == "regression"
    elif data.y.max() <= 1:
        assert back.task == "binary"
    else:
        assert (back.task, back.n_classes) == ("multiclass", data.y.max() + 1)

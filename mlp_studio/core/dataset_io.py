"""Reading and writing data sets as CSV text.

The format MLP Studio writes is plain UTF-8 CSV with a header line and one
point per row::

    x1,x2,label
    -1.2345678901234567,3.0,1
    0.5,-4.25,0

Coordinates are written with ``repr``, the shortest text that reads back to
the same float, so a saved data set loads back bit for bit. Class labels are
written as whole numbers 0, 1, ...; regression targets as floats ("1.0"),
which is also how the reader tells the two apart.

The reader also takes CSV files from elsewhere: comma, semicolon or tab
separators, an optional header, a byte order mark, CRLF line ends and blank
lines. It picks two numeric columns as the coordinates and one column as the
label (by name when it can), turns text labels into class numbers, and moves
points that lie outside the plotted plane into it. Everything it had to
guess or change is reported in ``LoadedData.notes``.

Nothing is evaluated or unpickled: every value goes through ``float`` after
a strict pattern check.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import DOMAIN, MAX_POINTS, Dataset
from .files import read_bounded, write_atomically
from .heads import MAX_CLASSES, TASKS

logger = logging.getLogger(__name__)

HEADER = ("x1", "x2", "label")
MAX_BYTES = 10 * 2**20
# Rescaled data fills [-VIEW_EXTENT, VIEW_EXTENT]^2, leaving a margin inside
# the plotted [-DOMAIN, DOMAIN]^2 so no point sits on the frame.
VIEW_EXTENT = 5.0

# Coordinate column pairs and label column names we recognise, in order of
# preference; compared without case.
COORDINATE_NAMES = (("x1", "x2"), ("x", "y"))
LABEL_NAMES = ("label", "labels", "class", "target", "y", "category",
               "output")

# What ``float`` accepts that a data file should not mean (underscores,
# non-ASCII digits, surrounding blanks) is kept out by a strict pattern.
_NUMBER = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|inf|infinity|nan)",
    re.IGNORECASE,
)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEPARATORS = {";": "semicolon", "\t": "tab", ",": "comma"}
_SNIFF_LINES = 20
_SNIFF_ROWS = 100


class DataFileError(ValueError):
    """A data file that cannot be read as a data set.

    Attributes
    ----------
    problem : what is wrong, without the line number.
    line : 1-based line of the file (the header is line 1), or None when
        the problem is with the file as a whole.
    """

    def __init__(self, problem: str, line: int | None = None):
        self.problem = problem
        self.line = line
        super().__init__(problem if line is None else f"line {line}: {problem}")


@dataclass(frozen=True, eq=False)
class LoadedData:
    """A data set read from a file, and how it was read.

    Attributes
    ----------
    dataset : the points, with ``X = (raw - offset) * scale``.
    scale : factor applied to the file's coordinates; 1.0 if not rescaled.
    offset : (2,) tuple subtracted from the file's coordinates first.
    columns : names of the (x1, x2, label) columns used.
    rescaled : whether the coordinates were moved into the view.
    notes : what was guessed or changed, in words for people.
    """

    dataset: Dataset
    scale: float
    offset: tuple[float, float]
    columns: tuple[str, str, str]
    rescaled: bool
    notes: tuple[str, ...]


@dataclass
class _Table:
    """The cells of a CSV file, blank lines dropped, all rows equally wide."""

    has_header: bool
    names: list[str]  # "x2" from the header, or "column 2"
    places: list[str]  # "column x2" or "column 2", for messages
    rows: list[tuple[int, list[str]]]  # (line number, stripped cells)


# ---------------------------------------------------------------- writing


def save_csv(dataset: Dataset, path: str | os.PathLike) -> None:
    """Write ``dataset`` to ``path`` as ``x1,x2,label`` CSV.

    The file is written next to its destination under a temporary name,
    synced to disk and then renamed over ``path``, so a crash or a full
    disk never leaves a half-written file: ``path`` holds either the old
    contents or the new.

    Parameters
    ----------
    dataset : X of shape (n, 2), y of shape (n,).
    path : file to create or replace.
    """
    path = Path(path)
    lines = _format_lines(dataset)
    write_atomically(path, "".join(lines).encode("utf-8"))
    logger.debug("saved %d points to %s", len(dataset.X), path)


def _format_lines(dataset: Dataset):
    """The file's lines, header first; floats in their round-trip form."""
    if dataset.task == "regression":
        labels = map(repr, map(float, dataset.y.tolist()))
    else:
        labels = map(str, map(int, dataset.y.tolist()))
    yield ",".join(HEADER) + "\n"
    for (x1, x2), label in zip(dataset.X.tolist(), labels):
        yield f"{float(x1)!r},{float(x2)!r},{label}\n"


# ---------------------------------------------------------------- reading


def load_csv(path: str | os.PathLike, *, task: str | None = None,
             max_bytes: int = MAX_BYTES,
             max_rows: int = MAX_POINTS) -> LoadedData:
    """Read a data set from a CSV file.

    Parameters
    ----------
    path : the file.
    task : "binary", "multiclass" or "regression" to read the labels that
        way; None to infer it: labels written as whole numbers within
        {0, 1} are binary, within 0 to 5 multiclass, text labels are class
        names (at most 6), and any other numbers are regression targets.
    max_bytes : larger files are refused before they are read.
    max_rows : most rows of data accepted.

    Returns
    -------
    LoadedData whose dataset has X of shape (n, 2) inside the plotted plane
    and y of shape (n,).

    Raises
    ------
    DataFileError
        If the file is not a readable data set; the message names the line.
    OSError
        If the file cannot be opened or read.
    ValueError
        If ``task`` is not one of the known tasks.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
    path = Path(path)
    text = _read_text(path, max_bytes)
    table, notes = _read_table(text, max_rows)
    x1, x2, label = _choose_columns(table, notes)

    raw = np.column_stack([_numbers(table, x1), _numbers(table, x2)])
    y, task, n_classes = _labels(table, label, task, notes)
    rescaled = bool(np.abs(raw).max() > DOMAIN)
    if rescaled:
        X, scale, offset = _fit_into_view(raw, notes)
    else:
        X, scale, offset = raw, 1.0, (0.0, 0.0)

    dataset = Dataset(X, y, task, n_classes, path.stem)
    logger.debug("loaded %d %s points from %s", len(y), task, path)
    return LoadedData(
        dataset=dataset,
        scale=scale,
        offset=offset,
        columns=(table.names[x1], table.names[x2], table.names[label]),
        rescaled=rescaled,
        notes=tuple(notes),
    )


def _read_text(path: Path, max_bytes: int) -> str:
    data = read_bounded(path, max_bytes, DataFileError)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = data[:error.start].decode("utf-8-sig")
        raise DataFileError("not UTF-8 text", _count_lines(before)) from None
    if not text.strip():
        raise DataFileError("the file is empty")
    return text


def _count_lines(text: str) -> int:
    """Number of the line that ``text``, the start of a file, ends on."""
    return len(_LINE_BREAK.findall(text)) + 1


def _read_table(text: str, max_rows: int) -> tuple[_Table, list[str]]:
    """Split ``text`` into a header and rows of equal width."""
    notes = []
    separator = _guess_separator(text)
    if separator != ",":
        notes.append(f"values are separated by {_SEPARATORS[separator]}s")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    table = None
    try:
        for cells in reader:
            if len(cells) <= 1 and not "".join(cells).strip():
                continue
            cells = [cell.strip() for cell in cells]
            if table is None:
                table = _start_table(cells, reader.line_num, notes)
                if table.has_header:
                    continue
            _add_row(table, cells, reader.line_num, max_rows)
    except csv.Error as error:
        raise DataFileError(
            f"not valid CSV ({error})", reader.line_num
        ) from None

    if table is None:
        raise DataFileError("the file is empty")
    if not table.rows:
        raise DataFileError("no rows of data")
    return table, notes


def _guess_separator(text: str) -> str:
    """The separator that splits the first lines into equal rows of at
    least three cells; failing that, the one giving the widest first row."""
    lines = []
    for line in io.StringIO(text, newline=""):
        if line.strip():
            lines.append(line)
        if len(lines) == _SNIFF_LINES:
            break

    def score(separator):
        # Line by line, so that one bad line (left for the reader to
        # report) does not disqualify the separator.
        widths = [width for line in lines
                  if (width := _width(line, separator)) is not None]
        if not widths:
            return (False, 0)
        return (len(set(widths)) == 1 and widths[0] >= 3, widths[0])

    # On a tie the first wins, so "1,5;2,0;a" (decimal commas) splits at
    # the semicolons.
    return max(_SEPARATORS, key=score)


def _width(line: str, separator: str) -> int | None:
    """Number of cells in ``line``; None if it is not valid CSV."""
    with contextlib.suppress(csv.Error):
        for row in csv.reader([line], delimiter=separator):
            return len(row)
    return None


def _start_table(cells: list[str], line: int, notes: list[str]) -> _Table:
    if len(cells) < 3:
        raise DataFileError(
            f"expected at least 3 columns (x1, x2, label), found {len(cells)}",
            line,
        )
    numbered = [f"column {i + 1}" for i in range(len(cells))]
    if all(_NUMBER.fullmatch(cell) for cell in cells):
        notes.append("the file has no header line")
        return _Table(False, numbered, numbered, [])
    names = [cell or number for cell, number in zip(cells, numbered)]
    places = [f"column {cell}" if cell else number
              for cell, number in zip(cells, numbered)]
    return _Table(True, names, places, [])


def _add_row(table: _Table, cells: list[str], line: int,
             max_rows: int) -> None:
    if len(cells) != len(table.names):
        raise DataFileError(
            f"expected {len(table.names)} values, found {len(cells)}", line
        )
    if len(table.rows) >= max_rows:
        raise DataFileError(f"more than {max_rows} rows of data", line)
    table.rows.append((line, cells))


def _choose_columns(table: _Table, notes: list[str]) -> tuple[int, int, int]:
    """Indices of the (x1, x2, label) columns: by name, else the first two
    numeric columns and the last remaining one."""
    lower = [name.lower() for name in table.names] if table.has_header else []
    coords = next(
        ((lower.index(a), lower.index(b)) for a, b in COORDINATE_NAMES
         if a in lower and b in lower),
        None,
    )
    taken = coords or ()
    label = next(
        (lower.index(name) for name in LABEL_NAMES
         if name in lower and lower.index(name) not in taken),
        None,
    )
    if coords is None:
        numeric = [col for col in range(len(table.names))
                   if col != label and _mostly_numbers(table, col)]
        if len(numeric) < 2:
            raise DataFileError(
                f"need two columns of numbers for the coordinates, "
                f"found {len(numeric)}"
            )
        coords = (numeric[0], numeric[1])
    if label is None:
        label = max(set(range(len(table.names))) - set(coords))

    chosen = tuple(table.names[col] for col in (*coords, label))
    if chosen != HEADER:
        notes.append(f"coordinates from {chosen[0]} and {chosen[1]}, "
                     f"labels from {chosen[2]}")
    return (*coords, label)


def _mostly_numbers(table: _Table, col: int) -> bool:
    # A column with a stray bad cell still counts as numeric, so that the
    # error names that cell instead of complaining about the column.
    sample = table.rows[:_SNIFF_ROWS]
    count = sum(bool(_NUMBER.fullmatch(cells[col])) for _, cells in sample)
    return 2 * count > len(sample)


def _numbers(table: _Table, col: int) -> np.ndarray:
    """The finite numbers of column ``col``, shape (n,)."""
    texts = [cells[col] for _, cells in table.rows]
    values = np.array(
        [float(text) if _NUMBER.fullmatch(text) else math.nan
         for text in texts],
        dtype=np.float64,
    )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        line = table.rows[bad[0]][0]
        raise _cell_error(table, col, line, texts[bad[0]])
    return values


def _cell_error(table: _Table, col: int, line: int,
                text: str) -> DataFileError:
    """Why ``text`` is not a finite number."""
    name = table.names[col]
    if not text:
        return DataFileError(f"{name} is empty", line)
    if not _NUMBER.fullmatch(text):
        return DataFileError(
            f"{_shorten(text)!r} in {table.places[col]} is not a number", line
        )
    if math.isnan(float(text)):
        return DataFileError(f"{name} is NaN", line)
    # "1e999" is finite as written but not as a float.
    if "inf" in text.lower():
        return DataFileError(f"{name} is infinite", line)
    return DataFileError(f"{name} is too large", line)


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------- labels


def _labels(table: _Table, col: int, task: str | None,
            notes: list[str]) -> tuple[np.ndarray, str, int]:
    """Labels of shape (n,), the task and the number of classes."""
    texts = [(line, cells[col]) for line, cells in table.rows]
    for line, text in texts:
        if not text:
            raise DataFileError(f"{table.names[col]} is empty", line)
    numeric = all(_NUMBER.fullmatch(text) for _, text in texts)

    if task is None and numeric and not _class_numbers(texts, notes):
        task = "regression"
    if task == "regression":
        return _numbers(table, col), "regression", 0
    limit = 2 if task == "binary" else MAX_CLASSES
    if numeric:
        y = _class_indices(table, col, limit)
    else:
        y = _class_names(table, col, limit, notes)
    if task is None:
        task = "binary" if y.max() <= 1 else "multiclass"
    n_classes = 2 if task == "binary" else max(2, int(y.max()) + 1)
    return y, task, n_classes


def _class_numbers(texts: list[tuple[int, str]], notes: list[str]) -> bool:
    """Whether numeric labels look like class numbers: written as whole
    numbers, all within 0 to MAX_CLASSES - 1. Notes why not when they are
    whole numbers."""
    if not all(_INTEGER.fullmatch(text) for _, text in texts):
        return False
    values = [int(text) for _, text in texts]
    if min(values) >= 0 and max(values) < MAX_CLASSES:
        return True
    notes.append(
        f"labels are whole numbers from {min(values)} to {max(values)}, "
        f"not class numbers 0 to {MAX_CLASSES - 1}; read as regression targets"
    )
    return False


def _class_indices(table: _Table, col: int, limit: int) -> np.ndarray:
    """Numeric labels as class numbers 0 to ``limit - 1``, shape (n,)."""
    values = np.array([float(cells[col]) for _, cells in table.rows])
    whole = np.isfinite(values) & (values == np.round(values))
    bad = np.flatnonzero(~whole | (values < 0) | (values >= limit))
    if bad.size:
        line, cells = table.rows[bad[0]]
        raise DataFileError(
            f"{table.names[col]} {_shorten(cells[col])!r} is not a class "
            f"number 0 to {limit - 1}", line
        )
    return values.astype(np.int64)


def _class_names(table: _Table, col: int, limit: int,
                 notes: list[str]) -> np.ndarray:
    """Text labels as class numbers in order of first appearance."""
    classes: dict[str, int] = {}
    y = np.empty(len(table.rows), dtype=np.int64)
    for i, (line, cells) in enumerate(table.rows):
        name = cells[col]
        if name not in classes:
            if len(classes) == limit:
                raise DataFileError(
                    f"too many classes: {_shorten(name)!r} would be class "
                    f"number {limit + 1}, at most {limit} are allowed", line
                )
            classes[name] = len(classes)
        y[i] = classes[name]
    listed = ", ".join(
        f"{_shorten(name)!r} = {k}" for name, k in classes.items()
    )
    notes.append(f"class names became numbers: {listed}")
    return y


# ---------------------------------------------------------------- placement


def _fit_into_view(raw: np.ndarray, notes: list[str]):
    """Centre the points on their bounding box and scale them so the
    largest coordinate is VIEW_EXTENT.

    Parameters
    ----------
    raw : (n, 2) coordinates as in the file.

    Returns
    -------
    X : (n, 2) ``(raw - offset) * scale``.
    scale : float.
    offset : (2,) tuple of floats.
    """
    # Halves first: lo + hi could overflow for coordinates near 1e308.
    offset = raw.min(axis=0) / 2 + raw.max(axis=0) / 2
    centred = raw - offset
    extent = float(np.abs(centred).max())
    # All points in one place (or a spread so small that its inverse
    # overflows) cannot be stretched to fill the view; moving is enough.
    scale = VIEW_EXTENT / extent if extent > 0 else 1.0
    if not math.isfinite(scale):
        scale = 1.0
    X = centred * scale

    ox, oy = (float(v) for v in offset)
    notes.append(
        f"points reached beyond the view (±{DOMAIN:g}) and were moved into "
        f"it: x = (x_file - ({ox:.6g}, {oy:.6g})) * {scale:.6g}"
    )
    return X, scale, (ox, oy)

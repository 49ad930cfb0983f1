"""Speed of the numpy engine, side by side with PyTorch eager and
scikit-learn when they are installed (neither is a dependency).

Run from the repository root::

    python -m benchmarks.bench_engine [--quick] [--rounds N] [--markdown FILE]

Each workload runs several short timed rounds. Within a round the engine
and its comparators take turns (the order flips every round), so that a
noisy neighbour on a shared machine slows all of them alike; the table
shows the median of the rounds. PyTorch runs eagerly on one thread.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlp_studio.core import MLP, make_dataset

ROUNDS = 7
ROUND_SECONDS = 0.3
WARMUP_SECONDS = 0.3
QUICK_ROUNDS = 3
QUICK_SECONDS = 0.05
GRID_SIZE = 200
GRID_DOMAIN = 6.0

# A runner does one unit of work (an epoch, or one grid prediction) and
# returns how many updates, or calls, it made.
Runner = Callable[[], int]


@dataclass(frozen=True)
class Workload:
    key: str
    hidden: tuple[int, ...]
    activation: str
    dataset: str
    n: int
    batch: int
    lr: float

    @property
    def label(self) -> str:
        sizes = "-".join(str(k) for k in (2, *self.hidden, 1))
        return f"{sizes} {self.activation}"


W1 = Workload("W1", (4,), "tanh", "circle", 200, 200, 0.03)
W2 = Workload("W2", (8, 8), "tanh", "spiral", 500, 10, 0.03)
W3 = Workload("W3", (8,) * 6, "tanh", "spiral", 500, 10, 0.03)
W4 = Workload("W4", (64, 64), "relu", "xor", 5000, 64, 0.01)


@dataclass(frozen=True)
class Row:
    """One line of the table: an engine runner against a PyTorch runner.

    ``kind`` is "rate" (updates/s, higher is better) or "ms" (time per
    call, lower is better). ``target`` is None when there is none.
    """

    workload: str
    what: str
    engine: str
    torch: str | None
    kind: str
    target: float | None
    ratio_target: float | None = None
    other: str | None = None  # a non-PyTorch comparator, named in ``what``


# ----------------------------------------------------------------------
# Runners


def _data(spec: Workload):
    data = make_dataset(spec.dataset, spec.n, 0.0, seed=0)
    return data.X, data.y


def _model(spec: Workload, dtype=np.float64) -> MLP:
    return MLP(2, spec.hidden, 1, spec.activation, "binary", seed=0,
               dtype=dtype)


def _batches(spec: Workload) -> int:
    return -(-spec.n // spec.batch)


def engine_epoch(spec: Workload, dtype=np.float64) -> Runner:
    """``train_epoch``: the engine's own shuffled mini-batch loop."""
    model = _model(spec, dtype)
    X, y = _data(spec)

    def run():
        before = model.updates
        model.train_epoch(X, y, spec.lr, spec.batch)
        return model.updates - before

    return run


def engine_step(spec: Workload) -> Runner:
    """One ``step`` call per batch, over points shuffled once."""
    model = _model(spec)
    X, y = _data(spec)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    b, lr = spec.batch, spec.lr
    starts = range(0, len(X), b)

    def run():
        for i in starts:
            model.step(X[i: i + b], y[i: i + b], lr)
        return len(starts)

    return run


def _grid() -> np.ndarray:
    axis = np.linspace(-GRID_DOMAIN, GRID_DOMAIN, GRID_SIZE)
    x1, x2 = np.meshgrid(axis, axis)
    return np.column_stack([x1.ravel(), x2.ravel()])


def engine_grid(spec: Workload, dtype) -> Runner:
    model = _model(spec)
    grid = _grid()

    def run():
        model.predict(grid, dtype=dtype)
        return 1

    return run


def _torch_net(torch, spec: Workload, dtype):
    torch.manual_seed(0)
    activation = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[spec.activation]
    layers, width = [], 2
    for units in spec.hidden:
        layers += [torch.nn.Linear(width, units), activation()]
        width = units
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers).to(dtype)


def torch_epoch(torch, spec: Workload, dtype) -> Runner:
    """The usual eager loop: an nn.Sequential, BCEWithLogitsLoss and
    torch.optim.SGD over the batches of a fresh permutation each epoch."""
    net = _torch_net(torch, spec, dtype)
    optimizer = torch.optim.SGD(net.parameters(), lr=spec.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    X_np, y_np = _data(spec)  # read-only arrays: torch wants its own copy
    X = torch.tensor(X_np, dtype=dtype)
    Y = torch.tensor(y_np, dtype=dtype).reshape(-1, 1)
    generator = torch.Generator().manual_seed(0)
    n, b = len(X), spec.batch
    starts = range(0, n, b)

    def run():
        order = torch.randperm(n, generator=generator)
        Xs, Ys = X[order], Y[order]
        for i in starts:
            optimizer.zero_grad()
            loss = loss_fn(net(Xs[i: i + b]), Ys[i: i + b])
            loss.backward()
            optimizer.step()
        return len(starts)

    return run


def torch_grid(torch, spec: Workload, dtype) -> Runner:
    net = _torch_net(torch, spec, dtype)
    grid = _grid()

    def run():
        with torch.no_grad():
            out = torch.sigmoid(net(torch.from_numpy(grid).to(dtype)))
        out.numpy()
        return 1

    return run


def sklearn_epoch(MLPClassifier, spec: Workload) -> Runner:
    """``partial_fit`` makes one shuffled pass of plain SGD (no momentum,
    no L2) in batches of ``spec.batch``."""
    X, y = _data(spec)
    clf = MLPClassifier(
        hidden_layer_sizes=spec.hidden,
        activation=spec.activation,
        solver="sgd",
        batch_size=spec.batch,
        learning_rate_init=spec.lr,
        momentum=0.0,
        nesterovs_momentum=False,
        alpha=0.0,
        shuffle=True,
        random_state=0,
    )
    clf.partial_fit(X, y, classes=np.array([0, 1]))
    batches = _batches(spec)

    def run():
        clf.partial_fit(X, y)
        return batches

    return run


# ----------------------------------------------------------------------
# Measuring


def _timed(run: Runner, seconds: float) -> tuple[int, float]:
    """Repeat ``run`` until ``seconds`` have passed: (count, elapsed)."""
    count = 0
    perf_counter = time.perf_counter
    start = perf_counter()
    while True:
        count += run()
        elapsed = perf_counter() - start
        if elapsed >= seconds:
            return count, elapsed


def measure(runners: dict[str, Runner], rounds: int, seconds: float,
            warmup: float) -> dict[str, list[float]]:
    """Rates (counts per second) of each runner, one per round, with the
    runners interleaved round by round."""
    for run in runners.values():
        _timed(run, warmup)
    names = list(runners)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            gc.collect()
            count, elapsed = _timed(runners[name], seconds)
            rates[name].append(count / elapsed)
    return rates


def _groups(torch, torch_dtype, MLPClassifier):
    """(runners, rows) per group of runners measured together."""
    groups = []

    def add(runners, rows):
        groups.append((runners, rows))

    def with_torch(runners, key, make):
        if torch is not None:
            runners[key] = make()
        return key if torch is not None else None

    for spec, target, what in (
        (W1, 60_000, "circle 200, full batch"),
        (W3, 50_000, "spiral 500, batch 10"),
        (W4, 25_000, "xor 5,000, batch 64"),
    ):
        runners = {"engine": engine_epoch(spec)}
        t = with_torch(runners, "torch",
                       lambda s=spec: torch_epoch(torch, s, torch_dtype))
        rows = [Row(spec.key, f"{spec.label}, {what}, train_epoch",
                    "engine", t, "rate", target)]
        if spec is W4:
            # Wide layers are bound by the arithmetic of their products:
            # the engine's float32 mode halves it.
            runners["engine float32"] = engine_epoch(spec, np.float32)
            rows.append(Row(spec.key, f"{spec.label}, {what}, train_epoch, "
                            "MLP(dtype=float32)", "engine float32", t,
                            "rate", target))
        add(runners, rows)
        if spec is W1:
            runners = {"epoch": engine_epoch(W2), "step": engine_step(W2)}
            t = with_torch(runners, "torch",
                           lambda: torch_epoch(torch, W2, torch_dtype))
            rows = [
                Row("W2", f"{W2.label}, spiral 500, batch 10, train_epoch",
                    "epoch", t, "rate", 100_000, ratio_target=30.0),
                Row("W2", f"{W2.label}, spiral 500, batch 10, step loop",
                    "step", t, "rate", 60_000),
            ]
            if MLPClassifier is not None:
                runners["sklearn"] = sklearn_epoch(MLPClassifier, W2)
                rows.append(Row("W2", "", "epoch", None, "rate", None,
                                other="sklearn"))
            add(runners, rows)

    for spec, target in ((W2, 1.0), (W3, 2.0)):
        runners, rows = {}, []
        for dtype, name in ((np.float32, "float32"), (np.float64, "float64")):
            runners[f"engine {name}"] = engine_grid(spec, dtype)
            same = getattr(torch, name) if torch is not None else None
            t = with_torch(runners, f"torch {name}",
                           lambda s=spec, d=same: torch_grid(torch, s, d))
            rows.append(Row(
                "G", f"predict 200x200 grid, {spec.key} net, {name}",
                f"engine {name}", t, "ms",
                target if dtype is np.float32 else None))
        add(runners, rows)
    return groups


# ----------------------------------------------------------------------
# Reporting


def _rate(value: float) -> str:
    return f"{value:,.0f}/s"


def _ms(value: float) -> str:
    return f"{value:.3g} ms" if value < 10 else f"{value:.0f} ms"


def _cells(row: Row, medians: dict[str, float], have_torch: bool,
           versions: dict[str, str]) -> list[str]:
    engine = medians[row.engine]
    rate = row.kind == "rate"
    show = _rate if rate else _ms
    value = engine if rate else 1000.0 / engine
    what = row.what

    if row.other == "sklearn":
        sk = medians["sklearn"]
        what = (f"vs scikit-learn {versions['sklearn']} MLPClassifier"
                f".partial_fit: {_rate(sk)} (engine is train_epoch)")
        return [row.workload, what, show(value), "-", "-", "-",
                f"{engine / sk:.1f}x vs sklearn"]

    targets, met = [], []
    if row.target is not None:
        if rate:
            targets.append(f">= {row.target:,.0f}/s")
            met.append(value >= row.target)
        else:
            targets.append(f"<= {row.target:g} ms")
            met.append(value <= row.target)
    if row.torch is not None:
        torch_median = medians[row.torch]
        torch_cell = show(torch_median if rate else 1000.0 / torch_median)
        ratio = engine / torch_median
        ratio_cell = f"{ratio:.1f}x"
    else:
        torch_cell = "not installed" if not have_torch else "-"
        ratio, ratio_cell = None, "-"
    if row.ratio_target is not None:
        targets.append(f">= {row.ratio_target:g}x PyTorch")
        met.append(None if ratio is None else ratio >= row.ratio_target)

    target_cell = " and ".join(targets) if targets else "(report)"
    names = {True: "yes", False: "NO", None: "no torch"}
    met_cell = " / ".join(names[m] for m in met) if met else "-"
    return [row.workload, what, show(value), target_cell, met_cell,
            torch_cell, ratio_cell]


HEADINGS = ["workload", "what", "engine (median)", "target", "met?",
            "PyTorch eager (median)", "ratio"]


def table(lines: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in [HEADINGS, *lines])
              for i in range(len(HEADINGS))]

    def fmt(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(HEADINGS), rule, *(fmt(line) for line in lines)])


def header(versions: dict[str, str], torch_dtype_name: str, rounds: int,
           seconds: float) -> str:
    if versions.get("torch"):
        torch_text = (f"torch {versions['torch']} (eager, {torch_dtype_name}, "
                      "1 thread)")
    else:
        torch_text = "torch not installed"
    sk = versions.get("sklearn")
    sk_text = f", scikit-learn {sk}" if sk else ""
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"Engine benchmark, {date}: Python {platform.python_version()}, "
            f"numpy {np.__version__}, {torch_text}{sk_text}; median of "
            f"{rounds} rounds of {seconds:g} s; ratio = engine speed / "
            "PyTorch speed.")


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same
    directory, so readers see the old file or the new one, never a part."""
    folder = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(
        folder, f".{os.path.basename(path)}.{os.getpid()}."
        f"{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


# ----------------------------------------------------------------------
# Main


def _import_torch():
    # PyTorch's OpenMP threads spin for a while after each operation by
    # default; on 2 cores that spinning slowed the engine's rounds, which
    # alternate with PyTorch's, by a quarter to a third. Make them sleep.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("KMP_BLOCKTIME", "0")
    try:
        import torch
    except (ImportError, OSError) as exc:
        print(f"note: PyTorch not importable ({exc}); skipping it.",
              file=sys.stderr)
        return None
    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # only before its first use
        torch.set_num_interop_threads(1)
    return torch


def _import_sklearn():
    try:
        from sklearn.neural_network import MLPClassifier
    except (ImportError, OSError) as exc:
        print(f"note: scikit-learn not importable ({exc}); skipping it.",
              file=sys.stderr)
        return None, None
    import sklearn

    return MLPClassifier, sklearn.__version__


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_engine",
        description="Engine speed against PyTorch eager and scikit-learn.")
    parser.add_argument("--quick", action="store_true",
                        help="few short rounds: a smoke test, not a measurement")
    parser.add_argument("--rounds", type=int, default=None, metavar="N",
                        help=f"timed rounds per workload (default {ROUNDS}, "
                             f"{QUICK_ROUNDS} with --quick)")
    parser.add_argument("--markdown", metavar="FILE",
                        help="also write the table, with a header line, to FILE")
    parser.add_argument("--torch-dtype", choices=("float32", "float64"),
                        default="float32",
                        help="PyTorch's dtype for training (default float32)")
    parser.add_argument("--verbose", action="store_true",
                        help="print every round's value")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    seconds = QUICK_SECONDS if args.quick else ROUND_SECONDS
    warmup = QUICK_SECONDS if args.quick else WARMUP_SECONDS

    torch = _import_torch()
    MLPClassifier, sk_version = _import_sklearn()
    versions = {"torch": torch.__version__ if torch else None,
                "sklearn": sk_version}
    torch_dtype = getattr(torch, args.torch_dtype) if torch else None

    lines = []
    for runners, rows in _groups(torch, torch_dtype, MLPClassifier):
        names = ", ".join(runners)
        print(f"measuring {rows[0].workload}: {rows[0].what} ({names}) ...",
              file=sys.stderr, flush=True)
        rates = measure(runners, rounds, seconds, warmup)
        medians = {name: statistics.median(v) for name, v in rates.items()}
        if args.verbose:
            for name, values in rates.items():
                shown = ", ".join(f"{v:,.0f}" for v in values)
                print(f"  {name}: per second {shown}", file=sys.stderr)
        lines += [_cells(row, medians, torch is not None, versions)
                  for row in rows]

    head = header(versions, args.torch_dtype, rounds, seconds)
    text = table(lines)
    print(head)
    print()
    print(text)
    if args.markdown:
        write_atomically(args.markdown, f"{head}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

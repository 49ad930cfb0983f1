"""How long one error-landscape slice takes (target: a 51 x 51 slice of a
2-8-8-1 network on 500 points in under a second).

Run from the repository root::

    python -m benchmarks.bench_landscape [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from mlp_studio.core import MLP, make_dataset
from mlp_studio.core.landscape import loss_slice, random_directions


def slice_seconds(hidden, rounds):
    data = make_dataset("spiral", 500, 0.0, seed=0)
    model = MLP(2, list(hidden), 1, "tanh", "binary", seed=0)
    for _ in range(20):
        model.train_epoch(data.X, data.y, 0.03, 10)
    d1, d2 = random_directions(model.params(), seed=0)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        loss_slice(model, data.X, data.y, model.flat_params(), d1, d2, 1.0,
                   51)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    print("| network | 51 x 51 slice, median | best | target |")
    print("|---|---|---|---|")
    for name, hidden in (("2-8-8-1", (8, 8)), ("6 x 8", (8,) * 6)):
        median, best = slice_seconds(hidden, args.rounds)
        target = "< 1 s" if hidden == (8, 8) else "-"
        print(f"| {name} | {median:.3f} s | {best:.3f} s | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the one-folder desktop bundle and report its size.

    python packaging/build.py [--dist DIR] [--work DIR]

makes DIR/mlp-studio/ (default dist/mlp-studio/ in the repository) with
the executable ``mlp-studio``, then prints the bundle's size on disk and
its ten largest parts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = HERE / "mlp_studio.spec"
NAME = "mlp-studio"


def disk_size(path: Path) -> int:
    """Bytes of all the files under ``path``, as ``du -sb`` counts them
    (links counted once, not followed)."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    total = path.lstat().st_size
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            total += (Path(folder) / name).lstat().st_size
    return total


def largest_parts(bundle: Path, count: int = 10) -> list[tuple[int, Path]]:
    """The ``count`` largest files and folders, biggest first, looking
    inside the folders (such as _internal/ and PySide6/) that only
    group others."""
    parts = []
    pending = [bundle]
    while pending:
        for child in pending.pop().iterdir():
            # A folder that is most of its parent is split into its parts.
            if child.is_dir() and not child.is_symlink() and \
                    child.name in ("_internal", "PySide6", "Qt", "lib"):
                pending.append(child)
            else:
                parts.append((disk_size(child), child))
    return sorted(parts, key=lambda part: part[0], reverse=True)[:count]


def build(dist: Path, work: Path) -> Path:
    """Run PyInstaller on the spec; return the bundle's folder."""
    try:
        import PyInstaller.__main__
    except ImportError:
        raise SystemExit("build.py: PyInstaller is not installed; "
                         'pip install -e ".[test]" installs it') from None
    PyInstaller.__main__.run([
        str(SPEC), "--noconfirm", "--log-level", "WARN",
        "--distpath", str(dist), "--workpath", str(work)])
    return dist / NAME


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist",
                        help="where the bundle goes (default dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build",
                        help="PyInstaller's working folder (default build/)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    bundle = build(args.dist.resolve(), args.work.resolve())
    if not (bundle / NAME).is_file():
        print(f"build.py: {bundle / NAME} was not made", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - started

    print(f"\n{bundle}: {disk_size(bundle) / 1e6:.1f} MB, built in "
          f"{seconds:.0f} s; largest parts:")
    for size, path in largest_parts(bundle):
        print(f"  {size / 1e6:7.1f} MB  {path.relative_to(bundle)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The desktop bundle: packaging/build.py makes it, and the frozen program
passes its self-test and renders its window, headless.

The build takes about half a minute; it is made once per test session.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "packaging" / "build.py"
MAX_BYTES = 160 * 10**6


def _headless():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The folder of a freshly built bundle, with the executable in it."""
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        pytest.fail("PyInstaller is not installed, so the desktop bundle "
                    'cannot be built: pip install -e ".[test]"')
    folder = tmp_path_factory.mktemp("bundle")
    result = subprocess.run(
        [sys.executable, str(BUILD), "--dist", str(folder / "dist"),
         "--work", str(folder / "work")],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder / "dist" / "mlp-studio"


def _disk_size(folder):
    """Bytes of the files under ``folder``, links not followed."""
    return sum(path.lstat().st_size for path in folder.rglob("*"))


def test_selftest_from_source():
    result = subprocess.run(
        [sys.executable, "-m", "mlp_studio", "--selftest"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env=_headless())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("selftest passed")


@pytest.mark.slow
def test_frozen_selftest_passes(bundle):
    result = subprocess.run(
        [str(bundle / "mlp-studio"), "--selftest"], capture_output=True,
        text=True, timeout=120, env=_headless())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert result.stdout.splitlines()[-1].startswith("selftest passed")


@pytest.mark.slow
def test_frozen_screenshot_is_a_picture(bundle, tmp_path):
    from PIL import Image

    picture = tmp_path / "x.png"
    result = subprocess.run(
        [str(bundle / "mlp-studio"), "--screenshot", str(picture),
         "--steps", "200"],
        capture_output=True, text=True, timeout=120, env=_headless())
    assert result.returncode == 0, result.stdout + result.stderr
    with Image.open(picture) as image:
        assert image.width > 600 and image.height > 400
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 50, "the picture is blank"


@pytest.mark.slow
def test_bundle_is_small_enough(bundle):
    size = _disk_size(bundle)
    assert size <= MAX_BYTES, f"the bundle is {size / 1e6:.1f} MB"


@pytest.mark.slow
def test_bundle_holds_the_icons_and_the_colour_maps(bundle):
    internal = bundle / "_internal"
    assert (internal / "mlp_studio" / "resources" / "icon-256.png").is_file()
    assert any((internal / "pyqtgraph" / "colors" / "maps").iterdir())

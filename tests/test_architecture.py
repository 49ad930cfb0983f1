"""The engine must stay free of Qt: it runs in notebooks and scripts."""

import ast
import pathlib
import subprocess
import sys

import mlp_studio.core

CORE = pathlib.Path(mlp_studio.core.__file__).parent
FORBIDDEN = ("PySide6", "pyqtgraph", "shiboken6", "PyQt5", "PyQt6", "mlp_studio.app")


def test_core_sources_import_no_gui_module():
    offenders = []
    for path in CORE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
                if node.level:
                    # relative imports stay inside mlp_studio.core or go up
                    if node.level > 1:
                        offenders.append(f"{path.name}: relative import above core")
                    continue
            else:
                continue
            for name in names:
                if name.split(".")[0] in FORBIDDEN or name.startswith("mlp_studio.app"):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_importing_core_loads_no_gui_module():
    code = (
        "import sys, mlp_studio.core\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}"
        " or m.startswith('mlp_studio.app')]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ""

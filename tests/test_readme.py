"""The README's scripting example runs as written, and its two commands are
the ones CI uses."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_scripting_example_runs():
    section = README.split("## Scripting", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    accuracy = int(re.search(r"test accuracy (\d+)%", result.stdout).group(1))
    assert accuracy >= 90


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```\n(.*?)\n```", README.split("## Quick start")[1])
    install_and_run, test_command = blocks[0], blocks[1]
    assert install_and_run.endswith("mlp-studio")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()
    assert "QT_QPA_PLATFORM=offscreen" in ci

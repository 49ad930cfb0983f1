"""PySide6 6.12.0 aborts Python 3.11 after a few thousand Signal.emit()
calls (Fatal Python error: bool_dealloc). This test emits 20,000 signals in
a child interpreter so that a dependency bump bringing the crash back fails
here, loudly, instead of in a user's training run."""

import os
import subprocess
import sys
import textwrap


def test_twenty_thousand_signal_emissions_do_not_abort():
    code = textwrap.dedent("""
        from PySide6.QtCore import QCoreApplication, QObject, Signal

        class Source(QObject):
            ticked = Signal(object)
            flagged = Signal(bool)

        app = QCoreApplication([])
        source = Source()
        seen = []
        source.ticked.connect(lambda value: seen.append(value))
        source.flagged.connect(lambda value: seen.append(value))
        for i in range(10_000):
            source.ticked.emit(i)
            source.flagged.emit(i % 2 == 0)
        assert len(seen) == 20_000, len(seen)
        print("ok", len(seen))
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["ok", "20000"]

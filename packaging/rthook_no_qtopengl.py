"""PyInstaller runtime hook: a stand-in for PySide6.QtOpenGL.

The bundle leaves out QtOpenGL's bindings (9 MB), which only drawing into
an OpenGL viewport needs, and MLP Studio never asks pyqtgraph for one (its
3-D view needs PyOpenGL, which the bundle does not have either). pyqtgraph
still imports the module when its plot curves are imported, so this empty
module takes its place; anything taken from it fails, saying why.
"""

import sys
import types


class _LeftOut(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):  # import machinery probing, not a use
            raise AttributeError(name)
        raise AttributeError(
            f"PySide6.QtOpenGL.{name}: QtOpenGL is left out of this bundle "
            "(see packaging/mlp_studio.spec)")


sys.modules.setdefault("PySide6.QtOpenGL", _LeftOut("PySide6.QtOpenGL"))

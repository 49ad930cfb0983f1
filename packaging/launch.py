"""Entry point of the PyInstaller bundle: the ``mlp-studio`` command."""

import sys

from mlp_studio.__main__ import main

if __name__ == "__main__":
    sys.exit(main())

import os
import tempfile

# Qt must know before it starts that there is no screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Windows autosave to the user's data folder: never the real one in tests.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mlp-studio-tests-")

import numpy as np
import pytest

from mlp_studio.core import make_dataset


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def spiral():
    return make_dataset("spiral", 500, 0.0, seed=0)

import numpy as np
import pytest

from mlp_studio.core import make_dataset


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def spiral():
    return make_dataset("spiral", 500, 0.0, seed=0)

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(__file__))

try:  # torchvision's compiled ops crash (SIGSEGV) when loaded after TensorFlow
    import torchvision  # noqa: F401, E402
except ImportError:
    pass

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    """Reproducible layer initializers in every test."""
    keras.utils.set_random_seed(1234)

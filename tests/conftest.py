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


@pytest.fixture(scope="session")
def atfr_run(tmp_path_factory):
    """(root, data) of one tiny deterministic x3d_xs_atfr run (1 epoch) at
    root/"run", shared read-only by the evaluate and export tests."""
    from training_checks import tiny_dataset, tiny_run

    root = tmp_path_factory.mktemp("atfr_run")
    data = tiny_dataset(root / "data")
    tiny_run(data, root / "run", epochs=1, deterministic=True)
    return root, data

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


# pytest-xdist (pytest.ini runs `-n auto --dist loadgroup`): a module whose
# tests share an expensive module or session fixture runs on one worker, so the
# fixture is built once; the other tests are spread one by one.
SHARED_FIXTURE_GROUPS = {
    "test_evaluate": "atfr_run", "test_export": "atfr_run",  # the session's ATFR run
    "test_train": "test_train", "test_strategy": "test_strategy",
    "test_convert": "test_convert",
    "test_pipeline": "test_pipeline", "test_predict": "test_predict",
}
MAX_WORKERS = 4  # each worker imports TensorFlow, PyTorch and JAX (~1.5 GB)


def pytest_xdist_auto_num_workers(config):
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(items):
    for item in items:
        group = SHARED_FIXTURE_GROUPS.get(item.module.__name__)
        backend = getattr(item, "callspec", None) and item.callspec.params.get("backend_run")
        if backend:  # one worker per backend's subprocess
            group = f"backend_{backend}"
        if group:
            item.add_marker(pytest.mark.xdist_group(group))


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

"""Import the package before any test module imports Keras, as the README tells users to: Keras reads its
backend once, and ``import convlab_widgets`` picks it where nobody did (see convlab_widgets/backend.py).
Without this, ``import keras`` at the top of a test would read a keras.json naming TensorFlow on a machine
without it (Colab's TPU runtime pins)."""

import convlab_widgets  # noqa: F401

import pytest  # noqa: E402

from convlab_widgets.training.models import WARM_MODELS  # noqa: E402


@pytest.fixture(autouse=True)
def _cold_start():
    """Every test starts with no warm model in the process (models.WARM_MODELS): a test's first run
    compiles its model whichever tests ran before, and a test that wants a warm start makes one."""
    WARM_MODELS.clear()
    yield
    WARM_MODELS.clear()

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


@pytest.fixture
def live_widgets():
    """The kernel's registry of open widgets (model id → widget), under the name each ipywidgets has:
    ``widget._instances`` from 8, ``Widget.widgets`` in 7 (Colab's pin, 7.7.1).  A closed widget leaves it."""
    try:
        from ipywidgets.widgets.widget import _instances
    except ImportError:  # ipywidgets 7
        from ipywidgets import Widget

        return Widget.widgets
    return _instances

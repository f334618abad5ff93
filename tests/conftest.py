"""Import the package before any test module imports Keras, as the README tells users to: Keras reads its
backend once, and ``import convlab_widgets`` picks it where nobody did (see convlab_widgets/backend.py).
Without this, ``import keras`` at the top of a test would read a keras.json naming TensorFlow on a machine
without it (Colab's TPU runtime pins)."""

import convlab_widgets  # noqa: F401

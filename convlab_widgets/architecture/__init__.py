"""The architecture model: a stack of catalog layers with Keras-exact shapes and counts.

Pure Python with no UI: the builder widget renders it and the trainer builds
``to_keras()``. Keras is imported only when a summary or model is first needed.
"""

from . import catalog, presets
from .architecture import MAX_CLASSES, MAX_INPUT_VALUES, MAX_LAYERS, Architecture, LayerEntry
from .errors import ArchitectureError, Problem
from .presets import resolve
from .summary import InnerRow, Row, Summary

__all__ = [
    "MAX_CLASSES", "MAX_INPUT_VALUES", "MAX_LAYERS", "Architecture", "ArchitectureError", "InnerRow",
    "LayerEntry", "Problem", "Row", "Summary", "catalog", "presets", "resolve",
]

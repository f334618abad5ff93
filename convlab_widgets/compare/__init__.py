"""Comparing runs: what changed since the previous one, and whether a run is overfitting.

Pure Python with no widgets: the dashboard's legends and loss panel word and
draw what these modules find.
"""

from .diff import describe_changes, label, shorten
from .overfitting import Overfitting, detect

__all__ = ["Overfitting", "describe_changes", "detect", "label", "shorten"]

"""The live training dashboard: run history and its panels."""

from .history import RunHistory
from .panels import AccuracyPanel, FilterPanel, LearningRatePanel, LossPanel

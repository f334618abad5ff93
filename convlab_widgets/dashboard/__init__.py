"""The live training dashboard: run history and its panels."""

from ..training.history import RunHistory
from .inspection import ActivationMaps, ConfusionMatrix, PredictionsGrid
from .panels import AccuracyPanel, FilterPanel, LearningRatePanel, LossPanel

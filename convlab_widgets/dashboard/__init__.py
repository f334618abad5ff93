"""The live training dashboard: the panels that draw a run's record, and what looks inside the model."""

from .inspection import ActivationMaps, ConfusionMatrix, PredictionsGrid
from .panels import AccuracyPanel, FilterPanel, LearningRatePanel, LossPanel

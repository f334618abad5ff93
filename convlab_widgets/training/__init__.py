"""Training engine: background runs, datasets, schedules and the event stream."""

from . import datasets, schedules
from .datasets import DataBundle, DatasetError
from .events import (
    BatchEnd, EpochEnd, EventLog, FilterSnapshot, HealthSnapshot, PredictionSnapshot, RunEnded, RunStarted,
    StatusChanged, Subscription,
)
from .run import Run, RunError, TrainingRun
from .settings import Settings, SettingsError
from .strategy import StrategyInfo, detect_strategy
from .trainer import Trainer, active_run

__all__ = [
    "BatchEnd", "DataBundle", "DatasetError", "EpochEnd", "EventLog", "FilterSnapshot", "HealthSnapshot",
    "PredictionSnapshot", "Run",
    "RunEnded",
    "RunError", "RunStarted", "Settings", "SettingsError", "StatusChanged", "StrategyInfo", "Subscription", "Trainer",
    "TrainingRun", "datasets",
    "active_run", "detect_strategy", "schedules",
]

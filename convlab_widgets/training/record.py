"""A finished run read back from a saved lab: what a ``Run`` recorded, frozen.

Everything that reads runs (the dashboard, ``RunHistory.from_run``, run
comparisons) keeps working on a restored run because it is a
:class:`~.run.RunRecord` like a live run, and offers :class:`~.run.Run`.  Nothing trains, so there is
no thread, no lock and nothing to control: the controls behave as they do on
a run that has ended.
"""

from __future__ import annotations

import math
from functools import cached_property

from .early_stopping import best_of
from .events import BatchEnd, EpochEnd, EventLog, RunEnded, RunStarted
from .history import RunHistory
from .run import BATCH_KEYS, EPOCH_KEYS, RunRecord


class SavedRun(RunRecord):
    """A run restored by ``convlab_widgets.persistence.load_lab``.

    ``param_count`` is None when training never started (the run failed while
    building its model): the original run then published no ``RunStarted``,
    and neither does :attr:`events`.
    """

    def __init__(self, *, name, config, architecture, history, batch_history, status, message,
                 started_at, ended_at, filters=(), predictions=(), health=(), model=None, param_count=None,
                 settings=None):
        super().__init__(settings=settings, config=config, architecture=architecture, started_at=started_at)
        self.name = name
        self._status = status
        self.message = message
        self.ended_at = ended_at
        self.model = model
        self.param_count = param_count
        self._lr = history["lr"][-1] if history["lr"] else config.get("learning_rate")
        self.record = RunHistory.from_columns(
            planned_epochs=config.get("epochs"), steps_per_epoch=config.get("steps_per_epoch"), epochs=history,
            batches=batch_history, filters=filters, predictions=predictions, health=health, status=status,
            message=message)
        stopping = getattr(settings, "early_stopping", None)
        if stopping is not None:  # the epoch its live run marked (and kept), found by the same rule
            self.record.best = best_of(self.history, stopping)
        self._done.set()

    @cached_property
    def events(self):
        """The events the run published, rebuilt so that ``Dashboard.watch``
        draws a restored run as it drew the live one.

        Every batch is replayed (the live run throttled them), which is what
        ``RunHistory.from_run`` sees too; speeds were not recorded, so
        ``samples_per_sec`` is 0 and the monitor leaves it out.  Pause and
        learning-rate notes are not kept.
        """
        log = EventLog()
        for event in self._replay():
            log.publish(event)
        return log

    def _replay(self):
        config, end = self.config, self.ended_at if self.ended_at is not None else self.started_at
        steps = config["steps_per_epoch"]
        if self.param_count is not None:
            yield RunStarted(config, config["strategy"], config["replicas"], config["batch_size"],
                             config["per_replica_batch_size"], steps, config["epochs"], self.param_count,
                             time=self.started_at)
        # (epoch, batches done, rank): a snapshot follows the batch it was taken after, and
        # an end-of-epoch snapshot follows the epoch's own record, as the callback publishes them.
        batches, epochs = self.batch_history, self.history
        timeline = [((epoch, step + 1, 0), BatchEnd(epoch, step, steps, loss, accuracy, lr, 0.0, time=end))
                    for epoch, step, loss, accuracy, lr in zip(*(batches[key] for key in BATCH_KEYS))]
        timeline += [((row[0], steps, 1), EpochEnd(*row, time=end)) for row in zip(*(epochs[key] for key in EPOCH_KEYS))]
        if self.record.best is not None:
            timeline.append(((self.record.best.epoch, steps, 1), self.record.best))
        timeline += [((snapshot.epoch, getattr(snapshot, "batch", math.inf), 2), snapshot)
                     for snapshot in self.filters + self.predictions + self.health]
        timeline.sort(key=lambda item: item[0])
        yield from (event for _, event in timeline)
        yield RunEnded(self.status, self.message, self.record.epochs_completed, end - self.started_at, time=end)

    # Controls: as on a run that has ended ------------------------------------

    def wait(self, timeout=None, on_event=None):
        """True at once; ``on_event`` gets the events not yet drained, like ``TrainingRun.wait``."""
        if on_event is not None:
            for event in self.events.drain():
                on_event(event)
        return True

    def stop(self):
        pass

    def set_learning_rate(self, lr):
        raise RuntimeError(f"this run has ended ({self.status}); start a new one with the new learning rate")

    def __repr__(self):
        epochs = self.record.epochs_completed
        return f"<SavedRun {self.name!r} {self.status}: {epochs}/{self.config['epochs']} epochs>"

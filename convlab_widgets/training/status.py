"""The words a run's status can be, in one place: every reader of ``run.status`` uses these."""

from __future__ import annotations

#: A run that may still change: it has not started training yet, trains, or waits while paused.
ACTIVE = ("starting", "running", "paused")
#: A run that has ended, and why.
TERMINAL = ("completed", "stopped", "diverged", "failed")
STATUSES = ACTIVE + TERMINAL

"""The words a run's status can be, in one place: every reader of ``run.status`` uses these."""

from __future__ import annotations

#: A run that may still change: it has not started training yet, trains, or waits while paused.
ACTIVE = ("starting", "running", "paused")
#: A run that has ended, and why.  "interrupted": its kernel stopped while it trained (a Colab disconnect,
#: a restart); only a lab read back from its autosave (``ConvLab(autosave=...)``) has such runs, and
#: ``lab.resume(run)`` continues one from its last checkpoint.
INTERRUPTED = "interrupted"
TERMINAL = ("completed", "stopped", "diverged", "failed", INTERRUPTED)
STATUSES = ACTIVE + TERMINAL

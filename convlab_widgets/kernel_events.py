"""Clicks while a cell blocks: the kernel handles widget messages between batches.

A cell that trains on the main thread (``lab.train(wait=True)``, a user's own
``model.fit`` with ``lab.callback()``) keeps the kernel from reading widget
messages, so a click on Stop would wait until the cell ends.  JupyterLab 4.4+
with ipykernel 7 handles widget messages on a comm subshell thread instead,
and nothing needs doing (``threads.comms_on_subshell``).  Elsewhere (ipykernel
6: Colab, classic Notebook; or any client that does not use subshells),
``jupyter-ui-poll`` lets the blocked cell handle the pending messages itself;
execute requests that arrive meanwhile run after the cell, in order.
"""

from __future__ import annotations

import logging
import time

from .threads import comms_on_subshell

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.1  # between two looks at the kernel's pending messages
POLL_EVENTS = 20  # messages handled per look, at most


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


class BlockingCell:
    """Handles pending widget messages from inside a blocking cell, at most every ``POLL_INTERVAL_S``.

    Make it on the main thread of a kernel; outside one (a script, a test) it does nothing.
    """

    def __init__(self):
        self._poll = None
        self._context = None
        self._last = 0.0

    def handle_events(self) -> None:
        now = time.monotonic()
        if now - self._last < POLL_INTERVAL_S or comms_on_subshell():
            return
        self._last = now
        if self._poll is None:
            if _shell() is None:
                return
            try:
                from jupyter_ui_poll import ui_events

                self._context = ui_events()
                self._poll = self._context.__enter__()
            except Exception:  # an unknown kernel: clicks then wait for the cell, as without us
                log.debug("cannot handle widget messages while the cell blocks", exc_info=True)
                self._poll = lambda _n: None
                return
        self._poll(POLL_EVENTS)

    def close(self) -> None:
        """Hand the kernel back its message handling (the cell's end does it too)."""
        if self._context is not None:
            context, self._context = self._context, None
            context.__exit__(None, None, None)


def after_cell(callback) -> None:
    """Call ``callback(error)`` on the main thread after each cell (``error``: the exception the
    cell raised, or None), until it returns True.  Outside IPython nothing is called."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def ended(result):
        if callback(getattr(result, "error_in_exec", None)):
            shell.events.unregister("post_run_cell", ended)

    shell.events.register("post_run_cell", ended)

"""Clicks while a cell blocks, and drawing as soon as a run's event arrives.

:class:`KernelWake` lets the training thread wake a kernel thread's asyncio loop,
which then draws; the rest of this module is about cells that block.

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

import asyncio
import logging
import sys
import threading
import time

from .threads import comms_on_subshell, on_kernel_thread

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


class KernelWake:
    """Calls ``callback()`` on a kernel thread soon after a run's event, woken from the training thread.

    The heartbeat (every 250 ms while a run is active) draws everywhere but late: a stop was shown
    about 270 ms after it happened.  Where a kernel thread runs an asyncio loop (ipykernel 6: the
    main thread's; ipykernel 7: the comm subshell's, where heartbeats arrive, once one has; a
    main-thread draw would have ipykernel route Stop clicks to the shell a blocking cell holds), the training
    thread hands a wake-up to that loop (``call_soon_threadsafe``), and the loop calls ``callback``
    on its own thread, which may draw: the training thread itself still touches no widget.  One
    wake-up is pending at a time, however many events arrive meanwhile.  Nothing is woken in Colab
    (its front end shows only the widget messages that answer one of its own, so its heartbeat
    draws), nor where no loop runs (a script, a test without one): the heartbeat stays the fallback.
    """

    def __init__(self, callback):
        self._callback = callback
        self._loop = None
        self._pending = False  # a wake-up handed to the loop and not yet called
        self._deferred = False  # a call the loop will make later (see ``later``)
        self._lock = threading.Lock()

    @property
    def armed(self) -> bool:
        """Whether events wake a kernel loop (else only the heartbeat draws)."""
        return self._loop is not None

    def use_this_thread(self) -> None:
        """Wake the loop this kernel thread runs (called where the kernel draws: watch, heartbeat)."""
        if "google.colab" in sys.modules or not on_kernel_thread():
            return
        if comms_on_subshell() and threading.current_thread() is threading.main_thread():
            return  # the comm subshell's loop draws (it answers while a cell blocks the main thread)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop runs on this thread
            return
        with self._lock:
            if loop is not self._loop:
                # A wake-up handed to the loop used so far may wait behind a cell that blocks its thread
                # (the main thread's, once the subshell's takes over): it is given up, never awaited.
                self._loop, self._pending, self._deferred = loop, False, False

    def __call__(self, _event=None) -> None:
        """An event was published (any thread, usually the training thread): wake the loop once."""
        loop = self._loop
        if loop is None:
            return
        with self._lock:
            if self._pending:
                return
            self._pending = True
        try:
            loop.call_soon_threadsafe(self._woken, loop)
        except RuntimeError:  # the loop has closed: the heartbeat draws from now on
            self._loop, self._pending = None, False

    def later(self, delay_s: float) -> None:
        """Call ``callback`` again in ``delay_s`` seconds (from the loop's own thread): what a throttled
        draw left undrawn is drawn when the throttle allows, not at the next heartbeat."""
        loop = self._loop
        with self._lock:
            if loop is None or self._deferred:
                return
            self._deferred = True
        loop.call_later(delay_s, self._deferred_call, loop)

    def _deferred_call(self, loop) -> None:
        with self._lock:
            if loop is not self._loop:
                return  # a call for a loop given up meanwhile: that thread must not draw
            self._deferred = False
        self._callback()

    def _woken(self, loop) -> None:
        with self._lock:
            if loop is not self._loop:
                return  # a wake-up for a loop given up meanwhile: that thread must not draw
            self._pending = False
        self._callback()

"""Which threads may touch widgets: the kernel's message threads, never a training thread.

In Colab (ipykernel 6) that is the main thread. JupyterLab 4.4+ with
ipykernel 7 also handles widget messages on a comm *subshell* thread, so
clicks and heartbeats are answered even while a cell runs; those threads
send widget messages the kernel knows how to route, unlike a thread of ours.
"""

from __future__ import annotations

import threading
import weakref

_subshell_seen = threading.Event()
_subshell_id = None  # the comm subshell the front end sends widget messages to
_answering = weakref.WeakSet()


def _on_subshell(thread) -> bool:
    try:
        from ipykernel.subshell import SubshellThread
    except ImportError:  # ipykernel < 7 has no subshells
        return False
    return isinstance(thread, SubshellThread)


def on_kernel_thread() -> bool:
    current = threading.current_thread()
    return current is threading.main_thread() or _on_subshell(current)


def note_widget_message() -> None:
    """Called where a widget message from the browser is handled: tells whether this front end
    sends them to a comm subshell (the message says so in its header, whichever thread the
    kernel handed it to), which answers while a cell blocks the main thread."""
    global _subshell_id
    subshell = _message_subshell_id()
    if subshell is not None or _on_subshell(threading.current_thread()):
        _subshell_id = subshell or _subshell_id
        _subshell_seen.set()


def comms_on_subshell() -> bool:
    """True once a widget message came for a comm subshell (JupyterLab 4.4+ with ipykernel 7)."""
    return _subshell_seen.is_set()


def answer_while_blocked(*widgets) -> None:
    """Widgets whose messages must be handled while a cell blocks: the heartbeat, Stop, Pause..."""
    _answering.update(widgets)


def route_to_subshell() -> None:
    """Send the messages of the widgets of :func:`answer_while_blocked` to the comm subshell.

    ipykernel 7 routes a comm's incoming messages to the shell that last sent a message
    from it (``Comm._reply_subshell_id``): a widget updated by the cell that now blocks
    would have its heartbeats and clicks wait for that cell.  A blocking loop calls this
    once it stops drawing from the main thread; on kernels without that routing it does nothing."""
    if _subshell_id is None:
        return
    for widget in list(_answering):
        comm = getattr(widget, "comm", None)
        lock = getattr(comm, "_reply_subshell_lock", None)
        if lock is not None:
            with lock:
                comm._reply_subshell_id = _subshell_id


def _message_subshell_id():
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:
        return None
    if not Kernel.initialized():
        return None
    try:
        return Kernel.instance().get_parent().get("header", {}).get("subshell_id")
    except Exception:  # an ipykernel whose parent bookkeeping differs: no subshells known
        return None


def main_thread_draws() -> bool:
    """Whether a cell that blocks the main thread should draw from it (else the heartbeat, on the
    comm subshell, draws).  ipykernel 7 routes a widget's incoming messages to the shell that last
    sent from that widget: a button updated from the blocked main thread would have its clicks
    wait for the cell to end.  Where no subshell answers (ipykernel 6), the main thread must draw."""
    return not comms_on_subshell()

"""Which threads may touch widgets: the kernel's message threads, never a training thread.

In Colab (ipykernel 6) that is the main thread. JupyterLab 4.4+ with
ipykernel 7 also handles widget messages on a comm *subshell* thread, so
clicks and heartbeats are answered even while a cell runs; those threads
send widget messages the kernel knows how to route, unlike a thread of ours.
"""

from __future__ import annotations

import threading

_subshell_seen = threading.Event()


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
    sends them to a comm subshell, which answers while a cell blocks the main thread."""
    if not _subshell_seen.is_set() and _on_subshell(threading.current_thread()):
        _subshell_seen.set()


def comms_on_subshell() -> bool:
    """True once a widget message arrived on a comm subshell (JupyterLab 4.4+ with ipykernel 7)."""
    return _subshell_seen.is_set()

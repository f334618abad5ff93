"""Which threads may touch widgets: the kernel's message threads, never a training thread.

In Colab (ipykernel 6) that is the main thread. JupyterLab 4.4+ with
ipykernel 7 also handles widget messages on a comm *subshell* thread, so
clicks and heartbeats are answered even while a cell runs; those threads
send widget messages the kernel knows how to route, unlike a thread of ours.
"""

from __future__ import annotations

import threading


def on_kernel_thread() -> bool:
    current = threading.current_thread()
    if current is threading.main_thread():
        return True
    try:
        from ipykernel.subshell import SubshellThread
    except ImportError:  # ipykernel < 7 has no subshells
        return False
    return isinstance(current, SubshellThread)

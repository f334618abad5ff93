"""The process's native heap across runs: every run trains in a new thread (Keras' state is per
thread), and glibc gives threads heaps of their own ("arenas", up to 8 per core).  A run's thread,
and TensorFlow's threads that come and go with it, leave pages touched in whichever arenas they
used: in-use heap stays flat run after run, but the process's size crept up 0.17 MB a run over
100 runs (benchmarks/bench_memory.py).  Fewer arenas, and the freed heap handed back after each
run, keep it flat.  Both do nothing off glibc."""

from __future__ import annotations

import ctypes
import os
import threading

#: glibc's ``mallopt`` parameter for the most arenas (malloc.h: ``M_ARENA_MAX``).
_M_ARENA_MAX = -8
_bounded = threading.Event()


def _glibc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, Windows, musl)
        return None


def arena_limit() -> int:
    """At most one arena per core (glibc's default is eight; threads share them beyond)."""
    return max(2, os.cpu_count() or 2)


def bound_arenas() -> None:
    """Once per process, at ``import convlab_widgets``: no more than :func:`arena_limit` arenas, unless
    whoever started Python chose their own (``MALLOC_ARENA_MAX``, which glibc already applied).  glibc
    fixes the limit when a thread first needs an arena of its own (no Python import does: TensorFlow's
    and JAX's runtimes start their threads when they first run), so it acts only if called before."""
    if _bounded.is_set() or "MALLOC_ARENA_MAX" in os.environ:
        return
    _bounded.set()
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, arena_limit())


def return_freed_memory() -> None:
    """Give the memory a run freed back to the system (glibc keeps freed heap in its arenas): the
    process's size then follows what it holds."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)

"""``import convlab_widgets`` bounds the heap's arenas (convlab_widgets/native_memory.py), unless the
user chose their own; measured in a fresh process by glibc's own count (``malloc_info``)."""

import json
import os
import subprocess
import sys

import pytest

from convlab_widgets import native_memory

glibc = pytest.mark.skipif(native_memory._glibc() is None, reason="glibc's arenas only")

COUNT_ARENAS = r"""
import ctypes, json, os, re, tempfile, threading
from convlab_widgets import native_memory

libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]

def arenas():
    path = tempfile.mktemp()
    handle = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, handle)
    libc.fclose(handle)
    with open(path) as f:
        text = f.read()
    os.unlink(path)
    return len(re.findall(r'<heap nr="\d+">', text))

before = arenas()
threads = 3 * native_memory.arena_limit()
all_alive = threading.Barrier(threads + 1)
def hold():
    kept = [bytearray(4096) for _ in range(64)]  # a first malloc on this thread takes it an arena
    all_alive.wait()
    all_alive.wait()
workers = [threading.Thread(target=hold) for _ in range(threads)]
for worker in workers:
    worker.start()
all_alive.wait()
during = arenas()
all_alive.wait()
print(json.dumps({"before": before, "during": during, "limit": native_memory.arena_limit(), "threads": threads}))
"""


def count(**env):
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    result = subprocess.run([sys.executable, "-c", COUNT_ARENAS], capture_output=True, text=True,
                            env={**environment, **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@glibc
def test_threads_share_one_arena_per_core_once_the_package_is_imported():
    bounded = count()
    assert bounded["during"] <= max(bounded["before"], bounded["limit"]), bounded


@glibc
def test_a_users_own_arena_setting_is_left_alone():
    """MALLOC_ARENA_MAX, set when Python started, is the user's: glibc applied it and it stays
    (here glibc's own default, 8 per core: an arena per thread)."""
    chosen = count(MALLOC_ARENA_MAX=str(8 * (os.cpu_count() or 1)))
    assert chosen["during"] > chosen["limit"], chosen


def test_off_glibc_nothing_is_called(monkeypatch):
    monkeypatch.setattr(native_memory, "_glibc", lambda: None)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(native_memory, "_bounded", type(native_memory._bounded)())
    native_memory.bound_arenas()
    native_memory.return_freed_memory()
    assert native_memory._bounded.is_set()

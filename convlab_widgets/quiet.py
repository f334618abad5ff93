"""Keep TensorFlow's C++ start-up chatter out of a learner's notebook.

TensorFlow prints a screenful when it is imported and when it first looks for
devices: absl's "All log messages before absl::InitializeLog() ..." banner, a
oneDNN note, "Could not find cuda drivers", the CPU-instructions note and, on
a machine without a GPU, ``E0000 ... failed call to cuInit``. It comes from
C++ straight to file descriptor 2, so Python's logging cannot filter it, and
the lines logged before absl is initialised ignore ``TF_CPP_MIN_LOG_LEVEL``.

So, once per process, the first ``import tensorflow`` (from this package or
from the user's own code after ``import convlab_widgets``) and TensorFlow's
first device listing run with fd 2 sent to a temporary file. Afterwards every
line captured is written back except TensorFlow log records below the level
in force, known start-up noise counting as INFO: real errors, Python warnings
and tracebacks still show. The level in force is the user's
``TF_CPP_MIN_LOG_LEVEL`` when set (0 shows everything), else 2, which this
module also sets for the rest of the process (C++ warnings and infos hidden,
errors shown). ``CONVLAB_VERBOSE=1`` turns all of this off.

:func:`install` is called by ``convlab_widgets/__init__.py``: it is cheap and
imports nothing heavy, so ``import convlab_widgets`` stays instant.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
import threading

DEFAULT_LEVEL = 2  # as TF_CPP_MIN_LOG_LEVEL: 0 all, 1 no INFO, 2 no WARNING, 3 no ERROR
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}

# absl's format ("I0000 00:00:1714668459.875897  381002 port.cc:153] ..."; before absl is initialised the
# date is unknown and the seconds count from the epoch) and TensorFlow's older own one
# ("2024-01-01 12:00:00.000000: I tensorflow/core/....cc:42] ...").
_RECORD = re.compile(
    r"^(?:(?P<absl>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+\s+"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<tf>[IWEF]) )\S+:\d+\] (?P<message>.*)$"
)
_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# Errors and warnings TensorFlow logs at start-up that change nothing for a learner: no GPU
# (TensorFlow carries on on the CPU), plugins registered twice, TensorRT (never used here) missing.
_KNOWN_NOISE = re.compile(
    r"failed call to cuInit"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning: Could not find TensorRT"
)
# Lines that carry on the record above them (cpu_feature_guard's note is two lines).
_CONTINUATION = re.compile(r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler")

_lock = threading.RLock()


def verbose(environ=None) -> bool:
    """Whether the user asked to see TensorFlow's logs as TensorFlow prints them."""
    environ = os.environ if environ is None else environ
    return environ.get("CONVLAB_VERBOSE", "").strip().lower() not in ("", "0", "false", "no", "off")


def min_level(environ=None) -> int:
    """The TF_CPP_MIN_LOG_LEVEL in force: the user's if set, else :data:`DEFAULT_LEVEL`."""
    environ = os.environ if environ is None else environ
    try:
        return int(environ.get("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL))
    except ValueError:  # TensorFlow reads an unparsable value as 0
        return 0


def filter_startup_output(text: str, level: int) -> str:
    """``text`` less the TensorFlow log lines below ``level`` (known start-up noise counts as INFO)."""
    kept = []
    dropped_record = False
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if bare == _BANNER:
            severity = 0
        elif _CONTINUATION.match(bare) and dropped_record:
            continue
        else:
            match = _RECORD.match(bare)
            if match is None:
                dropped_record = False
                kept.append(line)
                continue
            severity = _SEVERITY[match.group("absl") or match.group("tf")]
            if _KNOWN_NOISE.search(match.group("message")):
                severity = 0
        dropped_record = severity < level
        if not dropped_record:
            kept.append(line)
    return "".join(kept)


@contextlib.contextmanager
def startup_noise_filtered(level: int | None = None):
    """Send fd 2 to a temporary file for the block, then write back what :func:`filter_startup_output` keeps.

    Other threads writing to fd 2 meanwhile are only delayed, not lost.
    """
    import tempfile

    level = min_level() if level is None else level
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (some embedded or GUI hosts): nothing to filter
        yield
        return
    capture = tempfile.TemporaryFile()
    try:
        _flush_python_stderr()
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            _flush_python_stderr()
            os.dup2(saved, 2)
            capture.seek(0)
            kept = filter_startup_output(capture.read().decode("utf-8", "replace"), level)
            if kept:
                _write_stderr(kept)
    finally:
        os.close(saved)
        capture.close()


def quiet_tensorflow():
    """Import TensorFlow (and let it list its devices) with the start-up noise filtered; return the module.

    Listing physical devices is what prints the cuInit line; it does not create
    TensorFlow's context, so devices can still be configured afterwards.
    """
    install()
    import tensorflow

    return tensorflow


def install() -> None:
    """Quiet the first import of TensorFlow in this process, wherever it comes from. Idempotent; cheap."""
    with _lock:
        if verbose() or "tensorflow" in sys.modules:
            return
        _set_env_defaults()
        if not any(isinstance(finder, _QuietFinder) for finder in sys.meta_path):
            sys.meta_path.insert(0, _QuietFinder())


def uninstall() -> None:
    with _lock:
        sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _QuietFinder)]


def _set_env_defaults():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", str(DEFAULT_LEVEL))
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # gRPC (distributed and TPU runtimes) logs through absl too


class _QuietFinder:  # a meta path finder; importlib.abc would cost the package's import 13 ms
    """Hands the real ``tensorflow`` spec back with a loader that runs it inside :func:`startup_noise_filtered`."""

    def __init__(self):
        self._finding = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow" or self._finding:
            return None
        self._finding = True
        try:
            spec = importlib.util.find_spec(fullname)  # the other finders: this one answers None meanwhile
        finally:
            self._finding = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # The module keeps the real loader: nothing later sees this wrapper.
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        uninstall()  # once per process
        with startup_noise_filtered():
            self.loader.exec_module(module)
            _list_devices(module)


def _list_devices(tensorflow):
    try:
        tensorflow.config.list_physical_devices()
    except Exception:  # a broken device set-up surfaces, unfiltered, where it is used
        pass


def _flush_python_stderr():
    for stream in (sys.__stderr__, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _write_stderr(text):
    # In a Jupyter kernel sys.stderr is the cell's stderr stream; in a script it is fd 2.
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except Exception:
        os.write(2, text.encode("utf-8", "replace"))

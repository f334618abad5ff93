"""TensorFlow's C++ start-up logs stay out of the user's way; real errors do not."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from convlab_widgets import quiet

ROOT = Path(__file__).resolve().parents[1]

# Verbatim from TensorFlow 2.21 on a CPU-only machine (import, then first device listing) ...
CPU_NOISE = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796153175.886427    5469 port.cc:153] oneDNN custom operations are on. You may see slightly different \
numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the \
environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796153175.886808    5469 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796153175.927625    5469 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available \
CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 AVX_VNNI FMA, in other operations, rebuild \
TensorFlow with the appropriate compiler flags.
E0000 00:00:1796153179.477697    5469 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to \
cuInit: UNKNOWN ERROR (303)
"""
# ... and what GPU runtimes (Colab's) print at import, in both of TensorFlow's log formats.
GPU_NOISE = """\
E0000 00:00:1739222222.123456    1234 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to register \
factory for plugin cuDNN when one has already been registered
E0000 00:00:1739222222.123999    1234 cuda_blas.cc:1418] Unable to register cuBLAS factory: Attempting to register \
factory for plugin cuBLAS when one has already been registered
W0000 00:00:1739222222.124001    1234 computation_placer.cc:177] computation placer already registered. Please check \
linkage and avoid linking the same target more than once.
2024-01-25 10:00:00.123456: E external/local_xla/xla/stream_executor/cuda/cuda_fft.cc:607] Unable to register cuFFT \
factory: Attempting to register factory for plugin cuFFT when one has already been registered
2024-01-25 10:00:00.234567: W tensorflow/compiler/tf2tensorrt/utils/py_utils.cc:38] TF-TRT Warning: Could not find TensorRT
"""
REAL_CPP_ERROR = "E0000 00:00:1796153179.500000    5469 op_kernel.cc:1857] OP_REQUIRES failed: a real problem\n"

NOISE_PATTERNS = [
    r"absl::InitializeLog", r"^[IW]\d{4} \d\d:\d\d:", r"oneDNN custom operations", r"Could not find cuda drivers",
    r"This TensorFlow binary is optimized", r"To enable the following instructions", r"cuInit",
    r"Unable to register cu\w+ factory", r"TF-TRT Warning",
]


def noise_in(text):
    return [line for line in text.splitlines() if any(re.search(p, line) for p in NOISE_PATTERNS)]


# --- the filter ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("level", [1, 2])
def test_start_up_noise_is_dropped_at_the_default_levels(level):
    assert quiet.filter_startup_output(CPU_NOISE + GPU_NOISE, level) == ""


def test_real_errors_tracebacks_and_other_lines_are_kept():
    traceback = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom\n'
    text = CPU_NOISE + REAL_CPP_ERROR + GPU_NOISE + "a line from somebody else\n" + traceback
    assert quiet.filter_startup_output(text, 2) == REAL_CPP_ERROR + "a line from somebody else\n" + traceback


def test_a_line_after_a_dropped_record_is_kept_unless_it_continues_it():
    cpu_note = CPU_NOISE.splitlines(keepends=True)[3:5]  # cpu_feature_guard's record and its second line
    assert quiet.filter_startup_output("".join(cpu_note), 2) == ""
    assert quiet.filter_startup_output(cpu_note[0] + "ValueError: boom\n", 2) == "ValueError: boom\n"
    assert quiet.filter_startup_output(cpu_note[1], 2) == cpu_note[1]  # alone it continues nothing


def test_the_level_is_the_users_tf_cpp_min_log_level():
    everything = CPU_NOISE + GPU_NOISE + REAL_CPP_ERROR
    assert quiet.filter_startup_output(everything, 0) == everything  # 0: the user asked for every log
    assert quiet.filter_startup_output(everything, 3) == ""  # 3: errors hidden too, as TensorFlow does
    fatal = "F0000 00:00:1796153179.5 1 x.cc:1] Check failed\n"
    assert quiet.filter_startup_output(fatal, 3) == fatal


def test_settings_read_from_the_environment():
    assert quiet.min_level({}) == quiet.DEFAULT_LEVEL == 2
    assert quiet.min_level({"TF_CPP_MIN_LOG_LEVEL": "0"}) == 0
    assert quiet.min_level({"TF_CPP_MIN_LOG_LEVEL": "junk"}) == 0  # as TensorFlow reads it
    assert not quiet.verbose({}) and not quiet.verbose({"CONVLAB_VERBOSE": "0"})
    assert quiet.verbose({"CONVLAB_VERBOSE": "1"}) and quiet.verbose({"CONVLAB_VERBOSE": "yes"})


# --- the import hook, on a stand-in TensorFlow (fast) ---------------------------------------------------------------

FAKE_TF_INIT = '''\
import os, warnings
os.write(2, {noise!r})
os.write(2, {error!r})
warnings.warn("a real Python warning")
if os.environ.get("FAKE_TF_FAIL"):
    raise ImportError("libtensorflow_framework.so.2: cannot open shared object file")
from . import config
'''
FAKE_TF_CONFIG = '''\
import os
_listed = []
def list_physical_devices(device_type=None):
    if not _listed:  # as TensorFlow, once per process
        _listed.append(os.write(2, {cuinit!r}))
    return []
'''


def run_with_fake_tensorflow(tmp_path, code, **env):
    package = tmp_path / "tensorflow"
    package.mkdir(exist_ok=True)
    noise, cuinit = CPU_NOISE.rsplit("E0000", 1)
    (package / "__init__.py").write_text(FAKE_TF_INIT.format(
        noise=(noise + GPU_NOISE).encode(), error=REAL_CPP_ERROR.encode()))
    (package / "config.py").write_text(FAKE_TF_CONFIG.format(cuinit=("E0000" + cuinit).encode()))
    environ = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "CONVLAB_VERBOSE")}
    environ.update(env, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environ, cwd=tmp_path, timeout=60)


IMPORT_FAKE = """
    import os, sys, importlib.machinery
    import convlab_widgets
    assert "tensorflow" not in sys.modules  # importing the package stays instant
    import tensorflow
    assert tensorflow.__file__.startswith(os.getcwd()), tensorflow.__file__
    assert type(tensorflow.__loader__) is importlib.machinery.SourceFileLoader  # no trace of the hook
    assert type(tensorflow.__spec__.loader) is importlib.machinery.SourceFileLoader
    assert not [f for f in sys.meta_path if "Quiet" in type(f).__name__]  # once per process
    tensorflow.config.list_physical_devices()  # as the package's strategy detection does
    print(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "unset"))
"""


def test_first_tensorflow_import_after_the_package_is_quiet_but_keeps_real_errors(tmp_path):
    done = run_with_fake_tensorflow(tmp_path, IMPORT_FAKE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"  # C++ warnings off for the rest of the process, errors on
    assert not noise_in(done.stderr), done.stderr
    assert REAL_CPP_ERROR in done.stderr and "UserWarning: a real Python warning" in done.stderr


@pytest.mark.parametrize("env", [{"CONVLAB_VERBOSE": "1"}, {"TF_CPP_MIN_LOG_LEVEL": "0"}])
def test_a_user_who_asks_for_logs_gets_all_of_them(tmp_path, env):
    done = run_with_fake_tensorflow(tmp_path, IMPORT_FAKE, **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == env.get("TF_CPP_MIN_LOG_LEVEL", "unset")  # verbose: TensorFlow's own default
    assert len(noise_in(done.stderr)) == len(noise_in(CPU_NOISE + GPU_NOISE)), done.stderr
    assert REAL_CPP_ERROR in done.stderr


def test_a_user_level_is_respected(tmp_path):
    done = run_with_fake_tensorflow(tmp_path, IMPORT_FAKE, TF_CPP_MIN_LOG_LEVEL="3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    assert not noise_in(done.stderr) and REAL_CPP_ERROR not in done.stderr  # 3 hides errors: the user said so
    assert "UserWarning: a real Python warning" in done.stderr  # Python's own warnings are not TensorFlow's logs


def test_a_failed_tensorflow_import_still_explains_itself(tmp_path):
    done = run_with_fake_tensorflow(tmp_path, "import convlab_widgets\nimport tensorflow\n", FAKE_TF_FAIL="1")
    assert done.returncode == 1
    assert "ImportError: libtensorflow_framework.so.2: cannot open shared object file" in done.stderr
    assert REAL_CPP_ERROR in done.stderr and not noise_in(done.stderr), done.stderr


def test_quiet_tensorflow_imports_it_eagerly(tmp_path):
    done = run_with_fake_tensorflow(tmp_path, """
        import sys
        from convlab_widgets import quiet
        tf = quiet.quiet_tensorflow()
        assert tf is sys.modules["tensorflow"] and quiet.quiet_tensorflow() is tf
    """)
    assert done.returncode == 0, done.stderr
    assert not noise_in(done.stderr) and REAL_CPP_ERROR in done.stderr


# --- the real thing --------------------------------------------------------------------------------------------------

def run_real(code, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "CONVLAB_VERBOSE")}
    environ.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environ, cwd=ROOT, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("env", [{}, {"TF_CPP_MIN_LOG_LEVEL": "2"}], ids=["unset", "level-2"])
def test_importing_and_training_prints_nothing_to_stderr(env):
    done = run_real("""
        from convlab_widgets import Trainer, datasets, presets
        data = datasets.load("digits", validation_split=0.2, train_subset=300)
        run = Trainer(presets.get("conv_small"), data).start(epochs=1)
        run.wait()
        print(run.status)
    """, **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "completed"
    assert not noise_in(done.stderr), done.stderr
    assert done.stderr == ""


@pytest.mark.slow
def test_a_real_error_still_shows():
    done = run_real("""
        import logging
        from convlab_widgets.training import detect_strategy
        import keras
        detect_strategy()
        logging.getLogger("convlab_widgets").error("a real problem")
        keras.layers.Dense(units=-1)
    """)
    assert done.returncode == 1
    assert "a real problem" in done.stderr
    assert "Traceback (most recent call last)" in done.stderr and "ValueError" in done.stderr
    assert not noise_in(done.stderr), done.stderr

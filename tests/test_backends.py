"""Keras backends: which one is picked, what the badge says, and one seeded run on each that is installed.

The TPU cases use stand-in device lists (named so): a TPU cannot exist on this machine.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from convlab_widgets import backend
from convlab_widgets.training import strategy_jax
from convlab_widgets.training.strategy import StrategyInfo

ROOT = Path(__file__).resolve().parents[1]


def _available(*names):
    return lambda name: name in names


@pytest.mark.parametrize("environ, keras_json, installed, tpu, expected, by", [
    ({"KERAS_BACKEND": "torch"}, "jax", ("tensorflow",), True, "torch", "KERAS_BACKEND"),
    ({}, "jax", ("tensorflow", "jax"), False, "jax", "keras.json"),
    ({}, None, ("tensorflow", "jax", "torch"), False, "tensorflow", "convlab_widgets"),
    ({}, None, ("tensorflow", "jax"), True, "jax", "convlab_widgets"),  # a TPU is reached through JAX
    ({}, None, ("jax", "torch"), False, "jax", "convlab_widgets"),
    ({}, None, ("torch",), False, "torch", "convlab_widgets"),
])
def test_the_backend_is_the_users_else_what_the_machine_can_use(environ, keras_json, installed, tpu, expected, by):
    choice = backend.pick(environ, keras_json, _available(*installed), tpu)
    assert (choice.name, choice.chosen_by, choice.note) == (expected, by, "")


def test_a_keras_json_naming_a_missing_backend_gives_way_and_says_so():
    # Keras writes keras.json with "tensorflow" on its first import, also on a Colab TPU without TensorFlow.
    choice = backend.pick({}, "tensorflow", _available("jax"), tpu=True)
    assert choice.name == "jax" and "keras.json asks for TensorFlow, which is not installed" in choice.note


def test_no_backend_at_all_says_what_to_install():
    choice = backend.pick({}, None, _available(), tpu=False)
    assert "pip install 'convlab-widgets[jax]'" in choice.note


def _python(code, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "PYTHONPATH")}
    environ.update(env)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                          env=environ, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_import_sets_the_backend_before_keras_reads_it_and_never_switches_it(tmp_path):
    home = tmp_path / "keras_home"
    home.mkdir()
    out = _python("""
        import os, convlab_widgets, keras
        from convlab_widgets.backend import in_force
        print(os.environ["KERAS_BACKEND"], keras.backend.backend(), in_force().chosen_by)
    """, KERAS_HOME=str(home))
    expected = next(name for name in backend.BACKENDS if backend.installed(name))
    assert out.split() == [expected, expected, "convlab_widgets"]
    late = "tensorflow" if expected == "jax" else "jax"
    (home / "keras.json").write_text(json.dumps({"backend": late}))
    out = _python(f"""
        import os, keras
        os.environ["KERAS_BACKEND"] = "{late}"  # asked for after Keras was imported: too late, and said so
        import convlab_widgets
        from convlab_widgets.backend import in_force
        choice = in_force()
        print(keras.backend.backend(), choice.chosen_by, "|", choice.note)
    """, KERAS_HOME=str(home), KERAS_BACKEND=expected)
    name, by, note = out.split(maxsplit=2)
    assert (name, by) == (expected, "KERAS_BACKEND")
    assert f"Keras was imported with {backend.TITLES[expected]} already" in note
    assert "restart the kernel and set KERAS_BACKEND" in note


class StandInTPU:
    """A stand-in for a JAX TPU device (platform and device_kind as jax reports them): no TPU exists here."""

    platform = "tpu"
    device_kind = "TPU v5 lite"

    def __init__(self, id):
        self.id = id


def test_stand_in_tpu_devices_are_described_as_the_badge_shows_them():
    kind, description = strategy_jax.devices_description([StandInTPU(i) for i in range(8)])
    assert (kind, description) == ("tpu", "TPU v5 lite · 8 cores · JAX DataParallel")
    info = StrategyInfo(None, kind, 8, (), description, backend="jax")
    assert info.drop_remainder  # fixed batch shapes on a TPU


def test_gpu_and_cpu_devices_are_described():
    gpu = type("GPU", (), {"platform": "gpu", "device_kind": "NVIDIA H200", "id": 0})
    assert strategy_jax.devices_description([gpu()]) == ("gpu", "1 × GPU · NVIDIA H200 · JAX")
    cpu = type("CPU", (), {"platform": "cpu", "device_kind": "cpu", "id": 0})
    assert strategy_jax.devices_description([cpu(), cpu()]) == ("cpu", "2 × CPU · JAX DataParallel")
    assert strategy_jax.devices_description([cpu()]) == ("cpu", "CPU · JAX")


# One seeded digits run on every backend installed here -----------------------------------------------

RUN = """
import json, time
import numpy as np
from convlab_widgets import Trainer, presets, datasets
from convlab_widgets.backend import in_force

data = datasets.load("digits", train_subset=600, seed=0)
trainer = Trainer(presets.get("conv_small"), data)
info = trainer.strategy_info
run = trainer.start(epochs=4, batch_size=32, seed=3)
while not run.history["loss"]:
    time.sleep(0.01)
run.pause()
deadline = time.monotonic() + 60
while run.status != "paused" and time.monotonic() < deadline:
    time.sleep(0.01)
assert run.status == "paused", run.status
run.resume()
assert run.wait(timeout=600) and run.status == "completed", (run.status, run.message)
stopped = trainer.start(epochs=50, batch_size=32, seed=3)
while not stopped.history["loss"]:
    time.sleep(0.01)
stopped.stop()
assert stopped.wait(timeout=120) and stopped.status == "stopped", stopped.status
script = run.to_script("exported.py")
print(json.dumps({
    "backend": in_force().name, "badge": info.description, "replicas": info.replicas,
    "params": run.param_count, "loss": run.history["loss"], "val_accuracy": run.history["val_accuracy"],
    "predictions": len(run.predictions), "stopped_epochs": len(stopped.history["epoch"]),
    "script_backend": "KERAS_BACKEND\\", \\"jax\\"" in script,
}))
"""


def _run_on(name, tmp_path):
    if not backend.installed(name):
        pytest.skip(f"{name} is not installed here")
    out = _python(f"import os; os.chdir({str(tmp_path)!r})\n" + RUN, KERAS_BACKEND=name,
                  XLA_FLAGS="--xla_force_host_platform_device_count=2")
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tensorflow_run(tmp_path_factory):
    return _run_on("tensorflow", tmp_path_factory.mktemp("tf"))


@pytest.mark.parametrize("name", ["jax", "torch"])
def test_a_seeded_run_trains_pauses_stops_and_exports_like_tensorflows(name, tmp_path, tensorflow_run):
    other = _run_on(name, tmp_path)
    tf = tensorflow_run
    assert other["backend"] == name and other["params"] == tf["params"]  # Keras' arithmetic on every backend
    if name == "jax":
        assert (other["replicas"], other["badge"]) == (2, "2 × CPU · JAX DataParallel")  # really sharded
        assert other["script_backend"]
    else:
        assert (other["replicas"], other["badge"]) == (1, "CPU · PyTorch")
    assert len(other["loss"]) == len(tf["loss"]) == 4 and other["predictions"] == 4
    assert other["stopped_epochs"] < 50
    # Same images, splits and seed; shuffle orders and initial draws differ per backend: curves agree loosely.
    assert abs(other["loss"][-1] - tf["loss"][-1]) < 0.25 * tf["loss"][0]
    assert abs(other["val_accuracy"][-1] - tf["val_accuracy"][-1]) < 0.15
    assert tf["val_accuracy"][-1] > 0.8 and other["val_accuracy"][-1] > 0.8
    exported = subprocess.run([sys.executable, "exported.py", "--epochs", "1", "--output", "m.keras"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300,
                              env={k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "PYTHONPATH")})
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (tmp_path / "m.keras").exists() and "val_accuracy" in exported.stdout


@pytest.mark.parametrize("copy, original", [("colab.txt", "colab-constraints.txt"),
                                            ("colab-tpu.txt", "colab-tpu-constraints.txt")])
def test_the_repository_keeps_colabs_pins_as_shared_has_them(copy, original):
    shared = ROOT.parent / "shared" / original
    if not shared.exists():
        pytest.skip("../shared is not beside this clone")
    assert (ROOT / "constraints" / copy).read_text() == shared.read_text()


def test_the_monitor_says_why_the_backend_or_device_may_not_be_the_expected_one(monkeypatch):
    """A fallback (a TPU hinted but not usable) and a backend note (keras.json asked for another) reach the monitor."""
    from convlab_widgets import Dashboard, Trainer, datasets
    from convlab_widgets.training import strategy as strategy_module

    info = strategy_module.describe(None)
    fallback = StrategyInfo(info.strategy, info.kind, info.replicas, info.devices, info.description,
                            "TPU hinted but not usable (stand-in); fell back", info.backend)
    asked = backend.BackendChoice(info.backend, "keras.json", "keras.json asks for another backend: using this one.")
    monkeypatch.setattr(backend, "in_force", lambda: asked)
    run = Trainer("conv_small", datasets.load("digits", train_subset=100), strategy=fallback).start(
        epochs=1, batch_size=50, seed=0)
    assert run.wait(timeout=120) and run.status == "completed", run.error
    dashboard = Dashboard()
    dashboard.watch(run)
    dashboard.pump()
    note = dashboard.monitor.state["badge_note"]
    assert note == "TPU hinted but not usable (stand-in); fell back keras.json asks for another backend: using this one."
    assert dashboard.monitor.state["badge"].startswith(info.description)

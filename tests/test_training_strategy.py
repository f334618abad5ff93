import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

from convlab_widgets import backend
from convlab_widgets.training import StrategyInfo, detect_strategy

if keras.backend.backend() != "tensorflow":
    pytest.skip("tf.distribute strategies: the TensorFlow backend only (tests/test_backends.py covers JAX)",
                allow_module_level=True)
import tensorflow as tf  # noqa: E402  (after the skip: TensorFlow may not be installed)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_local_tpu(monkeypatch):
    monkeypatch.setattr(backend, "_local_tpu", lambda: False)


def test_cpu_machine_uses_the_default_strategy(no_local_tpu, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("no TPU hint: the resolver must not be consulted")

    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", never)
    info = detect_strategy(environ={})
    assert (info.kind, info.replicas, info.devices) == ("cpu", 1, ("/cpu:0",))
    assert info.description == "CPU · TensorFlow" and info.note == "" and info.backend == "tensorflow"
    assert info.strategy is tf.distribute.get_strategy()


def test_tpu_hints_come_from_the_environment_or_local_devices(no_local_tpu):
    assert not backend.tpu_hint({})
    for name in ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_WORKER_ID"):
        assert backend.tpu_hint({name: "x"})


class FakeResolver:
    def master(self):
        return "grpc://10.0.0.2:8470"


class FakeTPUStrategy:
    """Stands in for tf.distribute.TPUStrategy, which needs real TPU cores."""

    num_replicas_in_sync = 8

    def __init__(self, resolver):
        self.resolver = resolver
        self.extended = type("Extended", (), {
            "worker_devices": tuple(f"/job:worker/replica:0/task:0/device:TPU:{i}" for i in range(8))
        })()


def test_tpu_branch_with_mocked_resolver(monkeypatch):
    calls = []
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: calls.append(("connect", r)))
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda r: calls.append(("initialize", r)))
    monkeypatch.setattr(tf.distribute, "TPUStrategy", FakeTPUStrategy)
    resolver = FakeResolver()
    info = detect_strategy(tpu_resolver=resolver)
    assert calls == [("connect", resolver), ("initialize", resolver)]
    assert (info.kind, info.replicas, info.description) == ("tpu", 8, "TPU · 8 replicas · TensorFlow TPUStrategy")
    assert isinstance(info.strategy, FakeTPUStrategy) and len(info.devices) == 8


def test_a_tpu_that_fails_to_initialize_falls_back_with_a_note(monkeypatch):
    def fail(resolver):
        raise tf.errors.NotFoundError(None, None, "no TPU cores")

    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: None)
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", fail)
    info = detect_strategy(tpu_resolver=FakeResolver())
    assert info.kind == "cpu" and "TPU hinted but not usable" in info.note and "no TPU cores" in info.note


def test_any_strategy_is_described():
    info = StrategyInfo.from_strategy(tf.distribute.OneDeviceStrategy("/cpu:0"))
    assert (info.kind, info.replicas, info.description) == ("cpu", 1, "1 × CPU · TensorFlow")


TWO_REPLICAS = textwrap.dedent("""
    import json
    import tensorflow as tf

    # Must happen before TensorFlow initialises its devices, hence a fresh process.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from convlab_widgets.architecture import Architecture
    from convlab_widgets.training import Trainer, datasets

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    arch = Architecture(input_shape=(8, 8, 1), num_classes=10)
    arch.add("Conv2D", filters=4, kernel_size=3, padding="same", activation="relu").add("Flatten")
    arch.add("Dense", units=10, activation="softmax")
    trainer = Trainer(arch, datasets.load("digits"), strategy=strategy)
    try:
        trainer.start(epochs=1, batch_size=33)
        refused = ""
    except ValueError as error:
        refused = str(error)
    run = trainer.start(epochs=3, batch_size=64, learning_rate=0.01, filter_every=5)
    run.wait(timeout=240)
    started = next(e for e in run.events if e.kind == "run_started")
    print(json.dumps({
        "status": run.status, "error": run.error and run.error.traceback, "replicas": started.replicas,
        "per_replica": started.per_replica_batch_size, "strategy": started.strategy,
        "loss": run.history["loss"], "filters": len(run.filters), "refused": refused,
    }))
""")


def test_two_logical_cpus_train_under_mirrored_strategy():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", TWO_REPLICAS], capture_output=True, text=True, env=env,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed", result["error"]
    assert (result["replicas"], result["per_replica"]) == (2, 32)
    assert result["strategy"] == "2 × CPU · TensorFlow MirroredStrategy"
    assert result["loss"][-1] < result["loss"][0]
    assert result["filters"] > 4  # snapshots read from mirrored variables
    assert "does not split evenly across the 2 replicas" in result["refused"] and "multiple of 2" in result["refused"]

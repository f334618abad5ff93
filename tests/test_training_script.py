"""run.to_script() exports a standalone script; executing it proves it."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from convlab_widgets.architecture import Architecture
from convlab_widgets.training import Trainer, datasets, schedules


def _arch(data):
    arch = Architecture(input_shape=data.input_shape, num_classes=data.num_classes)
    arch.add("Conv2D", filters=4, kernel_size=3, padding="same", activation="relu").add("Flatten")
    return arch.add("Dense", units=data.num_classes, activation="softmax")


@pytest.mark.parametrize("name, schedule", [("digits", schedules.exponential(0.6)),
                                            ("shapes", schedules.reduce_on_plateau())])
def test_exported_script_trains_one_epoch_standalone(tmp_path, name, schedule):
    data = datasets.load(name, train_subset=200, seed=1)
    run = Trainer(_arch(data), data).start(epochs=3, batch_size=32, learning_rate=0.01, lr_schedule=schedule,
                                           optimizer="rmsprop")
    assert run.wait(timeout=120) and run.status == "completed"
    script = tmp_path / "train.py"
    text = run.to_script(str(script))
    assert script.read_text() == text
    assert "convlab_widgets" not in text.replace("Exported by convlab_widgets", "")  # standalone
    if keras.backend.backend() == "tensorflow":
        assert "TPUClusterResolver.connect()" in text and "MirroredStrategy()" in text
        assert "with strategy.scope():" in text and "def tf_batches(" in text
    else:
        assert f'os.environ.setdefault("KERAS_BACKEND", "{keras.backend.backend()}")' in text
        assert "class Batches(keras.utils.PyDataset)" in text and "import tensorflow" not in text
    assert "BATCH_SIZE // PROCESSES, DROP_REMAINDER,\n                   shuffle=True, seed=SEED)" in text
    assert "keras.optimizers.RMSprop(learning_rate=LEARNING_RATE" in text
    assert name != "shapes" or "def make_shapes(count=2000, size=32, seed=0):" in text
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    done = subprocess.run([sys.executable, str(script), "--epochs", "1", "--output", "model.keras"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Replicas: {run.strategy.replicas}" in done.stdout and (tmp_path / "model.keras").exists()
    assert "val_accuracy" in done.stdout


def test_array_data_is_saved_beside_the_script(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 8, 8), dtype=np.uint8)
    y = np.arange(40) % 2
    data = datasets.load((x, y), validation_split=0.25)
    run = Trainer(_arch(data), data).start(epochs=1, batch_size=10, lr_schedule=lambda epoch: 0.01)
    assert run.wait(timeout=60) and run.status == "completed"
    text = run.to_script(str(tmp_path / "mine.py"))
    assert "DATA_FILE = 'mine_data.npz'" in text and "_LR_VALUES = [0.01]" in text
    with np.load(tmp_path / "mine_data.npz") as saved:
        assert saved["x_train"].shape == (30, 8, 8, 1) and saved["x_val"].shape == (10, 8, 8, 1)
    compile(text, "mine.py", "exec")


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_an_exported_jax_script_trains_as_two_processes_with_jax_distributed(tmp_path):
    """Beyond one machine with JAX's own engine: two local processes (jax.distributed over gloo), each
    reading its share of every batch, agree on every number and save one model."""
    if keras.backend.backend() != "jax":
        pytest.skip("jax.distributed: the JAX backend (the JAX legs of CI run it)")
    data = datasets.load("digits", train_subset=200, seed=1)
    run = Trainer(_arch(data), data).start(epochs=1, batch_size=32, seed=2)
    assert run.wait(timeout=120) and run.status == "completed"
    run.to_script(str(tmp_path / "train.py"))
    coordinator = f"127.0.0.1:{_free_port()}"
    processes = []
    for index in range(2):
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "XLA_FLAGS")}
        env.update(JAX_COORDINATOR_ADDRESS=coordinator, JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(index))
        processes.append(subprocess.Popen([sys.executable, "train.py", "--epochs", "2", "--output", "model.keras"],
                                          cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
    outputs = [process.communicate(timeout=300) for process in processes]
    for index, (process, (out, err)) in enumerate(zip(processes, outputs)):
        assert process.returncode == 0, err[-3000:]
        assert f"Replicas: 2 cpu process {index + 1} of 2" in out
    finals = [out.rsplit("val_loss: ", 1)[1].split()[0] for out, _ in outputs]
    assert finals[0] == finals[1]  # one global model: both processes report the same validation loss
    assert (tmp_path / "model.keras").exists()


@pytest.mark.slow
def test_an_exported_tensorflow_script_trains_as_two_workers_with_multi_worker_mirrored_strategy(tmp_path):
    """Beyond one machine with TensorFlow's own engine: TF_CONFIG names two local workers, the script trains under
    MultiWorkerMirroredStrategy (with its named workaround for keras-team/keras#20585), both workers agree on
    every number and the first one saves the model."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.distribute: the TensorFlow backend")
    data = datasets.load("digits", train_subset=200, seed=1)
    run = Trainer(_arch(data), data).start(epochs=1, batch_size=32, seed=2)
    assert run.wait(timeout=120) and run.status == "completed"
    text = run.to_script(str(tmp_path / "train.py"))
    assert "tf.distribute.MultiWorkerMirroredStrategy()" in text and "keras-team/keras#20585" in text
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    processes = []
    for index in range(2):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        env["TF_CONFIG"] = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen([sys.executable, "train.py", "--epochs", "2", "--output", "model.keras"],
                                          cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True))
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
        assert "Replicas: 2" in out  # one CPU per worker, two workers
    finals = [out.rsplit("val_loss: ", 1)[1].split()[0] for out, _ in outputs]
    assert finals[0] == finals[1]  # one global model: both workers report the same validation loss
    assert (tmp_path / "model.keras").exists()

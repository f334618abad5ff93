"""Stop reaches a run while a cell blocks, in a real kernel, with the messages a front end sends.

ipykernel 6 (Colab, classic Notebook) handles widget messages only between cells: the blocked
cell hands them to the kernel itself (jupyter-ui-poll).  ipykernel 7 front ends (JupyterLab 4.4+,
Notebook 7) send them to a comm subshell, which answers meanwhile.  Each test drives one of the two
as that front end would: a Stop click (and, for subshells, the monitor's heartbeats) sent on the
kernel's shell channel while ``model.fit(callbacks=[lab.callback()])`` blocks the main thread.
"""

import threading
import time

import ipykernel
import pytest
from jupyter_client.manager import start_new_kernel

pytestmark = pytest.mark.slow
SUBSHELLS = int(ipykernel.__version__.split(".")[0]) >= 7

SETUP = """
from convlab_widgets import ConvLab
import time, keras, numpy as np
lab = ConvLab()
at_stop = []
_stop = lab.stop
def recording_stop():
    at_stop.append(len(lab.run.batch_history['loss']))
    _stop()
lab.stop = recording_stop
x, y = np.random.default_rng(0).random((512, 8, 8, 1)).astype('float32'), np.arange(512) % 10
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation='softmax')])
model.compile('adam', 'sparse_categorical_crossentropy')
class Slow(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 5 and not self.model.stop_training and not at_stop:
            print("training", flush=True)  # the test clicks Stop once it reads this
        time.sleep(0.02)
stream = lab.callback(batch_size=32)
print(lab.controls.stop_button.model_id, lab.dashboard.monitor.model_id)
"""
FIT = "model.fit(x, y, epochs=200, batch_size=32, verbose=0, callbacks=[stream, Slow()])"
RESULT = "print(at_stop, len(lab.run.batch_history['loss']), lab.run.status)"


class Kernel:
    def __init__(self):
        self.manager, self.client = start_new_kernel(kernel_name="python3")

    def run(self, code, wait=True, timeout=120):
        msg_id = self.client.execute(code)
        if not wait:
            return msg_id
        return self.output(msg_id, timeout)

    def output(self, msg_id, timeout=120, until=None):
        """What cell ``msg_id`` printed once it has ended, or (``until``) once it printed that text."""
        text = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.client.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                text.append(msg["content"]["text"])
                if until is not None and until in "".join(text):
                    return "".join(text)
            elif kind == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(text)
        raise TimeoutError(f"no answer to {msg_id} within {timeout}s")

    def subshell(self):
        self.client.control_channel.send(self.client.session.msg("create_subshell_request", {}))
        return self.client.control_channel.get_msg(timeout=10)["content"]["subshell_id"]

    def send(self, comm_id, content, subshell=None):
        msg = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "custom",
                                                                                "content": content}})
        if subshell is not None:
            msg["header"]["subshell_id"] = subshell
        self.client.shell_channel.send(msg)

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture()
def kernel():
    k = Kernel()
    yield k
    k.close()


def _stopped_within_two_batches(kernel, fit, subshell=None):
    # Well into the fit, however long its first compile took (JAX's takes seconds on a loaded CPU).
    assert "training" in kernel.output(fit, timeout=120, until="training")
    stop_id = kernel.stop_id
    kernel.send(stop_id, {"event": "click"}, subshell)
    kernel.output(fit, timeout=60)  # the fit cell ends soon after the click, not after 200 epochs
    at_stop, batches, status = kernel.run(RESULT).rsplit(" ", 2)
    assert status.strip() == "stopped"
    assert at_stop.startswith("[") and int(batches) - int(at_stop.strip("[] ")) <= 2


@pytest.mark.skipif(SUBSHELLS, reason="ipykernel 7 front ends send widget messages to a comm subshell (next test)")
def test_stop_is_handled_by_the_blocked_cell_on_ipykernel_6(kernel):
    kernel.stop_id, _ = kernel.run(SETUP).split()
    _stopped_within_two_batches(kernel, kernel.run(FIT, wait=False))


@pytest.mark.skipif(not SUBSHELLS, reason="comm subshells came with ipykernel 7")
def test_stop_and_heartbeats_reach_the_comm_subshell_while_the_cell_blocks(kernel):
    kernel.stop_id, monitor_id = kernel.run(SETUP).split()
    subshell = kernel.subshell()
    beating = threading.Event()

    def heartbeat():  # what the monitor's front end does while a run is active
        beat = 0
        while not beating.is_set():
            beat += 1
            kernel.send(monitor_id, {"beat": beat}, subshell)
            time.sleep(0.25)

    kernel.send(monitor_id, {"hello": 1}, subshell)
    thread = threading.Thread(target=heartbeat, daemon=True)
    thread.start()
    try:
        time.sleep(1)
        _stopped_within_two_batches(kernel, kernel.run(FIT, wait=False), subshell)
    finally:
        beating.set()
        thread.join(5)


WAKE_SETUP = """
import threading, time, ipywidgets
from convlab_widgets import ConvLab
sent_from = []
_send = ipywidgets.Widget._send
def recording(self, msg, buffers=None):
    sent_from.append(threading.current_thread().name)
    return _send(self, msg, buffers)
ipywidgets.Widget._send = recording
lab = ConvLab()
print(lab.dashboard.monitor.model_id)
"""


def test_a_run_is_drawn_from_its_events_without_any_heartbeat_and_only_from_the_main_thread(kernel):
    """No front end beats here: the run's events wake the kernel's loop, whose main thread sends every
    widget message (counted where ipywidgets sends them), up to the end of the run."""
    monitor_id = kernel.run(WAKE_SETUP).strip()
    started = kernel.run("run = lab.train(epochs=2, batch_size=128); print(lab.dashboard._wake.armed)")
    assert started.strip() == "True"  # the cell ran in the kernel's loop: events wake it
    statuses, deadline = [], time.monotonic() + 120
    while "completed" not in statuses:  # the monitor's updates as a front end receives them, nothing sent
        assert time.monotonic() < deadline, statuses
        msg = kernel.client.get_iopub_msg(timeout=120)
        content = msg["content"]
        if msg["msg_type"] == "comm_msg" and content.get("comm_id") == monitor_id:
            status = content["data"].get("state", {}).get("state", {}).get("status")
            if status is not None:
                statuses.append(status)
    assert "running" in statuses  # drawn while it trained
    threads = kernel.run("print(sorted(set(sent_from)), len(sent_from), run.status, lab.dashboard._source is None)")
    assert threads.startswith("['MainThread'] ") and threads.split()[-2:] == ["completed", "True"], threads

"""The streaming rules: only the main thread sends widget messages, and traffic stays bounded."""

import threading
import time

import ipywidgets
import keras
import numpy as np
import pytest

from convlab_widgets.training.run import RunRecord
from convlab_widgets import ConvLab, Dashboard
from convlab_widgets.training.events import BatchEnd, EpochEnd, RunStarted


@pytest.fixture
def sent(monkeypatch):
    """Every synced-trait change of any widget, with the thread that made it.

    With a kernel, each one is a widget message (Colab drops those sent from
    other threads). Recorded at the change rather than at the comm, because
    ipywidgets 7 sends nothing at all when no kernel is attached, as here.
    """
    messages = []
    original = ipywidgets.Widget.notify_change

    def record(self, change):
        if change["name"] in self.keys:
            messages.append((threading.current_thread().name, type(self).__name__, change["name"]))
        return original(self, change)

    monkeypatch.setattr(ipywidgets.Widget, "notify_change", record)
    return messages


def beat(lab):
    """What the front end's heartbeat does: a custom message handled on the main thread."""
    lab.dashboard.monitor._on_message(lab.dashboard.monitor, {"beat": 1}, [])


def test_every_widget_message_of_a_run_is_sent_from_the_main_thread(sent):
    lab = ConvLab(dataset="digits", architecture="conv_small")
    sent.clear()
    run = lab.train(epochs=2, batch_size=128)
    while not run.done or lab.dashboard._source is not None:
        beat(lab)
        time.sleep(0.05)
    assert run.status == "completed"
    assert sent, "the dashboard sent nothing"
    assert {thread for thread, _, _ in sent} == {threading.main_thread().name}
    loss_x = lab.dashboard.loss.figure.marks
    assert any(len(mark.x) for mark in loss_x), "no loss point reached the panel"


def test_wait_true_drains_on_the_main_thread(sent):
    lab = ConvLab(dataset="digits", architecture="conv_small")
    sent.clear()
    run = lab.train(epochs=1, batch_size=128, wait=True)
    assert run.done and lab.dashboard.monitor.state["status"] == "completed"
    assert {thread for thread, _, _ in sent} == {threading.main_thread().name}
    assert lab.dashboard.monitor.active is False


def _twenty_thousand_steps(run):
    """Feeds ``run`` as the adapter does, every batch recorded and told (the worst case for traffic)."""
    steps, epochs = 2000, 10
    run._publish(RunStarted({}, "CPU · TensorFlow", 1, 32, 32, steps, epochs, 1000))
    rng = np.random.default_rng(0)
    for epoch in range(epochs):
        for step in range(steps):
            batch = BatchEnd(epoch, step, steps, float(2 / (1 + epoch + step / steps) + rng.random() * 0.1), 0.5,
                             1e-3, 5000.0)
            run._record_batch(batch)
            run._tell(batch)
        run._publish(EpochEnd(epoch, 1.0, 0.5, 1.1, 0.5, 1e-3, 1.0))
    run._finish("completed", "done")


def test_a_20000_step_run_stays_within_the_traffic_bounds(sent):
    dashboard = Dashboard()
    source = RunRecord()  # a run fed by hand, as the adapter feeds one
    dashboard.watch(source)
    sent.clear()
    _twenty_thousand_steps(source)
    started = time.monotonic()
    renders = 0
    original = dashboard.render

    def counting_render(force=False):
        nonlocal renders
        before = dashboard._last_render
        original(force)
        renders += dashboard._last_render != before

    dashboard.render = counting_render
    # The heartbeat arrives a few times per second; events arrive in bulk between beats.
    while dashboard._source is not None:
        dashboard.pump()
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    assert renders <= 5 * elapsed + 2
    assert len(dashboard.history.batch["loss"]) == 20_000
    for panel in (dashboard.loss, dashboard.accuracy, dashboard.learning_rate):
        for mark in panel.figure.marks:
            assert len(mark.x) <= 3000, (type(panel).__name__, len(mark.x))


def test_callback_streams_a_users_own_fit():
    dashboard = Dashboard()
    x = np.random.default_rng(0).random((256, 8, 8, 1)).astype("float32")
    y = np.arange(256) % 4
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0,
              callbacks=[dashboard.callback(batch_size=32)])
    assert dashboard.monitor.state["status"] == "completed"
    assert len(dashboard.history.epoch["loss"]) == 3
    assert len(dashboard.history.filters) == 4  # the initial kernels and one per epoch
    assert dashboard.monitor.active is False


def test_samples_per_second_waits_for_a_meaningful_interval():
    """The run's first batch event timed the model's compile too: its "36 samples/s" is not shown, nor a
    rate over two batches; one over five batches, or half a second, is."""
    dashboard = Dashboard()
    source = RunRecord()
    dashboard.watch(source)
    source._publish(RunStarted({}, "CPU · TensorFlow", 1, 64, 64, 90, 3, 1000))
    start = time.time()
    told = [(0, 0, 36.0, start + 1.8), (0, 2, 900.0, start + 1.81), (0, 9, 2500.0, start + 1.9),
            (0, 10, 150.0, start + 2.5), (1, 0, 40.0, start + 3.0)]
    shown = []
    for epoch, step, rate, at in told:
        source._tell(BatchEnd(epoch, step, 90, 1.0, 0.5, 1e-3, rate, time=at))
        dashboard.pump()
        shown.append(dashboard._monitor_state()["samples_per_sec"])
    assert shown == [None, None, 2500.0, 150.0, 150.0]  # epoch 2's first batch: 1 batch since epoch start


def test_a_stopped_run_counts_the_epochs_its_message_counts():
    lab = ConvLab(dataset="digits", architecture="conv_small")
    run = lab.train(epochs=40, batch_size=8)
    while not any(epoch >= 2 for epoch in run.record.batch["epoch"]):  # well inside the third epoch
        time.sleep(0.02)
    lab.stop()
    lab.dashboard.follow(run)
    state = lab.dashboard.monitor.state
    done = len(run.history["epoch"])
    assert state["status"] == "stopped" and state["message"] == f"stopped after {done} of 40 epochs"
    assert state["ended"] and state["epoch"] == done and state["steps"] == 0  # not "epoch 3/40 · step 41/90"


def test_views_only_a_lab_run_fills_are_explained_once_for_your_own_fit_and_return_for_a_lab_run():
    lab = ConvLab(dataset="digits", architecture="conv_small")
    x = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32")
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, np.arange(64) % 10, epochs=1, verbose=0, callbacks=[lab.callback()])
    d = lab.dashboard
    assert [v.widget.layout.display for v in (d.confusion, d.activations)] == ["none", "none"]
    assert "your own model.fit keeps its data to itself" in d.predictions.body.value
    lab.train(epochs=1, wait=True)
    assert [v.widget.layout.display for v in (d.confusion, d.activations)] == [None, None]


def test_events_wake_the_kernels_loop_which_draws_on_its_own_thread(sent):
    """No heartbeat at all: the run's events wake the loop the cell ran in (as a kernel's), and that loop
    draws every step of the run on the main thread; the training thread sends nothing."""
    import asyncio

    lab = ConvLab(dataset="digits", architecture="conv_small")
    board = lab.dashboard

    async def cell_then_idle_kernel():
        run = lab.train(epochs=2, batch_size=128)  # a cell: watch() runs on the loop's thread
        assert board._wake.armed
        states = []
        while board._source is not None:  # the kernel idles between cells: its loop runs
            states.append(board.monitor.state.get("status"))
            await asyncio.sleep(0.005)
        return run, states

    sent.clear()
    run, states = asyncio.run(cell_then_idle_kernel())
    assert run.status == "completed" and board.monitor.state["status"] == "completed"
    assert {thread for thread, _, _ in sent} == {threading.main_thread().name}
    assert "running" in states  # drawn while it trained, not only at the end
    assert sum(1 for _, kind, name in sent if (kind, name) == ("Monitor", "state")) >= 3
    assert any(len(mark.x) for mark in board.loss.figure.marks)
    assert run.events._listeners == []  # the ended run no longer wakes anything


def test_nothing_is_woken_without_a_loop_or_in_colab(monkeypatch):
    import asyncio
    import sys

    board = Dashboard()
    board._wake.use_this_thread()
    assert not board._wake.armed  # no loop runs here: the heartbeat draws

    async def in_colab():
        monkeypatch.setitem(sys.modules, "google.colab", sys)
        board._wake.use_this_thread()
        return board._wake.armed

    assert asyncio.run(in_colab()) is False  # Colab shows only messages that answer its own: heartbeat

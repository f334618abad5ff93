import threading

import numpy as np

from convlab_widgets.training import BatchEnd, EventLog, FilterSnapshot, StatusChanged


def _batch(step):
    return BatchEnd(epoch=0, step=step, steps_per_epoch=100, loss=1.0, accuracy=0.5, lr=1e-3, samples_per_sec=10.0)


def test_events_are_plain_dataclasses_with_a_kind():
    assert _batch(0).kind == "batch"
    assert StatusChanged("paused").kind == "status"
    snapshot = FilterSnapshot(0, 0, "conv2d", np.zeros((3, 3, 1, 4)))
    assert snapshot.kind == "filters" and snapshot.kernel.shape == (3, 3, 1, 4)


def test_drain_returns_each_event_once_and_subscribers_are_independent():
    log = EventLog()
    late = None
    for step in range(3):
        log.publish(_batch(step))
        if step == 1:
            late = log.subscribe()  # a cursor starts before the first event, whenever it is made
    assert [e.step for e in log.drain()] == [0, 1, 2]
    assert log.drain() == []
    log.publish(_batch(3))
    assert [e.step for e in log.drain()] == [3]
    assert [e.step for e in late.drain()] == [0, 1, 2, 3]
    assert late.pending == 0 and len(log) == 4


def test_publishing_from_a_thread_while_the_main_thread_drains_loses_nothing():
    log = EventLog()
    subscription = log.subscribe()
    woken = []
    log.add_listener(lambda event: woken.append(threading.current_thread().name))

    def worker():
        for step in range(2000):
            log.publish(_batch(step))

    thread = threading.Thread(target=worker, name="worker")
    thread.start()
    seen = []
    while thread.is_alive() or subscription.pending:
        subscription.wait(timeout=0.05)
        seen += subscription.drain()
    thread.join()
    seen += subscription.drain()
    assert [e.step for e in seen] == list(range(2000))
    assert set(woken) == {"worker"}  # listeners run on the publishing thread


def test_wait_times_out_without_events():
    log = EventLog()
    assert log.subscribe().wait(timeout=0.01) is False
    log.publish(_batch(0))
    assert log.subscribe().wait(timeout=0.01) is True

"""RunHistory: every event kind, epochs counted as learners do, bounded series."""

import math
import types

import numpy as np
import pytest

from convlab_widgets.training.history import RunHistory, downsample


def event(kind, **fields):
    return types.SimpleNamespace(kind=kind, **fields)


def started(epochs, steps):
    return event("run_started", config={}, strategy="CPU", replicas=1, global_batch_size=32,
                 per_replica_batch_size=32, steps_per_epoch=steps, epochs=epochs, param_count=10)


def batch(epoch, step, steps, loss=1.0, accuracy=0.5, lr=1e-3):
    return event("batch", epoch=epoch, step=step, steps_per_epoch=steps, loss=loss, accuracy=accuracy, lr=lr,
                 samples_per_sec=100.0)


def epoch_end(epoch, loss=1.0, accuracy=0.5, val_loss=1.1, val_accuracy=0.4, lr=1e-3):
    return event("epoch", epoch=epoch, loss=loss, accuracy=accuracy, val_loss=val_loss, val_accuracy=val_accuracy,
                 lr=lr, duration=1.0)


def filters(epoch, batch_index, count=4):
    return event("filters", epoch=epoch, batch=batch_index, layer="conv2d", kernel=np.zeros((3, 3, 1, count)))


def stream(steps_total, steps=1000, **batch_fields):
    history = RunHistory()
    history.apply(started(math.ceil(steps_total / steps), steps))
    for i in range(steps_total):
        history.apply(batch(i // steps, i % steps, steps, loss=1.0 + math.sin(i / 7.0), **batch_fields))
    return history


@pytest.fixture(scope="module")
def real_run():
    from convlab_widgets import Trainer, presets

    history = RunHistory()
    run = Trainer(presets.get("conv_small"), "digits").start(epochs=2, batch_size=64, seed=0)
    assert run.wait(timeout=180, on_event=history.apply)
    assert run.status == "completed", run.error
    return run, history


def test_a_real_run_is_plotted_with_epochs_counted_from_one(real_run):
    run, history = real_run
    assert history.status == "completed" and history.started.kind == "run_started" and history.ended is not None
    assert history.planned_epochs == 2 and history.epochs_completed == 2
    x, loss = history.series("epoch_loss")
    assert x.tolist() == [1.0, 2.0] and np.allclose(loss, run.history["loss"])
    assert history.series("val_accuracy")[0].tolist() == [1.0, 2.0]
    x, _ = history.series("batch_loss")
    assert 0 < x[0] and {1.0, 2.0} <= set(x.tolist())  # the last batch of an epoch sits on the epoch's point
    assert np.all(np.diff(x) > 0)
    assert [history.filter_position(s) for s in history.filters] == [0.0, 1.0, 2.0]  # init, after 1, after 2


def test_from_run_rebuilds_every_batch_and_the_same_epochs(real_run):
    run, streamed = real_run
    rebuilt = RunHistory.from_run(run)
    steps, per_call = run.config["steps_per_epoch"], run.config["steps_per_execution"]
    ends = np.array(sorted({*range(per_call - 1, steps, per_call), steps - 1}))  # each host call's last step
    assert len(rebuilt.batch["epoch"]) == 2 * len(ends) > len(streamed.batch["epoch"]) - 1
    x, _ = rebuilt.series("batch_loss", max_points=None)
    assert np.allclose(x, np.concatenate([(epoch * steps + ends + 1) / steps for epoch in (0, 1)]))
    for name in ("epoch_loss", "epoch_accuracy", "val_loss", "val_accuracy", "epoch_lr"):
        assert all(np.allclose(a, b) for a, b in zip(rebuilt.series(name), streamed.series(name)))
    assert len(rebuilt.filters) == len(streamed.filters) == 3
    assert (rebuilt.status, rebuilt.message, rebuilt.planned_epochs) == ("completed", run.message, 2)
    assert np.isfinite(rebuilt.series("batch_accuracy_smooth")[1]).all()


def test_a_20000_step_stream_keeps_everything_but_draws_at_most_3000_points():
    history = stream(20_000)
    assert len(history.batch["loss"]) == 20_000
    raw_x, raw_y = history.series("batch_loss", max_points=None)
    for name in ("batch_loss", "batch_loss_smooth", "batch_accuracy", "batch_lr"):
        x, y = history.series(name)
        assert len(x) == len(y) <= 3000
        assert np.all(np.diff(x) > 0)
    x, y = history.series("batch_loss")
    assert np.array_equal(x[-1500:], raw_x[-1500:]) and np.array_equal(y[-1500:], raw_y[-1500:])  # recent: full
    assert y.min() == raw_y.min() and y.max() == raw_y.max()  # older: extremes survive


def test_older_history_does_not_shimmer_as_the_run_grows():
    history = stream(20_000)
    before = history.series("batch_loss")
    history.apply(batch(20, 0, 1000))
    after = history.series("batch_loss")
    assert np.array_equal(before[0][:1000], after[0][:1000]) and np.array_equal(before[1][:1000], after[1][:1000])


def test_downsample_rejects_a_budget_too_small_to_keep_extremes():
    with pytest.raises(ValueError, match="at least 4"):
        downsample(np.arange(10.0), np.arange(10.0), 3)


def test_missing_accuracy_and_validation_are_left_out_not_zero():
    history = RunHistory()
    history.apply(started(2, 2))
    for step in range(2):
        history.apply(batch(0, step, 2, accuracy=None))
    history.apply(epoch_end(0, accuracy=None, val_loss=None, val_accuracy=None))
    for name in ("batch_accuracy", "batch_accuracy_smooth", "epoch_accuracy", "val_loss", "val_accuracy"):
        assert len(history.series(name)[0]) == 0
    assert history.series("epoch_loss")[0].tolist() == [1.0]
    assert math.isnan(history.epoch["val_loss"][0])


def test_a_diverged_batch_is_kept_but_not_drawn():
    history = RunHistory()
    history.apply(started(1, 4))
    for step, loss in enumerate([2.0, 1.0, math.inf, math.nan]):
        history.apply(batch(0, step, 4, loss=loss))
    assert len(history.batch["loss"]) == 4
    assert history.series("batch_loss")[1].tolist() == [2.0, 1.0]
    assert len(history.series("batch_loss_smooth")[1]) == 2


def test_smoothing_is_counted_in_batches_so_throttled_events_give_the_same_curve():
    def smoothed(every):
        history = RunHistory(smoothing=0.1)  # 10 batches at 100 steps per epoch
        history.apply(started(1, 100))
        for step in range(every - 1, 100, every):
            history.apply(batch(0, step, 100, loss=1.0 if step < 40 else 0.0))
        x, y = history.series("batch_loss_smooth")
        return dict(zip(np.round(x, 6), y))

    dense, sparse = smoothed(1), smoothed(5)
    assert dense[0.6] == pytest.approx(sparse[0.6]) == pytest.approx(math.exp(-2))  # 20 batches after the drop
    raw = stream(3000)
    assert np.std(raw.series("batch_loss_smooth")[1]) < np.std(raw.series("batch_loss")[1])


def test_status_pause_and_end_are_recorded():
    history = RunHistory()
    assert history.status == "idle"
    history.apply(started(1, 1))
    history.apply(event("status", status="paused", message=""))
    assert history.status == "paused"
    history.apply(event("status", status="running", message="learning rate set to 0.01"))
    assert history.message == "learning rate set to 0.01"
    history.apply(event("ended", status="diverged", message="Try a lower learning rate", epochs_completed=0,
                        duration=1.0))
    assert (history.status, history.message, history.ended.status) == ("diverged", "Try a lower learning rate",
                                                                        "diverged")
    history.apply(event("something_newer"))  # ignored, not an error


def test_a_second_run_started_starts_over_with_a_new_generation():
    history = RunHistory()
    history.apply(started(1, 2))
    history.apply(filters(0, 0))
    history.apply(batch(0, 0, 2))
    first = history.revision("batch_loss")
    history.apply(started(3, 5))
    assert history.revision("batch_loss") != first and history.revision("batch_loss")[1] == 0
    assert history.filters == [] and history.planned_epochs == 3 and history.steps_per_epoch == 5


def test_revision_moves_only_with_its_table():
    history = RunHistory()
    history.apply(started(2, 2))
    epoch_revision, batch_revision = history.revision("val_loss"), history.revision("batch_lr")
    history.apply(batch(0, 0, 2))
    assert history.revision("val_loss") == epoch_revision and history.revision("batch_lr") != batch_revision
    history.apply(epoch_end(0))
    assert history.revision("epoch_lr") != epoch_revision


def test_unknown_steps_per_epoch_are_estimated_from_the_steps_seen():
    history = RunHistory()
    history.apply(started(2, 0))  # a dataset without a length
    for step in range(4):
        history.apply(batch(0, step, 0))
    assert history.series("batch_loss")[0].tolist() == [0.25, 0.5, 0.75, 1.0]
    history.apply(filters(0, 4))
    assert history.filter_position(history.filters[0]) == 1.0


def test_smoothing_must_be_a_non_negative_fraction():
    with pytest.raises(ValueError, match="smoothing"):
        RunHistory(smoothing=-1)
    history = RunHistory(smoothing=0)
    history.apply(started(1, 3))
    for step, loss in enumerate([3.0, 1.0, 2.0]):
        history.apply(batch(0, step, 3, loss=loss))
    assert history.series("batch_loss_smooth")[1].tolist() == [3.0, 1.0, 2.0]

"""Comparing runs in the lab: overlays, the runs table, legends with diffs, clone & tweak, delete, rename."""

import numpy as np
import pytest

from convlab_widgets import ConvLab

from .runs_table_clicks import click, row_of


@pytest.fixture(scope="module")
def lab_with_two_runs():
    lab = ConvLab(dataset="digits", architecture="conv_small")
    first = lab.train(epochs=2, batch_size=64, seed=0, wait=True)
    lab.architecture.update(3, units=32)
    second = lab.train(epochs=3, batch_size=64, learning_rate=0.003, seed=0, wait=True)
    return lab, first, second


def test_each_run_is_named_coloured_and_says_what_changed(lab_with_two_runs):
    lab, first, second = lab_with_two_runs
    assert (first.name, second.name) == ("run 1", "run 2")
    assert first.color != second.color
    assert second.changes == ["Dense(64→32)", "2→3 epochs", "lr 0.001→0.003"]
    assert second.settings.learning_rate == 0.003 and second.settings.seed == 0


def test_the_previous_run_is_overlaid_per_epoch_in_its_colour(lab_with_two_runs):
    lab, first, second = lab_with_two_runs
    for panel, metric in ((lab.dashboard.loss, "loss"), (lab.dashboard.accuracy, "accuracy")):
        (entry,) = panel.overlays.values()
        assert entry.color == first.color
        assert list(entry.train.colors) == [first.color] and entry.validation.line_style == "dashed"
        np.testing.assert_allclose(entry.train.y, first.history[metric], rtol=1e-6)
        np.testing.assert_allclose(entry.validation.y, first.history[f"val_{metric}"], rtol=1e-6)
        np.testing.assert_allclose(entry.train.x, [1, 2])
        assert entry.train in panel.figure.marks and entry.validation in panel.figure.marks
        own = list(panel.marks.values())
        behind = len(entry.marks)
        assert panel.figure.marks[behind:behind + len(own)] == own  # the watched run is drawn over the overlay
        assert "run 1" in panel.overlay_legend.value
    # The overlay legend shows once, under the loss, with every change of the run spelled out.
    assert lab.dashboard.loss.overlay_legend.layout.display is None
    assert lab.dashboard.accuracy.overlay_legend.layout.display == "none"
    assert lab.dashboard.loss.x_scale.max == 3.0


def test_the_table_shows_each_runs_numbers(lab_with_two_runs):
    lab, first, second = lab_with_two_runs
    row = row_of(lab, second)
    params, best, final, gap, epochs, _time, status = row["cells"]
    history = second.history
    assert params == f"{second.architecture.summary().total_params:,}"
    assert best == f"{max(history['val_accuracy']):.1%}" and final == f"{history['val_accuracy'][-1]:.1%}"
    assert gap == f"{(history['accuracy'][-1] - history['val_accuracy'][-1]) * 100:+.1f} pts"
    assert (epochs, status) == ("3/3", "completed")
    assert row["changes"] == "changed since run 1: Dense(64→32); 2→3 epochs; lr 0.001→0.003"
    assert row_of(lab, first)["changes"] == "first run: Conv2D(16/32) → Dense(64) → Dropout(0.25) → Dense(10)"
    assert row["live"] and row["ticked"]  # the watched run is always shown


def test_unticking_and_ticking_a_row_changes_the_overlay(lab_with_two_runs):
    lab, first, _second = lab_with_two_runs
    click(lab, "tick", first, ticked=False)
    assert lab.dashboard.loss.overlays == {} and lab.dashboard.loss.overlay_legend.layout.display == "none"
    loss = lab.dashboard.loss
    assert loss.figure.marks == list(loss.marks.values()) + loss.extra_marks
    click(lab, "tick", first, ticked=True)
    assert list(lab.dashboard.loss.overlays) == [id(first)] and row_of(lab, first)["ticked"]


def test_renaming_a_run_renames_its_legend_and_an_empty_name_is_refused(lab_with_two_runs):
    lab, first, _second = lab_with_two_runs
    click(lab, "rename", first, name="no dropout")
    assert first.name == "no dropout" and "no dropout" in lab.dashboard.loss.overlay_legend.value
    assert row_of(lab, first)["name"] == "no dropout"
    click(lab, "rename", first, name="   ")
    assert first.name == "no dropout" and row_of(lab, first)["name"] == "no dropout"


def test_clone_and_tweak_loads_architecture_and_settings():
    lab = ConvLab(dataset="digits", architecture="conv_small")
    lab.controls.optimizer.value = "momentum"
    lab.controls.schedule.value = "exponential"
    lab.controls._param_widgets["decay"].value = 0.8
    first = lab.train(epochs=1, batch_size=32, learning_rate=0.01, seed=3, filter_every=5, wait=True)
    lab.architecture.remove(4)
    lab.controls.apply({"epochs": 4, "optimizer": "sgd", "schedule": "constant", "learning_rate": 0.1})
    click(lab, "clone", first)
    assert lab.architecture.to_dict() == first.architecture.to_dict()
    values = lab.controls.values()
    assert (values["epochs"], values["batch_size"], values["optimizer"], values["learning_rate"]) == (1, 32, "momentum",
                                                                                                      0.01)
    assert values["schedule"] == "exponential" and values["schedule_params"]["decay"] == 0.8
    assert "Cloned run 1" in lab.dashboard.monitor.state["message"]
    lab.architecture.update(0, filters=8)  # the tweak
    second = lab.train(wait=True)
    assert second.config["seed"] == 3 and second.config["filter_every"] == 5  # kept without a control
    assert second.changes == ["Conv2D(16→8 filters)"]
    assert lab.builder.undo()  # cloning is one undoable step in the builder


def test_delete_removes_a_finished_run_and_a_running_one_is_refused():
    lab = ConvLab(dataset="digits", architecture="conv_small")
    first = lab.train(epochs=1, batch_size=64, seed=0, wait=True)
    second = lab.train(epochs=40, batch_size=16, seed=0)
    assert row_of(lab, second)["running"]  # its delete button is greyed out
    click(lab, "delete", second)
    assert second in lab.runs and "stop it before deleting it" in lab.dashboard.monitor.state["message"]
    lab.stop()
    second.wait(60)
    lab.dashboard.follow(second, timeout=10)
    click(lab, "delete", second)
    assert lab.runs == [first] and [row["name"] for row in lab.table.rows] == ["run 1"]
    assert lab.dashboard._run is first and lab.dashboard.history.epochs_completed == 1
    assert lab.dashboard.monitor.state["status"] == "completed"


def test_save_and_load_restore_runs_table_panels_and_clone(lab_with_two_runs, tmp_path):
    lab, first, second = lab_with_two_runs
    lab.rename(first, "small dense")
    lab.controls.learning_rate.value = 0.02
    path = lab.save(tmp_path / "lesson.convlab")
    loaded = ConvLab.load(path)
    assert [run.name for run in loaded.runs] == ["small dense", "run 2"]
    assert loaded.runs[1].changes == second.changes and loaded.runs[1].color == second.color
    assert loaded.controls.learning_rate.value == 0.02
    assert loaded.architecture.to_dict() == lab.architecture.to_dict()
    # The panels show the latest run, as they did when it was saved.
    assert loaded.dashboard.history.epoch["val_loss"] == pytest.approx(second.history["val_loss"])
    assert loaded.dashboard.monitor.state["status"] == "completed"
    assert loaded.dashboard.filters.state == "filters"
    np.testing.assert_allclose(loaded.dashboard.loss.marks["val_loss"].y, lab.dashboard.loss.marks["val_loss"].y)
    assert loaded.runs[1].model is not None and loaded.runs[0].model is None  # models="latest"
    # The table and overlays work on restored runs, and a restored run can be cloned.
    assert [row["name"] for row in loaded.table.rows] == ["small dense", "run 2"]
    loaded.compare(loaded.runs[0])
    assert list(loaded.dashboard.loss.overlays) == [id(loaded.runs[0])]
    loaded.clone(loaded.runs[0])
    assert loaded.controls.epochs.value == 2 and loaded.architecture.to_dict() == first.architecture.to_dict()
    third = loaded.train(wait=True)
    assert third.name == "run 3" and third.status == "completed"


def test_looking_inside_predictions_confusion_and_activations_follow_the_run(lab_with_two_runs, tmp_path):
    lab, _first, second = lab_with_two_runs
    board = lab.dashboard
    snapshot = second.predictions[-1]
    assert f"epoch 3: {int(snapshot.correct.sum())}/{len(snapshot.labels)} right" in board.predictions.body.value
    np.testing.assert_array_equal(board.confusion.mark.color, snapshot.confusion(10))
    assert board.activations.maps_box.layout.display == "flex" and board.activations.layer.options
    assert board.activations.maps.value  # the first conv layer's maps of validation image 0
    loaded = ConvLab.load(lab.save(tmp_path / "inside.convlab"))
    assert loaded.dashboard.predictions.body.value == board.predictions.body.value
    assert loaded.dashboard.activations.maps.value == board.activations.maps.value


def test_the_overlay_legend_names_every_change_without_cutting_it():
    """Notebook 04's lesson overlays runs of many changes: "bef… +1 more" told nobody which run was which."""
    from types import SimpleNamespace

    from convlab_widgets.dashboard.dashboard import _legend_label
    from convlab_widgets.dashboard.panels import _overlay_legend

    changes = ["+Dense(200, relu) before Dense(10)", "+Dense(100, relu) before Dense(10)", "sigmoid→relu",
               "learning rate 0.003→0.01", "schedule constant→exponential(0.9)"]
    label = _legend_label(SimpleNamespace(name="4 relu + lr decay", changes=changes))
    assert label == "4 relu + lr decay: " + "; ".join(changes) and "more" not in label and "…" not in label
    legend = _overlay_legend([SimpleNamespace(color="#1f77b4", label=label, turn=None)])
    assert "schedule constant→exponential(0.9)" in legend


def test_each_new_run_ticks_the_one_before_and_no_two_overlays_share_a_colour(live_widgets):
    """A lesson of many runs: the runs ticked for overlay grow by one a run until the colours come round;
    then the new run unticks the run of its own colour.  The overlays drawn stay one per colour, and the
    widgets of those taken off are closed."""
    from convlab_widgets.colors import RUN_COLORS

    lab = ConvLab(dataset="digits", architecture="conv_small")
    overlaid = []
    for _ in range(len(RUN_COLORS) + 2):
        run = lab.train(epochs=1, batch_size=256, wait=True)
        assert run.status == "completed", run.error
        overlaid.append(len(lab.dashboard.loss.overlays))
        if len(lab.runs) == len(RUN_COLORS) + 1:
            widgets_then = len(live_widgets)
    assert overlaid == [*range(len(RUN_COLORS)), len(RUN_COLORS) - 1, len(RUN_COLORS) - 1]
    first, second = lab.runs[:2]
    assert lab.table.selected == {id(run) for run in lab.runs[2:-1]}  # runs 1 and 2 share colours with 11, 12
    colours = [entry.color for entry in lab.dashboard.loss.overlays.values()] + [lab.runs[-1].color]
    assert len(set(colours)) == len(colours) == len(RUN_COLORS)
    # Run 12 added its row (state of the one table widget) and its overlay, and closed the overlay of run 2
    # it took off, with the tooltips' layouts: the lab has no more widgets than after run 11.
    assert len(live_widgets) == widgets_then
    lab.table.select(set())  # the learner unticks every row
    lab._overlay()
    # Each overlay closed: 5 marks, 2 tooltips and their 2 layouts, on the loss and the accuracy panels.
    assert lab.dashboard.loss.overlays == {} and len(live_widgets) == widgets_then - 18 * (len(RUN_COLORS) - 1)
    lab.compare(first, second)  # ticked by hand, they come back
    assert set(lab.dashboard.loss.overlays) == {id(first), id(second)}

"""The ConvLab app in Python: controls become runs, mistakes become messages."""

import pytest

from convlab_widgets import Architecture, ConvLab


@pytest.fixture(scope="module")
def lab():
    return ConvLab(dataset="digits", architecture="conv_small")


def test_the_train_button_trains_with_the_controls_settings(lab):
    c = lab.controls
    c.epochs.value, c.batch_size.value, c.optimizer.value, c.learning_rate.value = 1, 128, "momentum", 0.01
    c.schedule.value = "exponential"
    c.train_button.click()
    run = lab.run
    lab.dashboard.follow(run)
    assert run.status == "completed" and run.config["optimizer"] == "SGD"
    assert run.config["batch_size"] == 128 and run.config["learning_rate"] == 0.01
    assert run.config["lr_schedule"] == "schedules.exponential(decay=0.6)"
    assert not c.train_button.disabled and c.pause_button.disabled


def test_controls_that_cannot_change_during_a_run_are_disabled(lab):
    run = lab.train(epochs=30, batch_size=16)
    try:
        lab.dashboard.pump()
        c = lab.controls
        assert c.train_button.disabled and c.epochs.disabled and c.dataset.disabled
        assert not c.stop_button.disabled and not c.pause_button.disabled
        lab.pause()
        while lab.dashboard.monitor.state["status"] != "paused":  # what the heartbeat would do
            lab.dashboard.monitor._on_message(None, {"beat": 1}, [])
            run.events.wait(len(run.events), 0.2)
        assert not c.learning_rate.disabled and not c.resume_button.disabled
    finally:
        lab.stop()
        lab.dashboard.follow(run)
    assert run.status == "stopped"


def test_an_invalid_architecture_is_reported_in_the_status_line_not_raised():
    broken = Architecture(input_shape=(8, 8, 1), num_classes=10).add("Flatten").add("Dense", units=3)
    lab = ConvLab(dataset="digits", architecture=broken)
    lab.controls.train_button.click()
    state = lab.dashboard.monitor.state
    assert state["status"] == "not started"
    assert "Dense #2" in state["message"] and "10 classes" in state["message"]
    assert lab.runs == []


def test_switching_dataset_resizes_the_input(lab):
    lab.controls.dataset.value = "shapes"
    assert lab.architecture.input_shape == (32, 32, 3) and lab.builder.dataset == "shapes"
    lab.controls.dataset.value = "digits"
    assert lab.architecture.input_shape == (8, 8, 1)


def test_a_lab_without_conv2d_says_there_are_no_filters_to_watch():
    dense = Architecture(input_shape=(8, 8, 1), num_classes=10).add("Flatten").add("Dense", units=10,
                                                                                    activation="softmax")
    lab = ConvLab(dataset="digits", architecture=dense)
    assert lab.dashboard.filters.state == "no_conv2d"
    lab.architecture.insert(0, "Conv2D", filters=4, padding="same")
    assert lab.dashboard.filters.state == "waiting"


def test_the_compact_layout_puts_the_charts_and_filters_beside_the_builder():
    import ipywidgets as widgets

    lab = ConvLab(layout="compact")
    (top, lr_range, dashboard, table) = lab.children
    left, glance = top.children
    assert lr_range is lab.lr_range.widget  # the range test's panel, under the two columns
    assert lab.arrangement == "compact" and "convlab-compact" in lab._dom_classes
    assert list(left.children) == [lab.builder, lab.controls] and glance is dashboard.glance
    d = lab.dashboard
    shown = [d.monitor, *glance.children[1].children, glance.children[2]]
    assert shown == [d.monitor, d.loss.widget, d.accuracy.widget, d.filters.widget]
    below = dashboard.children[0].children  # the other panels stay, each once
    assert d.learning_rate.widget in below and not {d.loss.widget, d.filters.widget} & set(below)
    assert d.loss.figure.layout.height == "200px"
    d.loss.enlarge.value = True
    d.loss.enlarge.value = False
    assert d.loss.figure.layout.height == "200px"  # back to its compact height, not the full one
    assert table is lab.table and isinstance(top, widgets.GridBox)


def test_layout_is_a_lab_layout_name_or_the_boxs_own_layout():
    import ipywidgets as widgets

    with pytest.raises(ValueError, match=r"layout='compat'.*'full', 'compact'"):
        ConvLab(layout="compat")
    lab = ConvLab(layout=widgets.Layout(width="900px"))
    assert lab.arrangement == "full" and lab.layout.width == "900px"
    assert lab.children[0] is lab.builder and lab.dashboard.glance is None
    assert ConvLab(layout={"width": "800px"}).layout.width == "800px"

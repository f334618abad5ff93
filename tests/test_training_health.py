"""Gradient and activation health (issue #15): real short runs on digits, the panel, saving.

The seeds' lesson ("without a PhD"): the 5-layer dense network with sigmoid activations
(200, 100, 60, 30 units, then 10 softmax) barely learns, because each sigmoid shrinks the
gradient flowing back; with relu it learns.  SGD at 0.1 (the codelab's optimizer), 3 epochs,
seed 0: about 1.5 s a run.  Run on TF and on JAX (``KERAS_BACKEND=jax``).
"""

import json
import math

import numpy as np
import pytest

from convlab_widgets.architecture import Architecture
from convlab_widgets.dashboard.health_panel import HealthPanel, color, health_html
from convlab_widgets.persistence import LabFileError, load_lab, save_lab
from convlab_widgets.training import Trainer, datasets
from convlab_widgets.training.events import HealthSnapshot
from convlab_widgets.training.health import diagnose
from convlab_widgets.training.history import RunHistory
from convlab_widgets.training.settings import Settings, SettingsError

LESSON = dict(epochs=3, batch_size=64, optimizer="sgd", learning_rate=0.1, seed=0)


def deep(activation):
    """The seeds' 5-layer dense network, on digits' 8×8 images."""
    arch = Architecture(input_shape=(8, 8, 1), num_classes=10)
    arch.add("Flatten")
    for units in (200, 100, 60, 30):
        arch.add("Dense", units=units, activation=activation)
    return arch.add("Dense", units=10, activation="softmax")


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def trained(arch, data, **settings):
    run = Trainer(arch, data).start(**settings)
    assert run.wait(timeout=300) and run.status == "completed", run.error
    return run


@pytest.fixture(scope="module")
def sigmoid(digits):
    return trained(deep("sigmoid"), digits, **LESSON, health_every=10)


@pytest.fixture(scope="module")
def relu(digits):
    return trained(deep("relu"), digits, **LESSON)


def test_sigmoid_gradients_vanish_in_the_first_layers_and_relu_ones_do_not(sigmoid, relu):
    last_sigmoid, last_relu = sigmoid.health[-1], relu.health[-1]
    assert last_sigmoid.layers == last_relu.layers == ("dense_1", "dense_2", "dense_3", "dense_4", "dense_5")
    # Orders of magnitude: the first layer's gradient is over 30 times smaller with sigmoid (about 300 on TF).
    assert last_relu.gradient_norm[0] > 30 * last_sigmoid.gradient_norm[0], (last_relu.gradient_norm,
                                                                             last_sigmoid.gradient_norm)
    typical = last_sigmoid.gradient_rms / last_sigmoid.gradient_rms.max()
    assert (typical[:3] < 0.05).all() and typical[3] > 0.1, typical  # per weight, layers 1-3 get < 1/20
    found = diagnose(last_sigmoid)
    assert (found.kind, found.tag, found.layers) == ("vanishing", "vanishing gradients in layers 1\u20133", (1, 2, 3))
    assert "relu" in found.advice
    assert diagnose(last_relu).kind == ""
    assert relu.history["val_accuracy"][-1] > 0.5 > sigmoid.history["val_accuracy"][-1]  # and relu learns
    assert all(math.isnan(share) for share in last_sigmoid.dead_share)  # no relu, no dead relu share
    assert (last_relu.dead_share[:4] < 0.5).all() and math.isnan(last_relu.dead_share[4])


def test_snapshots_come_at_the_start_every_n_batches_and_at_each_epoch_end(sigmoid, relu):
    steps = sigmoid.config["steps_per_epoch"]
    assert steps >= 22  # 23 batches of 64 (22 where JAX splits batches across devices and drops the last)
    per_call = sigmoid.config["steps_per_execution"]
    ends = sorted({*range(per_call, steps, per_call), steps})  # batches done after each host call
    at = [min(end for end in ends if end >= multiple) for multiple in (10, 20)]  # the first call past 10, 20
    expected = [(0, 0)] + [(epoch, batch) for epoch in range(3) for batch in (*at, steps)]
    assert [(h.epoch, h.batch) for h in sigmoid.health] == expected
    assert [(h.epoch, h.batch) for h in relu.health] == [(0, 0), (0, steps), (1, steps), (2, steps)]
    first, later = relu.health[0], relu.health[1]
    assert np.isnan(first.update_ratio).all() and (later.update_ratio > 0).all()
    np.testing.assert_array_equal(first.weight_count, [64 * 200 + 200, 200 * 100 + 100, 100 * 60 + 60,
                                                       60 * 30 + 30, 30 * 10 + 10])
    assert all(np.isfinite(h.weight_norm).all() and (h.activation_std > 0).all() for h in relu.health)
    assert relu.health == relu.record.health and relu.health is not relu.record.health  # a copy


def test_a_too_high_learning_rate_kills_relu_units(digits, relu):
    killed = trained(deep("relu"), digits, epochs=2, batch_size=64, optimizer="adam", learning_rate=0.1, seed=0)
    last = killed.health[-1]
    assert last.dead_share[:4].max() >= 0.6, last.dead_share  # most units of some layer never fire again
    assert (relu.health[-1].dead_share[:4] < 0.5).all()  # the same network at lr 0.1 with sgd keeps them
    found = diagnose(last)
    assert found.kind == "dead" and found.tag.startswith("dead units in layer")
    assert "learning rate" in found.advice


def test_exploding_gradients_are_told_first():
    snapshot = _snapshot(gradient_norm=[1e-6, 50.0, math.inf], weight_norm=[1.0, 2.0, 3.0])
    found = diagnose(snapshot)
    assert (found.kind, found.tag) == ("exploding", "exploding gradients in layers 2\u20133")
    assert diagnose(None).kind == "" and diagnose(_snapshot(layers=[])).kind == ""


def test_health_every_is_one_checked_setting_saved_with_the_others():
    with pytest.raises(SettingsError, match="health_every: must be a whole number from 1") as caught:
        Settings.make(health_every=0)
    assert caught.value.field == "health_every"
    settings = Settings.make(health_every=25)
    assert Settings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    assert Settings().health_every is None


# -- the panel -----------------------------------------------------------------------------------------


def test_the_panel_draws_one_row_per_layer_and_the_tag_only_when_a_snapshot_came(sigmoid):
    panel = HealthPanel()
    sent = []
    panel.body.observe(lambda change: sent.append(change["new"]), names="value")
    history = sigmoid.record.snapshot()
    panel.update(history)
    panel.update(history)
    assert len(sent) == 1
    body = sent[0]
    assert "vanishing gradients in layers 1\u20133" in body and "use relu" in body
    assert all(f"{k}. dense_{k}" in body for k in range(1, 6))
    assert body.count(color(float(sigmoid.health[-1].gradient_norm[0]))) >= 1
    partial = RunHistory()
    for event in sigmoid.events:
        partial.apply(event)
        if event.kind == "health" and len(partial.health) == 2:
            break
    panel.update(partial)
    assert len(sent) == 2 and "of 2 snapshots" in sent[1]


def test_colours_follow_the_gradient_norm_on_a_log_scale():
    assert color(1e-3) == "#440154" and color(1e-9) == "#440154"  # the dark end, and beyond it
    assert color(10.0) == "#fde725" and color(1e9) == "#fde725"
    assert color(math.nan) == color(-1.0) == "#9e9e9e"
    assert color(1e-2) != color(1e-1) != color(1.0)


def test_layer_names_from_a_file_are_escaped():
    body = health_html([_snapshot(layers=["<img src=x onerror=alert(1)>", "b"])])
    assert "<img" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body


# -- saving -----------------------------------------------------------------------------------------------


@pytest.fixture
def saved(sigmoid, tmp_path):
    return save_lab(tmp_path / "health.convlab", architecture=deep("sigmoid"), dataset="digits", runs=[sigmoid])


def test_a_saved_lab_keeps_every_health_snapshot_and_replays_them(sigmoid, saved):
    restored = load_lab(saved).runs[0]
    assert len(restored.health) == len(sigmoid.health) == 10
    for before, after in zip(sigmoid.health, restored.health):
        assert (after.epoch, after.batch, after.layers) == (before.epoch, before.batch, before.layers)
        np.testing.assert_array_equal(after.gradient_norm, before.gradient_norm)
        np.testing.assert_array_equal(after.dead_share, before.dead_share)
    assert restored.settings.health_every == 10
    replayed = [event for event in restored.events if event.kind in ("health", "epoch")]
    # The start, batches 10 and 20, the epoch's record, then its end-of-epoch snapshot, as the run published them.
    assert [(e.kind, e.epoch) for e in replayed][:5] == [("health", 0)] * 3 + [("epoch", 0), ("health", 0)]
    assert diagnose(restored.health[-1]).tag == "vanishing gradients in layers 1\u20133"


def test_a_lab_saved_before_health_loads_without_it(saved):
    _edit(saved, lambda run: run.pop("health"))
    assert load_lab(saved).runs[0].health == []


@pytest.mark.parametrize("change, words", [
    (lambda run: run["health"][0]["values"].update(layers=["a"]), "health[0].weight_count must hold one real number "
                                                                 "per layer (1), got int64 (5,)"),
    (lambda run: run["health"][0]["values"].update(layers=[]), "health[0].layers must name 1 to 1000 layers"),
    (lambda run: run["health"][0]["values"].update(layers=[1, 2, 3, 4, 5]), "health[0].layers[0] must be text"),
    (lambda run: run["health"][1]["values"].update(layers="dense"), "health[1].values.layers must be a list"),
    (lambda run: run["health"].extend(run["health"] * 2000), "holds 20,010 health snapshots, more than a lab may hold"),
])
def test_hostile_health_snapshots_are_refused_where_they_are(saved, change, words):
    _edit(saved, change)
    with pytest.raises(LabFileError) as caught:
        load_lab(saved)
    assert str(caught.value).startswith(str(saved)) and words in str(caught.value), str(caught.value)


def _edit(saved, change):
    document = json.loads((saved / "lab.json").read_text())
    change(document["runs"][0])
    (saved / "lab.json").write_text(json.dumps(document))


def _snapshot(layers=("a", "b", "c"), gradient_norm=None, weight_norm=None):
    n = len(layers)
    ones = np.ones(n, np.float32)
    return HealthSnapshot(0, 0, tuple(layers), np.full(n, 100), ones if gradient_norm is None else
                          np.asarray(gradient_norm, np.float32), ones if weight_norm is None else
                          np.asarray(weight_norm, np.float32), ones, ones, ones, np.full(n, np.nan, np.float32))

"""The loss panel marks the epoch a run turned to memorising, and says it in words."""

import pytest

from convlab_widgets.dashboard import LossPanel
from convlab_widgets.training.history import RunHistory

from .test_training_history import epoch_end, started
from .test_dashboard_panels import Traffic

OVERFITTING = ([1.0, 0.6, 0.4, 0.3, 0.22, 0.16, 0.12, 0.09, 0.07, 0.05],  # training loss keeps falling
               [1.1, 0.8, 0.6, 0.5, 0.45, 0.5, 0.56, 0.62, 0.7, 0.78])  # validation turns at epoch 5
HEALTHY = ([1.0, 0.6, 0.4, 0.3, 0.22, 0.16, 0.12, 0.09, 0.07, 0.05],
           [1.1, 0.8, 0.6, 0.5, 0.45, 0.41, 0.39, 0.37, 0.36, 0.35])


def history_of(losses, val_losses):
    history = RunHistory()
    history.apply(started(len(losses), 10))
    for epoch, (loss, val_loss) in enumerate(zip(losses, val_losses)):
        history.apply(epoch_end(epoch, loss=loss, val_loss=val_loss))
    return history


def test_an_overfitting_run_gets_a_mark_at_its_turn_and_a_sentence():
    panel = LossPanel()
    panel.update(history_of(*OVERFITTING))
    finding = panel.overfitting
    assert finding is not None and finding.epoch == 5
    assert list(panel.turn_point.x) == [5.0] and list(panel.turn_point.y) == [0.45]
    assert list(panel.turn.x) == [5.0, 5.0]
    assert list(panel.turn.y) == pytest.approx([panel.y_scale.min, panel.y_scale.max])
    assert panel.turn in panel.figure.marks and panel.turn_point in panel.figure.marks
    assert panel.notice.layout.display is None
    assert "validation loss rising since epoch 5 while training loss falls" in panel.notice.value
    assert "dropout" in panel.notice.value


def test_a_healthy_run_gets_no_mark_and_a_new_run_clears_it():
    panel = LossPanel()
    panel.update(history_of(*HEALTHY))
    assert panel.overfitting is None and len(panel.turn.x) == 0 and panel.notice.layout.display == "none"
    panel.update(history_of(*OVERFITTING))
    assert panel.overfitting is not None
    panel.update(history_of(*HEALTHY))
    assert panel.overfitting is None and len(panel.turn.x) == 0 and len(panel.turn_point.x) == 0


def test_the_mark_survives_overlays_and_costs_nothing_when_nothing_changed():
    panel = LossPanel()
    history = history_of(*OVERFITTING)
    panel.update(history)
    panel.overlay([("other", "run 1", "#1f77b4", history_of(*HEALTHY))])
    assert panel.figure.marks[-2:] == [panel.turn, panel.turn_point]
    traffic = Traffic(panel.widget)
    panel.update(history)
    assert traffic.take() == []


def test_an_overlaid_run_that_overfit_keeps_its_turn_marked():
    """Notebook 02's lesson: once dropout and batch norm are trained, the first run's turn still shows."""
    panel = LossPanel()
    panel.update(history_of(*HEALTHY))
    panel.overlay([("plain", "run 1", "#1f77b4", history_of(*OVERFITTING)),
                   ("cured", "run 2", "#ff7f0e", history_of(*HEALTHY))])
    plain, cured = panel.overlays["plain"], panel.overlays["cured"]
    assert (list(plain.turn_point.x), list(plain.turn_point.y)) == ([5.0], [0.45])
    assert len(cured.turn_point.x) == 0 and plain.turn_point in panel.figure.marks
    assert "run 1 <span" in panel.overlay_legend.value and "memorising from epoch 5" in panel.overlay_legend.value
    assert panel.overlay_legend.value.count("memorising") == 1


def test_the_watched_runs_legend_names_it_beside_the_overlaid_runs():
    panel = LossPanel()
    panel.use_run("#2ca02c", "run <3>")
    assert "<b" in panel.legend.value and "run &lt;3&gt;:</b>" in panel.legend.value  # escaped, a user's name
    panel.batches.value = True  # redrawn with the optional curves, still named
    assert "run &lt;3&gt;:" in panel.legend.value and "each batch" in panel.legend.value

"""One settings schema: every way of choosing how a run trains is checked in one place, the same way."""

import numpy as np
import pytest

from convlab_widgets.controls import Controls
from convlab_widgets.training import schedules
from convlab_widgets.training.settings import MAX_EPOCHS, OPTIMIZERS, Settings, SettingsError


@pytest.mark.parametrize("change, field, words", [
    (dict(epochs=0), "epochs", "got 0"),
    (dict(epochs=-1), "epochs", "got -1"),
    (dict(epochs=2.5), "epochs", "got 2.5"),
    (dict(epochs=MAX_EPOCHS + 1), "epochs", "from 1 to 10,000"),
    (dict(epochs="ten"), "epochs", "got 'ten'"),
    (dict(batch_size=0), "batch_size", "from 1 to 65,536"),
    (dict(learning_rate=0), "learning_rate", "positive number"),
    (dict(learning_rate=float("nan")), "learning_rate", "positive number"),
    (dict(learning_rate="fast"), "learning_rate", "got 'fast'"),
    (dict(seed=2**40), "seed", "from 0 to 4,294,967,295"),
    (dict(seed="x"), "seed", "got 'x'"),
    (dict(jit_compile="yes"), "jit_compile", "True, False or None"),
    (dict(optimizer="adm"), "optimizer", "did you mean 'adam'"),
    (dict(optimizer=3), "optimizer", "a name such as 'adam'"),
    (dict(lr_schedule="exp"), "schedule", "unknown schedule"),
    (dict(schedule="exponential", schedule_params={"decay": 5}), "schedule", "outside [0.01, 1.0]"),
    (dict(schedule="exponential", schedule_params="x"), "schedule", "must be a dict"),
    (dict(dataset="mnst"), "dataset", "did you mean 'mnist'"),
    (dict(filter_every=0), "filter_every", "got 0"),
])
def test_a_bad_setting_is_refused_with_its_name(change, field, words):
    with pytest.raises(SettingsError) as caught:
        Settings.make(**change)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ") and words in str(caught.value)


def test_numpy_numbers_are_the_numbers_they_hold():
    s = Settings.make(epochs=np.int64(3), batch_size=np.int32(16), learning_rate=np.float32(0.01), seed=np.uint8(7),
                      jit_compile=np.bool_(False))
    assert (s.epochs, s.batch_size, s.learning_rate, s.seed, s.jit_compile) == (3, 16, 0.01, 7, False)
    assert type(s.epochs) is int and type(s.learning_rate) is float and type(s.jit_compile) is bool


def test_an_unknown_keyword_names_the_closest_setting():
    with pytest.raises(TypeError, match="unknown setting 'lerning_rate'; did you mean 'learning_rate'"):
        Settings.make(lerning_rate=0.1)


def test_settings_round_trip_through_plain_values():
    s = Settings.make(epochs=4, optimizer="momentum", lr_schedule=schedules.step(factor=0.3, every=2), seed=1,
                      train_subset=300, filter_every=5)
    assert Settings.from_dict(s.to_dict()) == s
    assert s.to_dict()["optimizer"] == "momentum" and "momentum" in OPTIMIZERS
    custom = Settings.make(epochs=3, lr_schedule=lambda epoch: 0.1 / (epoch + 1))
    again = Settings.from_dict(custom.to_dict())
    assert again.lr_preview() == pytest.approx([0.1, 0.05, 0.1 / 3])


def test_a_saved_lab_of_the_first_format_migrates():
    old = {"dataset": "digits", "subset": 0, "epochs": 2, "batch_size": 64, "optimizer": "momentum",
           "learning_rate": 0.01, "schedule": "exponential", "schedule_params": {"decay": 0.8}}
    s = Settings.from_dict(old)
    assert s.train_subset is None and s.optimizer == "momentum" and s.schedule == schedules.exponential(0.8)


def test_controls_put_a_refused_edit_back_and_say_why():
    controls = Controls(Settings.make(epochs=5, learning_rate=0.01))
    controls.epochs.value = 0
    assert controls.epochs.value == 5 and controls.settings.epochs == 5
    assert "epochs: must be a whole number" in controls.note.value and "kept 5" in controls.note.value
    controls.learning_rate.value = -1.0
    assert controls.learning_rate.value == 0.01 and controls.settings.learning_rate == 0.01
    controls.epochs.value = 7
    assert controls.settings.epochs == 7 and controls.note.value == ""
    controls.schedule.value = "exponential"
    controls._param_widgets["decay"].value = 50.0
    assert controls._param_widgets["decay"].value == 0.6 and "outside" in controls.note.value
    controls._param_widgets["decay"].value = 0.9
    assert controls.settings.schedule == schedules.exponential(0.9)


def test_controls_show_settings_chosen_in_python():
    controls = Controls()
    controls.show_settings(Settings.make(optimizer="momentum", lr_schedule=schedules.cosine(alpha=0.1), epochs=3))
    assert (controls.optimizer.value, controls.schedule.value, controls.epochs.value) == ("momentum", "cosine", 3)
    assert controls._param_widgets["alpha"].value == 0.1
    controls.show_settings(Settings.make(lr_schedule=lambda epoch: 0.01))
    assert controls.schedule.value == "custom"  # shown as it is, not as "constant"


@pytest.mark.parametrize("rate", [10**400, -(10**400), float("nan"), float("inf")])
def test_a_learning_rate_too_big_for_a_float_is_refused_as_a_setting(rate):
    """Found by tests/test_fuzz_inputs.py: 10**400 raised OverflowError from math.isfinite."""
    with pytest.raises(SettingsError, match=r"learning_rate: must be a positive number such as 0\.001"):
        Settings.make(learning_rate=rate)
    with pytest.raises(SettingsError, match=r"schedule: a custom schedule is saved as 'values'"):
        Settings.make(schedule="custom", schedule_params={"values": [rate]})

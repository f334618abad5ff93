import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convlab_widgets.training import schedules


def test_exponential_matches_the_mnist_codelab():
    # lr_decay(epoch) = 0.01 * math.pow(0.6, epoch)
    assert schedules.exponential(decay=0.6).preview(5, lr0=0.01) == pytest.approx(
        [0.01 * math.pow(0.6, e) for e in range(5)]
    )


def test_constant_step_and_cosine_previews():
    assert schedules.constant().preview(3, 0.1) == [0.1, 0.1, 0.1]
    assert schedules.step(factor=0.5, every=2).preview(5, 1.0) == [1.0, 1.0, 0.5, 0.5, 0.25]
    cosine = schedules.cosine(alpha=0.1).preview(5, 1.0)
    assert cosine[0] == pytest.approx(1.0) and cosine[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(cosine, cosine[1:]))


def test_reduce_on_plateau_preview_follows_given_losses():
    plateau = schedules.reduce_on_plateau(factor=0.5, patience=2, min_lr=0.2)
    assert plateau.preview(4, 1.0) == [1.0] * 4  # no losses: assumes progress
    losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99]
    values = plateau.preview(7, 1.0, val_losses=losses)
    assert values[:4] == [1.0] * 4
    assert values[4] == 0.5  # two epochs without improvement after epoch 1
    assert min(values) >= 0.2  # min_lr


def test_any_function_of_the_epoch_is_a_schedule():
    schedule = schedules.get(lambda epoch: 0.01 * 0.6**epoch)
    assert isinstance(schedule, schedules.Custom)
    assert schedule.preview(3, lr0=123.0) == pytest.approx([0.01, 0.006, 0.0036])
    with pytest.raises(ValueError, match="positive"):
        schedules.get(lambda epoch: -1.0).preview(1)


def test_get_accepts_none_names_and_schedules():
    assert isinstance(schedules.get(None), schedules.Constant)
    assert schedules.get("step", every=4).params == {"factor": 0.5, "every": 4}
    same = schedules.cosine()
    assert schedules.get(same) is same
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        schedules.get("linear")
    with pytest.raises(TypeError):
        schedules.get(3)


def test_parameters_are_described_and_validated():
    catalog = schedules.catalog()
    assert set(catalog) == set(schedules.names()) == {"constant", "exponential", "step", "cosine", "reduce_on_plateau"}
    description, params = catalog["exponential"]
    assert "decay" in description
    (decay,) = params
    assert (decay.name, decay.type, decay.default, decay.min, decay.max) == ("decay", float, 0.6, 0.01, 1.0)
    with pytest.raises(ValueError, match="decay=2.0 is outside"):
        schedules.exponential(decay=2.0)
    with pytest.raises(TypeError, match="must be a number"):
        schedules.step(every="3")
    with pytest.raises(TypeError, match="no parameter 'rate'"):
        schedules.Exponential(rate=0.5)


def test_to_code_evaluates_to_the_preview():
    for schedule in (schedules.constant(), schedules.exponential(0.7), schedules.step(0.3, 2), schedules.cosine(0.2),
                     schedules.custom(lambda e: 0.1 / (e + 1))):
        namespace = {"math": math, "LEARNING_RATE": 0.05, "EPOCHS": 6}
        exec(schedule.to_code(6), namespace)
        assert [namespace["lr_schedule"](e) for e in range(6)] == pytest.approx(schedule.preview(6, 0.05))


@given(
    decay=st.floats(0.01, 1.0),
    lr0=st.floats(1e-6, 10.0),
    epochs=st.integers(1, 60),
)
def test_exponential_previews_are_positive_and_non_increasing(decay, lr0, epochs):
    values = schedules.exponential(decay).preview(epochs, lr0)
    assert len(values) == epochs and values[0] == pytest.approx(lr0)
    assert all(v >= 0 for v in values) and all(a >= b for a, b in zip(values, values[1:]))

"""What the builder tells a first-time user: where a clicked card goes, how to fix a layer after the
output or a pool too big for its input, and why Train waits."""

from convlab_widgets import Architecture, Builder, ConvLab
from convlab_widgets.builder_view import output_index

HEAD = [("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})]


def rows(*types_and_params):
    return [{"type": t, "params": p} for t, p in types_and_params]


def test_the_output_layer_is_a_closing_dense_with_one_unit_per_class():
    assert output_index(rows(("Conv2D", {}), *HEAD), 10) == 2
    assert output_index(rows(("Flatten", {}), ("Dense", {"units": 10}), ("Activation", {})), 10) == 1
    assert output_index(rows(("Conv2D", {}), ("Flatten", {})), 10) is None  # no head yet: cards go last
    assert output_index(rows(("Flatten", {}), ("Dense", {"units": 64})), 10) is None
    assert output_index([], 10) is None
    builder = Builder(Architecture((8, 8, 1), 10, layers=[("Conv2D", {}), *HEAD]))
    assert builder.view["output_index"] == 2


def test_a_layer_after_the_output_is_moved_above_it_not_given_a_second_softmax():
    arch = Architecture((8, 8, 1), 10, layers=[("Conv2D", {}), *HEAD, ("Dropout", {})])
    (problem,) = arch.summary().errors
    assert problem.message == "Dropout #4: comes after the output layer, Dense #3; move it above the output"
    assert problem.fix == {"label": "Move above output", "actions": [{"op": "move", "index": 3, "to": 2}]}
    arch.apply(problem.fix["actions"])
    assert [entry.type for entry in arch] == ["Conv2D", "Flatten", "Dropout", "Dense"]
    assert arch.summary().is_valid
    closing = Architecture((8, 8, 1), 10, layers=[("Flatten", {}), ("Dense", {"units": 10}), ("Activation", {})])
    assert "Move above output" not in str(closing.summary().errors)  # an Activation closes a head


def test_a_pool_too_big_for_its_input_is_offered_the_pool_size_that_fits():
    arch = Architecture((3, 3, 1), 10, layers=[("MaxPooling2D", {"pool_size": 4}), *HEAD])
    (problem,) = arch.summary().errors
    assert problem.message == ("MaxPooling2D #1 receives 3×3×1: a 4×4 pool cannot fit; use pool_size=3, "
                               "the largest that fits, or remove this pool")
    assert problem.fix["label"] == "Use pool_size=3"
    arch.apply(problem.fix["actions"])
    assert arch.summary().is_valid and arch.summary()[0].output_shape == (1, 1, 1)
    tall = Architecture((5, 2, 1), 10, layers=[("MaxPooling2D", {"pool_size": 3}), *HEAD]).summary().errors[0]
    assert tall.fix["label"] == "Use pool_size=(3, 2)"


def test_a_pool_error_names_the_stride_that_shrank_the_image():
    arch = Architecture((8, 8, 1), 10, layers=[("Conv2D", {"strides": 2}), ("MaxPooling2D", {"pool_size": 4}),
                                               *HEAD])
    problem = arch.summary().errors[0]
    assert problem.message.startswith("MaxPooling2D #2 receives 3×3×32 (Conv2D #1's strides=2 shrank it): "
                                      "a 4×4 pool cannot fit")
    unstrided = Architecture((3, 3, 1), 10, layers=[("Conv2D", {"padding": "same"}),
                                                    ("MaxPooling2D", {"pool_size": 4}), *HEAD])
    assert "strides" not in unstrided.summary().errors[0].message  # no stride to blame


def test_train_is_disabled_with_the_reason_while_the_architecture_is_invalid():
    lab = ConvLab(dataset="digits", architecture=Architecture((8, 8, 1), 10, layers=[("Conv2D", {}), *HEAD]))
    button, blocked = lab.controls.train_button, lab.controls.blocked
    assert not button.disabled and blocked.layout.display == "none"
    lab.architecture.add("Dropout")
    assert button.disabled and blocked.layout.display is None
    assert "Dropout #4: comes after the output layer" in blocked.value and "Dropout #4" in button.tooltip
    lab.controls.show("completed")  # a run ending does not enable it
    assert button.disabled
    lab.architecture.remove(3)
    assert not button.disabled and blocked.value == "" and button.tooltip == "Train the architecture above"


def test_the_reason_reaches_html_escaped():
    lab = ConvLab(dataset="digits", architecture=Architecture((8, 8, 1), 10, layers=HEAD))
    lab.controls.block_training("<b>x</b>")
    assert "&lt;b&gt;x&lt;/b&gt;" in lab.controls.blocked.value


def test_only_a_button_that_can_be_pressed_wears_its_colour():
    from convlab_widgets.controls import Controls

    controls = Controls()
    assert controls.stop_button.disabled and controls.stop_button.button_style == ""
    assert controls.train_button.button_style == "primary"
    controls.show("running")
    assert not controls.stop_button.disabled and controls.stop_button.button_style == "danger"
    assert controls.train_button.disabled and controls.train_button.button_style == ""
    controls.show("completed")
    assert controls.stop_button.button_style == "" and controls.train_button.button_style == "primary"
    controls.block_training("Dense #2: outputs 3 values but there are 10 classes")
    assert controls.train_button.button_style == ""

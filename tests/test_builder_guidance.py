"""What the builder tells a first-time user: where a clicked card goes, how to fix a layer after the
output or a pool too big for its input, and why Train waits."""

from convlab_widgets import Architecture, Builder
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

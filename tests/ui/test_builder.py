"""The Builder driven in a real JupyterLab: the browser edits, Python decides, the view follows."""

import pytest

SETUP = """
from convlab_widgets import Architecture, Builder
arch = Architecture(input_shape=(8, 8, 1), num_classes=10)
arch.add("Conv2D", filters=8, kernel_size=3, padding="same", activation="relu")
arch.add("MaxPooling2D").add("Flatten").add("Dense", units=10, activation="softmax")
b = Builder(arch)
b
"""
TYPES = "[e.type for e in b.architecture]"


@pytest.fixture
def builder(notebook):
    notebook.open([SETUP])
    notebook.run_all()
    notebook.wait_for(".convlab-builder .convlab-row[data-index='3']")
    assert notebook.errors() == []
    return notebook


def revision(nb):
    return int(nb.page.get_attribute(".convlab-builder", "data-revision"))


def wait_revision_after(nb, before):
    nb.page.wait_for_function(
        f"() => Number(document.querySelector('.convlab-builder').dataset.revision) > {before}")


def click_and_wait(nb, selector):
    """Click in the builder and wait until Python has answered with a new revision."""
    before = revision(nb)
    nb.page.click(selector)
    wait_revision_after(nb, before)


def shown_shapes(nb):
    return nb.page.locator(".convlab-stack .convlab-row .convlab-row-main .convlab-shape").all_inner_texts()


def test_drag_from_palette_into_position_two(builder):
    nb = builder
    before = revision(nb)
    nb.page.drag_and_drop(".convlab-card[data-layer='Conv2D']", ".convlab-row[data-index='1']",
                          target_position={"x": 40, "y": 3})
    wait_revision_after(nb, before)
    assert nb.eval(TYPES) == ["Conv2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    python_shapes = nb.eval("['×'.join(map(str, r.output_shape)) for r in b.architecture.summary()]")
    assert shown_shapes(nb) == python_shapes
    nb.screenshot("builder_after_drop")


def test_reorder_by_drag(builder):
    nb = builder
    before = revision(nb)
    # Drag the MaxPooling2D row (index 1) above the Conv2D row (index 0).
    nb.page.drag_and_drop(".convlab-row[data-index='1'] .convlab-type", ".convlab-row[data-index='0']",
                          target_position={"x": 40, "y": 3})
    wait_revision_after(nb, before)
    assert nb.eval(TYPES) == ["MaxPooling2D", "Conv2D", "Flatten", "Dense"]
    assert shown_shapes(nb)[0] == "4×4×1"


def test_edit_kernel_size_updates_params(builder):
    nb = builder
    nb.page.click(".convlab-row[data-index='0'] .convlab-type")
    field = nb.wait_for(".convlab-editor [data-param='kernel_size']")
    before = revision(nb)
    field.fill("5")
    field.press("Enter")
    wait_revision_after(nb, before)
    count = nb.page.inner_text(".convlab-row[data-index='0'] .convlab-row-main .convlab-params")
    assert count == "208"  # 5×5×1×8 weights + 8 biases, as Keras counts them
    assert nb.eval("b.architecture.summary()[0].param_count") == 208
    total = nb.eval("b.architecture.summary().total_params")
    assert nb.page.inner_text(".convlab-total strong") == f"{total:,}"
    nb.screenshot("builder_editor_open")


def test_invalid_stack_shows_located_error_and_its_fix_works(builder):
    nb = builder
    nb.run_cell("for _ in range(3): b.architecture.insert(1, 'MaxPooling2D')")
    error = nb.wait_for(".convlab-row.has-error .convlab-error-text")
    text = error.inner_text()
    assert "MaxPooling2D #" in text and "1×1" in text
    assert nb.page.locator(".convlab-row.is-unknown").count() >= 1
    nb.screenshot("builder_located_error")
    click_and_wait(nb, ".convlab-row.has-error .convlab-fix")
    nb.page.wait_for_selector(".convlab-row.has-error", state="detached")
    assert nb.eval("b.architecture.summary().is_valid") is True


def test_undo_and_redo(builder):
    nb = builder
    click_and_wait(nb, ".convlab-row[data-index='1'] .convlab-remove")
    assert nb.eval(TYPES) == ["Conv2D", "Flatten", "Dense"]
    click_and_wait(nb, ".convlab-undo")
    assert nb.eval(TYPES) == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    before = revision(nb)
    nb.page.focus(".convlab-row[data-index='0']")
    nb.page.keyboard.press("Control+Shift+Z")
    wait_revision_after(nb, before)
    assert nb.eval(TYPES) == ["Conv2D", "Flatten", "Dense"]


def test_keyboard_only_build(notebook):
    nb = notebook
    nb.open(["from convlab_widgets import Builder\nb = Builder(input_shape=(8, 8, 1), num_classes=10)\nb"])
    nb.run_all()
    nb.wait_for(".convlab-builder .convlab-empty")

    def press_on_card(layer):
        before = revision(nb)
        nb.page.focus(f".convlab-card[data-layer='{layer}']")
        nb.page.keyboard.press("Enter")
        wait_revision_after(nb, before)

    for layer in ["Conv2D", "Flatten", "MaxPooling2D", "Dense"]:
        press_on_card(layer)
    assert nb.eval(TYPES) == ["Conv2D", "Flatten", "MaxPooling2D", "Dense"]
    # MaxPooling2D after Flatten is wrong: move it up with Alt+ArrowUp, then delete nothing.
    before = revision(nb)
    nb.page.focus(".convlab-row[data-index='2']")
    nb.page.keyboard.press("Alt+ArrowUp")
    wait_revision_after(nb, before)
    assert nb.eval(TYPES) == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    # Select the Dense row from the keyboard, open its form, give it 12 units (a located error),
    # then 10 units and softmax.
    nb.page.focus(".convlab-row[data-index='1']")
    for _ in range(2):
        nb.page.keyboard.press("ArrowDown")
    nb.page.keyboard.press("Enter")
    units = nb.wait_for(".convlab-editor [data-param='units']")
    before = revision(nb)
    units.fill("12")
    units.press("Enter")
    wait_revision_after(nb, before)
    assert "12 values but there are 10 classes" in nb.page.inner_text(".convlab-row.has-error .convlab-error-text")
    before = revision(nb)
    units = nb.page.locator(".convlab-editor [data-param='units']")
    units.fill("10")
    units.press("Enter")
    wait_revision_after(nb, before)
    before = revision(nb)
    nb.page.focus(".convlab-editor [data-param='activation']")
    nb.page.select_option(".convlab-editor [data-param='activation']", "softmax")
    wait_revision_after(nb, before)
    # Delete key removes the focused row; undo from the keyboard brings it back.
    before = revision(nb)
    nb.page.focus(".convlab-row[data-index='1']")
    nb.page.keyboard.press("Delete")
    wait_revision_after(nb, before)
    assert nb.eval(TYPES) == ["Conv2D", "Flatten", "Dense"]
    assert nb.eval("b.architecture.summary().is_valid") is True
    nb.screenshot("builder_keyboard_built")


def test_preset_loads_and_total_matches_python(builder):
    nb = builder
    before = revision(nb)
    nb.page.select_option(".convlab-presets", "conv_mnist")
    wait_revision_after(nb, before)
    total = nb.eval("b.architecture.summary().total_params")
    assert nb.eval("len(b.architecture)") > 4
    assert nb.page.inner_text(".convlab-total strong") == f"{total:,}"
    assert nb.page.input_value(".convlab-input-shape") == "28, 28, 1"
    nb.screenshot("builder_preset_1280")
    before = revision(nb)
    nb.page.click(".convlab-code-toggle")
    nb.wait_for(".convlab-code-text")
    assert "keras" in nb.page.inner_text(".convlab-code-text")


def test_narrow_column_screenshot(builder):
    nb = builder
    nb.page.set_viewport_size({"width": 700, "height": 900})
    nb.run_cell("b.load_preset('squeezenet_gap')")  # a fire-module stack
    nb.page.wait_for_selector(".convlab-row[data-type='Fire']")
    nb.page.click(".convlab-row[data-type='Fire'] .convlab-expand")
    nb.wait_for(".convlab-inner-row")
    nb.page.locator(".convlab-builder").scroll_into_view_if_needed()
    nb.screenshot("builder_narrow_700", selector=".convlab-builder")


CONTRAST = """(selector) => {
    // WCAG contrast of an element's text against the first opaque background under it.
    const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
    const luminance = ([r, g, b]) => {
        const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const node = document.querySelector(selector);
    let back = node;
    while (back && (getComputedStyle(back).backgroundColor === 'rgba(0, 0, 0, 0)')) back = back.parentElement;
    const a = luminance(rgb(getComputedStyle(node).color));
    const b = luminance(rgb(getComputedStyle(back).backgroundColor));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_the_failing_row_reads_at_full_strength_and_only_the_rows_below_fade(builder):
    nb = builder
    nb.run_cell("for _ in range(3): b.architecture.insert(1, 'MaxPooling2D')")
    nb.wait_for(".convlab-row.has-error .convlab-error-text")
    failing = nb.page.locator(".convlab-row.has-error").first
    assert failing.evaluate("(node) => getComputedStyle(node).opacity") == "1"
    assert nb.page.evaluate(CONTRAST, ".convlab-row.has-error .convlab-error-text") >= 4.5
    below = nb.page.locator(".convlab-row.is-unknown:not(.has-error)")
    assert below.count() >= 1 and float(below.first.evaluate("(node) => getComputedStyle(node).opacity")) < 0.6
    nb.screenshot("builder_failing_row_1280", selector=".convlab-builder")


def test_columns_are_named_and_a_row_shows_its_full_name_on_hover(builder):
    nb = builder
    head = nb.page.inner_text(".convlab-stack-head").lower()
    assert "output shape" in head and "params" in head and "layer" in head
    # each heading sits over its column
    for heading, column in (("params", ".convlab-params"), ("output shape", ".convlab-shape")):
        head_box = nb.page.locator(".convlab-stack-head span", has_text=heading).first.bounding_box()
        cell_box = nb.page.locator(f".convlab-row[data-index='0'] .convlab-row-main {column}").bounding_box()
        assert abs(head_box["x"] - cell_box["x"]) < 2, heading
    title = nb.page.get_attribute(".convlab-row[data-index='0']", "title")
    assert title.startswith("Conv2D 3×3 ×8 same relu: output 8×8×8")


def test_a_clicked_card_goes_above_the_output_layer(builder):
    nb = builder
    click_and_wait(nb, ".convlab-card[data-layer='Dropout']")
    assert nb.eval(TYPES) == ["Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"]
    assert nb.eval("b.architecture.summary().is_valid") is True


def test_keyboard_redo_after_keyboard_undo_keeps_the_focus(builder):
    nb = builder
    click_and_wait(nb, ".convlab-row[data-index='1'] .convlab-remove")
    nb.page.focus(".convlab-row[data-index='0']")
    before = revision(nb)
    nb.page.keyboard.press("Control+Z")
    wait_revision_after(nb, before)  # (running a cell would move the focus: check the page first)
    assert nb.page.evaluate("() => document.activeElement.matches('.convlab-row[data-index=\"0\"]')")
    before = revision(nb)
    nb.page.keyboard.press("Control+Shift+Z")
    wait_revision_after(nb, before)
    assert nb.eval(TYPES) == ["Conv2D", "Flatten", "Dense"]


def test_narrow_headings_do_not_run_into_each_other(builder):
    nb = builder
    nb.page.set_viewport_size({"width": 700, "height": 900})
    nb.page.wait_for_timeout(300)
    spilled = nb.page.evaluate("""() => [...document.querySelectorAll('.convlab-stack-head > span')]
        .filter((span) => span.offsetParent && span.scrollWidth > span.clientWidth + 1)
        .map((span) => span.textContent)""")
    assert spilled == []  # each heading fits its column: "output shape" wraps rather than run into "params"
    input_shape = nb.page.locator(".convlab-input-row .convlab-shape").bounding_box()
    first_shape = nb.page.locator(".convlab-row[data-index='0'] .convlab-row-main .convlab-shape").bounding_box()
    assert abs(input_shape["x"] - first_shape["x"]) < 2  # the input's shape is in the shape column
    nb.screenshot("builder_head_700", selector=".convlab-builder")

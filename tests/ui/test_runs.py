"""Comparing runs in a real JupyterLab: overlay, table selection, rename, clone & tweak."""

from .test_lab import STATUS, button, field, open_lab

RUN_1_STROKE = "rgb(31, 119, 180)"  # the first run's colour, #1f77b4
OVERLAY_LINES = """() => [...document.querySelectorAll('.convlab-dashboard .bqplot path.line')]
    .filter(p => getComputedStyle(p).stroke === '{stroke}' && (p.getAttribute('d') || '').includes('L')).length"""


def rows(nb):
    return nb.page.locator(".convlab-runs .convlab-runs-name")


def test_overlay_table_selection_rename_and_clone(notebook):
    nb = notebook
    open_lab(nb)
    nb.run_cell("first = lab.train(epochs=2, batch_size=64, learning_rate=0.003, seed=0, wait=True)", timeout=120)
    nb.run_cell("lab.architecture.update(3, units=32)")
    field(nb, "Epochs").fill("3")
    field(nb, "Epochs").press("Tab")
    button(nb, "Train").click()
    nb.wait_for(STATUS.format("running"), timeout=60)
    nb.wait_for(STATUS.format("completed"), timeout=120)

    # Two rows, the second saying what changed; the first run is overlaid in its colour on both panels.
    nb.page.wait_for_function("() => document.querySelectorAll('.convlab-runs .convlab-runs-name').length === 2")
    assert [rows(nb).nth(i).input_value() for i in range(2)] == ["run 1", "run 2"]
    table = nb.page.inner_text(".convlab-runs")
    assert "Dense(64→32)" in table and "2→3 epochs" in table and "completed" in table
    overlay = OVERLAY_LINES.format(stroke=RUN_1_STROKE)
    nb.page.wait_for_function(f"() => ({overlay})() === 4")  # train + validation on loss and accuracy
    assert "compared with" in nb.page.inner_text(".convlab-dashboard")
    nb.screenshot("runs_overlay_1280")
    # The filter mosaic followed the run to its last snapshot (a slider echo used to pull it back).
    assert nb.eval("[lab.dashboard.filters.slider.value, lab.dashboard.filters.slider.max]") == [3, 3]

    # Unticking run 1 in the table takes its lines off the panels; ticking brings them back.
    tick = nb.page.locator(".convlab-runs input[type=checkbox]").first
    tick.uncheck()
    nb.page.wait_for_function(f"() => ({overlay})() === 0")
    tick.check()
    nb.page.wait_for_function(f"() => ({overlay})() === 4")

    # Renaming a run renames its legend.
    rows(nb).first.fill("baseline")
    rows(nb).first.press("Enter")
    nb.page.wait_for_function("() => document.querySelector('.convlab-dashboard').innerText.includes('baseline:')")
    assert nb.eval("lab.runs[0].name") == "baseline"

    # Clone & tweak: run 1's architecture and settings come back into the builder and the controls.
    nb.page.locator(".convlab-runs button:has-text('Clone & tweak')").first.click()
    nb.page.wait_for_function("() => document.querySelector('.convlab-dashboard').innerText.includes('Cloned baseline')")
    assert field(nb, "Epochs").input_value() == "2"
    assert float(field(nb, "Learning rate").input_value()) == 0.003
    assert nb.eval("lab.architecture.to_dict() == lab.runs[0].architecture.to_dict()") is True
    assert "64" in nb.page.inner_text(".convlab-builder")
    nb.screenshot("runs_cloned")
    assert nb.errors() == []

"""The widgets also work in Notebook 7 (same widget manager as JupyterLab, other shell)."""


def test_lab_renders_and_trains_in_notebook_7(notebook):
    notebook.open(["from convlab_widgets import ConvLab\nlab = ConvLab()\nlab"], ui="notebook")
    notebook.run_all()
    notebook.wait_for(".convlab-builder .convlab-row")
    notebook.wait_for(".convlab-monitor")
    assert notebook.errors() == []
    notebook.page.click(".convlab-card[data-layer='Dropout']")  # goes above the softmax output layer
    notebook.wait_for(".convlab-row[data-index='5'][data-type='Dropout']")
    notebook.wait_for(".convlab-row[data-index='6'][data-type='Dense']")
    assert notebook.page.locator(".convlab-row.has-error").count() == 0
    notebook.page.click(".convlab-undo")
    notebook.page.wait_for_selector(".convlab-row[data-index='6']", state="detached")
    notebook.page.locator(".convlab-controls button:has-text('Train')").click()
    notebook.wait_for(".convlab-monitor[data-status='running'], .convlab-monitor[data-status='completed']", timeout=60)
    notebook.page.wait_for_function(
        "() => [...document.querySelectorAll('.convlab-dashboard .bqplot path.line')]"
        ".some(p => (p.getAttribute('d') || '').split('L').length > 3)", timeout=60_000)
    notebook.screenshot("notebook7_lab")

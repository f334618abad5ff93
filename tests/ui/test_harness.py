"""The whole chain in a real browser: package widget renders, browser → Python, Python → browser."""


def test_widget_round_trip_through_real_jupyterlab(notebook):
    notebook.open(["from convlab_widgets import Builder\nb = Builder()\nb"])
    notebook.run_all()
    notebook.wait_for(".convlab-builder .convlab-card[data-layer='Conv2D']")
    assert notebook.errors() == []

    # A click in the browser changes a Python trait.
    notebook.page.click(".convlab-card[data-layer='Conv2D']")
    notebook.page.click(".convlab-card[data-layer='Dense']")
    notebook.wait_for(".convlab-row[data-index='1']")
    assert notebook.eval("b.layers") == ["Conv2D", "Dense"]

    # A change made in Python re-renders in the browser.
    notebook.run_cell("b.layers = ['Flatten']")
    notebook.page.wait_for_function(
        "() => [...document.querySelectorAll('.convlab-row')].map(r => r.textContent).join() === 'Flatten'"
    )
    path = notebook.screenshot("harness_round_trip")
    assert path.stat().st_size > 0

"""The whole chain in a real browser: package widget renders, browser → Python, Python → browser."""


def test_widget_round_trip_through_real_jupyterlab(notebook):
    notebook.open(["from convlab_widgets import Builder\nb = Builder(input_shape=(8, 8, 1), num_classes=10)\nb"])
    notebook.run_all()
    notebook.wait_for(".convlab-builder .convlab-card[data-layer='Flatten']")
    assert notebook.errors() == []

    # A click in the browser changes Python state (the architecture and the synced view trait).
    notebook.page.click(".convlab-card[data-layer='Flatten']")
    notebook.wait_for(".convlab-row[data-index='0'][data-type='Flatten']")
    assert notebook.eval("[e.type for e in b.architecture]") == ["Flatten"]
    assert notebook.eval("b.view['rows'][0]['output_shape']") == [64]

    # A change made in Python re-renders in the browser.
    notebook.run_cell("b.architecture.add('Dense', units=10, activation='softmax')")
    notebook.wait_for(".convlab-row[data-index='1'][data-type='Dense']")
    assert notebook.page.inner_text(".convlab-total strong") == "650"
    path = notebook.screenshot("harness_round_trip")
    assert path.stat().st_size > 0

"""The static twin: what a saved notebook shows of a lab where no kernel runs (nbconvert, nbviewer, GitHub)."""

import base64
import io
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from PIL import Image

from convlab_widgets import ConvLab
from convlab_widgets.twin import BUDGET_BYTES, lab_html

from .test_examples import kernel_env

PNG = re.compile(r'src="data:image/png;base64,([^"]+)" alt="([^"]*)"')


@pytest.fixture(scope="module")
def lab():
    lab = ConvLab(dataset="digits", architecture="conv_small")
    lab.train(epochs=2, batch_size=64, seed=0, wait=True)
    lab.train(epochs=3, batch_size=64, seed=0, learning_rate=0.02, wait=True)
    return lab


def test_the_twin_shows_every_run_its_curves_and_filters_within_budget(lab):
    html = lab_html(lab)
    assert len(html.encode()) <= BUDGET_BYTES
    images = {alt: Image.open(io.BytesIO(base64.b64decode(data))) for data, alt in PNG.findall(html)}
    assert set(images) == {"Loss of run 2, with run 1", "Accuracy of run 2, with run 1", "Learning rate of run 2",
                           "First-layer filters of run 2"}
    assert all(image.width >= 100 and image.height >= 60 for image in images.values())
    loss = images["Loss of run 2, with run 1"].convert("RGB")
    colors = {lab.runs[0].color, lab.runs[1].color}
    drawn = {"#%02x%02x%02x" % pixel for _count, pixel in loss.getcolors(1 << 16)}
    assert colors <= drawn  # both runs' curves, in their own colours
    for run in lab.runs:
        assert f">{run.name}</td>" in html and f"{len(run.history['epoch'])}/{run.config['epochs']}" in html
    final = f"{lab.run.history['val_accuracy'][-1]:.1%}"
    assert final in html and "conv2d_1 (Conv2D)" in html
    assert "Gradient health:" in html and "1. conv2d_1" in html  # the health panel's rows, as still markup


def test_every_text_in_the_twin_is_escaped(lab):
    original = lab.runs[0].name
    try:
        lab.rename(lab.runs[0], "<img src=x onerror=alert(1)>")
        html = lab_html(lab)
    finally:
        lab.rename(lab.runs[0], original)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_lab_without_runs_has_a_twin_too():
    html = lab_html(ConvLab(dataset="digits", architecture="conv_small"))
    assert "No runs yet" in html and "data:image/png" not in html


def test_static_snapshot_is_a_bool_and_can_be_turned_off():
    with pytest.raises(TypeError, match="static_snapshot must be True or False"):
        ConvLab(static_snapshot="no")
    assert ConvLab(static_snapshot=False).static_snapshot is False


def run_cell_by_cell(cells, folder):
    """Execute ``cells`` in a real kernel, one at a time: the notebook, and the first cell's twin after each."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    twins = []
    with client.setup_kernel(env=kernel_env()):
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
            twins.append(notebook.cells[0].outputs[1].data["text/html"])
    return notebook, twins


CELLS = [
    "from convlab_widgets import ConvLab\nlab = ConvLab(dataset='digits', architecture='conv_small')\nlab",
    "run = lab.train(epochs=2, batch_size=64, seed=0, wait=True)\nprint(run.status)",
    "lab.rename(run, 'first try')",
    "lab.save('lesson.convlab')",
]


@pytest.mark.slow
def test_a_notebook_that_trained_keeps_the_final_picture_for_nbconvert(tmp_path):
    """Executed with a real kernel, saved, converted to HTML without one: the final curves and the runs are
    there.  The twin is redrawn when the run ends and when the lab is saved, not at every change."""
    notebook, twins = run_cell_by_cell(CELLS, tmp_path)
    outputs = notebook.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data", "display_data"]
    assert "application/vnd.jupyter.widget-view+json" in outputs[0].data
    assert "No runs yet" in twins[0]
    assert "run 1: completed" in twins[1] and "2/2" in twins[1]  # redrawn when the run ended
    assert twins[2] == twins[1]  # a rename alone does not redraw it
    assert "first try: completed" in twins[3]  # saving the lab does
    path = tmp_path / "lesson.ipynb"
    nbformat.write(notebook, path)
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(path))
    assert 'alt="Loss of first try"' in body and ">first try</td>" in body and "2/2" in body
    assert Path(tmp_path, "lesson.convlab").exists()


@pytest.mark.slow
def test_a_dashboard_shown_on_its_own_keeps_its_run_for_nbconvert(tmp_path):
    """Your own model.fit streamed into a Dashboard: the cell keeps a twin of that run too."""
    cells = [
        "from convlab_widgets import Dashboard  # before Keras, as the README says\nimport numpy as np, keras\n"
        "dashboard = Dashboard()\ndashboard",
        "x = np.random.default_rng(0).random((64, 8, 8, 1), dtype=np.float32); y = np.arange(64) % 4\n"
        "model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),\n"
        "                          keras.layers.Dense(4, activation='softmax')])\n"
        "model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "model.fit(x, y, epochs=2, validation_split=0.25, callbacks=[dashboard.callback()], verbose=0)\n"
        "dashboard.follow()",
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute(env=kernel_env())
    assert [o.output_type for o in notebook.cells[0].outputs] == ["display_data", "display_data"], \
        notebook.cells[0].outputs
    twin = notebook.cells[0].outputs[1].data["text/html"]
    assert "completed" in twin and 'alt="Loss of ' in twin and 'alt="First-layer filters of ' in twin
    with pytest.raises(TypeError, match="Dashboard: static_snapshot must be True or False"):
        from convlab_widgets import Dashboard

        Dashboard(static_snapshot=1)


@pytest.mark.slow
def test_a_builder_shown_on_its_own_keeps_the_architecture_as_last_edited(tmp_path):
    cells = ["from convlab_widgets import Builder\nbuilder = Builder('conv_small')\nbuilder",
             "builder.architecture.update(3, units=48)"]
    _, twins = run_cell_by_cell(cells, tmp_path)
    assert "dense_1 (Dense)" in twins[0] and "38,282 parameters" in twins[0]
    assert "38,282 parameters" not in twins[1] and "48" in twins[1].split("dense_1 (Dense)")[1].split("\n")[0]

"""The README's Python snippets work pasted verbatim, in the order a reader meets them."""

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"

pytestmark = pytest.mark.slow


def snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def snippet(start: str) -> str:
    (found,) = [code for code in snippets() if code.startswith(start)]
    return found


def test_every_python_snippet_is_run_here():
    assert len(snippets()) == 9  # a new snippet gets a test below


def test_the_lab_snippets_run_as_a_notebook_would(tmp_path, monkeypatch):
    from IPython.display import display

    monkeypatch.chdir(tmp_path)
    cell = {"display": display}
    exec(snippet("from convlab_widgets import ConvLab\n\nlab = ConvLab(dataset="), cell)
    lab = cell["lab"]
    assert lab.run.status in ("starting", "running", "completed")  # training on, not stopped at 0 epochs
    lab.dashboard.follow(lab.run)
    assert lab.run.status == "completed" and len(lab.run.history["epoch"]) == 10
    lab.train(epochs=2, wait=True)  # "Every run is kept": the classroom snippet compares two of them
    exec(snippet("lab.compare("), cell)
    assert cell["lab"] is not lab and len(cell["lab"].runs) == 2 and os.path.isdir("lesson.convlab")


def test_the_architecture_and_trainer_snippets_run():
    exec(snippet("from convlab_widgets import Architecture, presets"), {})
    cell = {}
    exec(snippet("from convlab_widgets import Trainer"), cell)
    assert cell["run"].status == "completed"


def test_the_own_fit_snippet_runs():
    from IPython.display import display

    cell = {"display": display}
    exec(snippet("from convlab_widgets import ConvLab  # first"), cell)
    assert cell["lab"].run.status == "completed" and len(cell["lab"].run.history["epoch"]) == 10


def test_the_where_to_start_and_when_to_stop_snippet_runs():
    from convlab_widgets import ConvLab

    cell = {"lab": ConvLab(dataset="digits", architecture="conv_small")}  # the lab of the snippets before it
    exec(snippet("lab.find_learning_rate()"), cell)
    run = cell["lab"].run
    run.wait(timeout=600)
    assert run.status == "completed" and "best was epoch" in run.message, run.message


def test_the_autosave_snippet_runs_and_leaves_a_lab(tmp_path, monkeypatch):
    from convlab_widgets.persistence import load_lab

    monkeypatch.chdir(tmp_path)
    cell = {}
    exec(snippet("from convlab_widgets import ConvLab\n\nlab = ConvLab(autosave="), cell)
    lab = cell["lab"]
    lab.dashboard.follow(lab.run)
    assert lab.run.status == "completed" and lab.autosave.flush()
    (saved,) = load_lab("lesson.convlab").runs
    assert saved.status == "completed" and len(saved.history["epoch"]) == 20


def test_the_inside_the_network_snippets_run():
    from convlab_widgets.training.health import diagnose

    cell = {}
    exec(snippet("from convlab_widgets import Architecture, ConvLab\n\ndeep = "), cell)
    run, lab = cell["run"], cell["lab"]
    assert run.status == "completed" and lab.dashboard.health is not None
    assert run.health[-1].gradient_norm[0] < 0.02 < run.health[-1].gradient_norm[-1] < 0.1  # as the comment says
    assert diagnose(run.health[-1]).tag == "vanishing gradients in layers 1\u20133"
    assert "vanishing gradients in layers 1\u20133" in lab.dashboard.health.body.value
    exec(snippet("shapes = ConvLab("), cell)
    assert cell["heatmap"].shape == (32, 32) and cell["heatmap"].max() == 1.0

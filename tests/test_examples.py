"""Every example notebook runs headlessly, top to bottom, on embedded data, and prints nothing to stderr.

A learner's first notebook must not open on a wall of TensorFlow start-up logs
(absl banners, oneDNN and CPU-instruction notes, cuInit errors on a CPU
machine): any stderr stream in a cell's output fails the test.
"""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.ipynb"))

pytestmark = pytest.mark.slow


def kernel_env():
    """The environment for the notebook's kernel, less ``PYTEST_CURRENT_TEST``: seeing it, ipykernel stops
    forwarding file descriptor 2 (where TensorFlow's C++ logs go) to the notebook, which would hide from
    this test the very noise a learner sees."""
    return {name: value for name, value in os.environ.items() if name != "PYTEST_CURRENT_TEST"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_notebook_runs(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=kernel_env())
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    stderr = [f"cell {index}: {output.text}" for index, cell in enumerate(notebook.cells, 1)
              for output in cell.get("outputs", []) if output.output_type == "stream" and output.name == "stderr"]
    assert not stderr, "stderr in the notebook:\n" + "\n".join(stderr)


def test_headless_demo_prints_what_it_did(capsys):
    from convlab_widgets.demo import main

    assert main(["--headless", str(EXAMPLES[0])]) == 0
    assert "Done in" in capsys.readouterr().out


def test_the_examples_command_copies_the_notebooks_and_never_overwrites(tmp_path, capsys):
    from convlab_widgets.examples import main

    assert main([str(tmp_path / "lessons")]) == 0
    copied = sorted(p.name for p in (tmp_path / "lessons").iterdir())
    assert copied == [p.name for p in EXAMPLES] and "jupyter lab" in capsys.readouterr().out
    mine = tmp_path / "lessons" / EXAMPLES[2].name
    mine.write_text("a learner's own edits")
    for path in (tmp_path / "lessons").iterdir():
        if path != mine:
            path.unlink()
    assert main([str(tmp_path / "lessons")]) == 1
    assert f"{mine} already exists" in capsys.readouterr().err
    assert mine.read_text() == "a learner's own edits"
    assert not (tmp_path / "lessons" / EXAMPLES[0].name).exists()  # refused before anything was written

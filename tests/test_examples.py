"""Every example notebook runs headlessly, top to bottom, on embedded data."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_notebook_runs(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


def test_headless_demo_prints_what_it_did(capsys):
    from convlab_widgets.demo import main

    assert main(["--headless", str(EXAMPLES[0])]) == 0
    assert "Done in" in capsys.readouterr().out

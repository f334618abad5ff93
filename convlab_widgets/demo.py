"""Runs the quickstart notebook: in JupyterLab, or headless for machines without a browser.

Headless mode executes the very notebook a user would open, so the demo that
CI proves is the demo that people see.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def run_headless(path: Path) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    print(f"Running {path} headless (no browser)…")
    started = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        for index, cell in enumerate(notebook.cells, 1):
            if cell.cell_type != "code":
                continue
            first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            print(f"[{index}] {first_line}")
            for line in _output_lines(cell):
                print(f"      {line}")
    print(f"Done in {time.monotonic() - started:.1f}s.")
    return 0


def _output_lines(cell):
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            text = output.text
        elif output.output_type in ("execute_result", "display_data"):
            text = output.data.get("text/plain", "")
        elif output.output_type == "error":
            text = f"{output.ename}: {output.evalue}"
        else:
            continue
        yield from text.rstrip().splitlines()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebook", nargs="?", default="examples/01_quickstart.ipynb")
    parser.add_argument("--headless", action="store_true", help="execute the notebook without a browser and print what it did")
    args = parser.parse_args(argv)
    path = Path(args.notebook)
    if not path.exists():
        parser.error(f"{path} does not exist; run from the repository root or pass the notebook's path")
    if args.headless:
        return run_headless(path)
    command = [sys.executable, "-m", "jupyterlab", str(path)]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and Colab-like VMs often run as root
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())

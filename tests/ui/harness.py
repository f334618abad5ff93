"""A real JupyterLab server and a real headless Chromium, driven as a user would.

The server runs on 127.0.0.1 with a free port, no token and a temporary root;
the browser is Debian's chromium (never a downloaded one) driven by Playwright.
JupyterLab is started with ``expose_app_in_browser`` so that tests can run
cells through JupyterLab's own commands instead of typing into editors.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import tempfile
import urllib.request
from contextlib import closing, contextmanager
from pathlib import Path

import nbformat

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).parent / "artifacts"

# Settings that keep JupyterLab from opening toasts and dialogs of its own.
_QUIET_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
    },
}


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """A JupyterLab server process serving a temporary root directory."""

    def __init__(self, root: Path, home: Path):
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = home / "settings"
        for name, values in _QUIET_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ)
        env.update(
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
        self.log_path = home / "jupyterlab.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                "--ServerApp.disable_check_xsrf=True",
                "--ServerApp.allow_root=True",
                f"--ServerApp.root_dir={root}",
                f"--LabApp.user_settings_dir={settings}",
                f"--LabApp.workspaces_dir={home / 'workspaces'}",
                "--LabApp.expose_app_in_browser=True",
                "--JupyterNotebookApp.expose_app_in_browser=True",
                "--LabApp.news_url=",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise TimeoutError(f"JupyterLab did not answer within {timeout}s:\n{self.log_path.read_text()}")

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Frees the memory of every kernel a test started (each holds TensorFlow)."""
        for session in self.api("/api/sessions"):
            try:
                self.api(f"/api/sessions/{session['id']}", method="DELETE")
            except urllib.error.URLError:
                pass

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self._log.close()


class NotebookPage:
    """One notebook opened in JupyterLab in one browser page."""

    def __init__(self, page, server: LabServer, name: str):
        self.page = page
        self.server = server
        self.name = name

    # -- opening ---------------------------------------------------------
    def open(self, cells: list[str] | None = None, *, ui: str = "lab") -> "NotebookPage":
        """Write the notebook and open it in JupyterLab (``ui="lab"``) or Notebook 7 (``ui="notebook"``)."""
        self._write(cells)
        path = {"lab": f"lab/tree/{self.name}.ipynb?reset", "notebook": f"notebooks/{self.name}.ipynb"}[ui]
        self.page.goto(f"{self.server.url}/{path}")
        self.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
        self.page.wait_for_function(
            """() => {
                const w = window.jupyterapp.shell.currentWidget;
                return w && w.sessionContext && w.sessionContext.session
                    && w.sessionContext.session.kernel
                    && w.sessionContext.session.kernel.status === 'idle';
            }""",
            timeout=90_000,
        )
        self.dismiss_dialogs()
        return self

    def _write(self, cells: list[str] | None) -> None:
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        notebook.cells = [nbformat.v4.new_code_cell(source) for source in (cells or [])]
        nbformat.write(notebook, self.server.root / f"{self.name}.ipynb")

    def dismiss_dialogs(self) -> None:
        """Closes JupyterLab's own dialogs and toasts, which would cover widgets."""
        for _ in range(5):
            dialog = self.page.locator(".jp-Dialog")
            if dialog.count() == 0:
                break
            self.page.keyboard.press("Escape")
            self.page.wait_for_timeout(200)
        for button in self.page.locator(".jp-toast-dismiss, .Toastify__close-button").all():
            try:
                button.click(timeout=1000)
            except Exception:  # a toast that vanished on its own is fine
                pass

    # -- running code ----------------------------------------------------
    def run_all(self, timeout: float = 120) -> None:
        self.page.evaluate("async () => { await window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        self._wait_cells_done(timeout)

    def run_cell(self, code: str, timeout: float = 120) -> str:
        """Appends a code cell, runs it in the page's kernel and returns its output text."""
        index = self.start_cell(code, _await=True)
        self._wait_cells_done(timeout)
        return self.output_text(index)

    def start_cell(self, code: str, _await: bool = False) -> int:
        """Appends a code cell and starts it without waiting for it (a cell that blocks); its index."""
        return self.page.evaluate(
            """async ([code, wait]) => {
                const notebook = window.jupyterapp.shell.currentWidget.content;
                const index = notebook.model.cells.length;
                notebook.model.sharedModel.insertCell(index, {cell_type: 'code', source: code});
                notebook.activeCellIndex = index;
                const running = window.jupyterapp.commands.execute('notebook:run-cell');
                if (wait) await running;
                return index;
            }""",
            [code, _await],
        )

    def eval(self, expression: str):
        """The value of a Python expression in the kernel, sent back as JSON."""
        marker = "@@convlab-eval@@"
        text = self.run_cell(f"import json as _j\nprint({marker!r} + _j.dumps({expression}))")
        match = re.search(re.escape(marker) + r"(.*)", text)
        if not match:
            raise AssertionError(f"no value for {expression!r}; cell printed:\n{text}")
        return json.loads(match.group(1))

    def _wait_cells_done(self, timeout: float) -> None:
        self.page.wait_for_function(
            """() => {
                const panel = window.jupyterapp.shell.currentWidget;
                const kernel = panel.sessionContext.session.kernel;
                const cells = panel.content.widgets;
                const pending = cells.some((cell) =>
                    cell.model.type === 'code' &&
                    (cell.node.querySelector('.jp-InputArea-prompt') || {}).textContent === '[*]:');
                return !pending && kernel.status === 'idle';
            }""",
            timeout=timeout * 1000,
            polling=100,
        )

    def output_text(self, index: int) -> str:
        return self.page.evaluate(
            """(index) => {
                const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
                const area = cell.node.querySelector('.jp-OutputArea');
                return area ? area.innerText : '';
            }""",
            index,
        )

    def errors(self) -> list[str]:
        """Tracebacks shown in any cell: a test that sees one fails with its text."""
        return self.page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()

    def raise_on_traceback(self) -> None:
        """Stop on a traceback in any cell (TensorFlow's start-up log on stderr is not one)."""
        tracebacks = [text for text in self.errors()
                      if "Traceback" in text or "Error:" in text and "cuInit" not in text]
        if tracebacks:
            raise RuntimeError("\n".join(tracebacks))

    # -- looking ---------------------------------------------------------
    def wait_for(self, selector: str, timeout: float = 30, state: str = "visible"):
        return self.page.wait_for_selector(selector, timeout=timeout * 1000, state=state)

    def screenshot(self, name: str, selector: str | None = None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        if selector:
            self.page.locator(selector).first.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path), full_page=False)
        return path


class ClassicNotebookPage(NotebookPage):
    """One notebook opened in classic Notebook 6's front end: nbclassic serves Notebook 6's own
    JavaScript on the same server, at ``/nbclassic``, and loads the widget managers of the packages'
    nbextensions (ipywidgets', anywidget's, bqplot's).  Driven through its global ``Jupyter.notebook``."""

    _IDLE = "() => !!document.querySelector('#kernel_indicator_icon.kernel_idle_icon')"

    def open(self, cells: list[str] | None = None, *, ui: str = "nbclassic") -> "ClassicNotebookPage":
        self._write(cells)
        self.page.goto(f"{self.server.url}/nbclassic/notebooks/{self.name}.ipynb")
        self.page.wait_for_function(
            "() => window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel"
            " && Jupyter.notebook.kernel.is_connected()", timeout=90_000)
        self.page.wait_for_function(self._IDLE, timeout=90_000)
        self.dismiss_dialogs()
        return self

    def dismiss_dialogs(self) -> None:
        """Notebook 6's banner about Notebook 7 sits above the toolbar: closed as a user would."""
        banner = self.page.locator("button:has-text(\"Don't show anymore\")")
        if banner.count():
            banner.first.click()

    def run_all(self, timeout: float = 120) -> None:
        self.page.evaluate("() => Jupyter.notebook.execute_all_cells()")
        self._wait_cells_done(timeout)

    def start_cell(self, code: str, _await: bool = False) -> int:
        return self.page.evaluate(
            """(code) => {
                const notebook = Jupyter.notebook;
                const cell = notebook.insert_cell_at_bottom('code');
                cell.set_text(code);
                cell.execute();
                return notebook.ncells() - 1;
            }""",
            code,
        )

    def _wait_cells_done(self, timeout: float) -> None:
        self.page.wait_for_function(
            f"""() => !Jupyter.notebook.get_cells().some(
                    (cell) => cell.cell_type === 'code' && cell.input_prompt_number === '*')
                && ({self._IDLE})()""",
            timeout=timeout * 1000,
            polling=100,
        )

    def output_text(self, index: int) -> str:
        return self.page.evaluate("(index) => Jupyter.notebook.get_cell(index).output_area.element[0].innerText", index)

    def errors(self) -> list[str]:
        return self.page.locator(".output_stderr").all_inner_texts()


@contextmanager
def notebook_page(name: str, viewport: dict):
    """A server, a Chromium and one notebook page outside pytest (the browser benchmarks use it)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root, home = Path(tmp, "root"), Path(tmp, "home")
        root.mkdir()
        home.mkdir()
        server = LabServer(root, home)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                try:
                    yield NotebookPage(browser.new_context(viewport=viewport).new_page(), server, name)
                finally:
                    browser.close()
        finally:
            server.shutdown_kernels()
            server.stop()

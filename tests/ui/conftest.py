"""Fixtures for browser tests: one JupyterLab server and one Chromium per session,
a fresh page and notebook per test, everything torn down even when a test fails."""

from __future__ import annotations

import pytest

from .harness import CHROMIUM, CHROMIUM_ARGS, ClassicNotebookPage, LabServer, NotebookPage

pytestmark = pytest.mark.ui


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/ui/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.ui)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    server = LabServer(tmp_path_factory.mktemp("lab-root"), tmp_path_factory.mktemp("lab-home"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def notebook(request, lab_server, browser):
    """A notebook page in JupyterLab or Notebook 7; on failure its screenshot is kept."""
    yield from _page(NotebookPage, request, lab_server, browser)


@pytest.fixture
def classic_notebook(request, lab_server, browser):
    """A notebook page in classic Notebook 6's front end (nbclassic, same server)."""
    yield from _page(ClassicNotebookPage, request, lab_server, browser)


def _page(kind, request, lab_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    name = request.node.name.replace("[", "_").replace("]", "")
    nb = kind(page, lab_server, name)
    try:
        yield nb
    finally:
        failed = getattr(request.node, "report_call", None)
        if failed is not None and failed.failed:
            try:
                nb.screenshot(f"FAILED-{name}")
            except Exception:
                pass
        context.close()
        lab_server.shutdown_kernels()

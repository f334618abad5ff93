"""The static twin in a real JupyterLab: hidden beside the live lab, shown by the saved notebook reopened where the
lab's kernel is gone (JupyterLab gives the notebook a fresh kernel, which has no lab: the widget cannot show)."""

import nbformat

from .test_lab import open_lab

TWIN = ".convlab-twin"


def test_the_saved_notebook_shows_the_twin_once_its_kernel_is_gone_and_the_live_lab_while_it_runs(notebook):
    nb = notebook
    open_lab(nb)
    nb.run_cell("run = lab.train(epochs=2, batch_size=64, seed=0, wait=True)", timeout=180)
    # With the kernel: the live lab shows, its twin is in the output (the notebook keeps it) but hidden.
    nb.page.wait_for_function(f"() => document.querySelector('{TWIN}') && "
                              f"document.querySelector('{TWIN}').innerHTML.includes('run 1: completed')")
    assert nb.page.locator(".convlab-lab").first.is_visible()
    assert not nb.page.locator(TWIN).first.is_visible()
    nb.page.evaluate("async () => { await window.jupyterapp.commands.execute('docmanager:save'); }")
    nb.page.wait_for_timeout(500)
    nb.server.shutdown_kernels()

    # Reopened on another machine: its kernel is not there (JupyterLab falls back to a fresh one, without the lab).
    saved = nbformat.read(nb.server.root / f"{nb.name}.ipynb", as_version=4)
    assert any("convlab-twin" in output.get("data", {}).get("text/html", "")
               for cell in saved.cells for output in cell.get("outputs", []))
    saved.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "none", "language": "python"}
    nbformat.write(saved, nb.server.root / "reopened.ipynb")
    for width in (1280, 700):
        nb.page.set_viewport_size({"width": width, "height": 900})
        nb.page.goto(f"{nb.server.url}/lab/tree/reopened.ipynb?reset")
        nb.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
        nb.page.wait_for_selector(TWIN, state="attached", timeout=60_000)
        nb.page.wait_for_timeout(1500)
        nb.dismiss_dialogs()
        twin = nb.page.locator(TWIN).first
        assert twin.is_visible() and nb.page.locator(".convlab-lab").count() == 0
        text = twin.inner_text()
        assert "run 1: completed" in text and "2/2" in text and "Architecture" in text
        images = twin.locator("img")
        assert images.count() == 4
        assert all(images.nth(i).evaluate("img => img.complete && img.naturalWidth > 100") for i in range(4))
        box = twin.bounding_box()
        assert box["x"] + box["width"] <= width  # nothing runs off the right at 700 px
        nb.server.shutdown_kernels()  # and with no kernel at all
        nb.page.wait_for_timeout(500)
        assert twin.is_visible()
        twin.scroll_into_view_if_needed()
        nb.screenshot(f"twin_without_kernel_{width}")

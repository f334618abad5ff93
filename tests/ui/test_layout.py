"""The lab on a classroom's screens: compact at 1280x800 without scrolling, nothing cut at 700 px."""

import pytest

COMPACT = ("from convlab_widgets import ConvLab\nlab = ConvLab(dataset='digits', architecture='conv_small', "
           "layout='compact')\nlab")
FULL = "from convlab_widgets import ConvLab\nlab = ConvLab(dataset='digits', architecture='conv_small')\nlab"
TRAIN = "lab.train(epochs=2, wait=True);"
MOSAIC = ".convlab-filters img[src^='blob:'], .convlab-filters img[src^='data:image']"

BOX = """(selector) => { const b = document.querySelector(selector).getBoundingClientRect();
    return {left: b.left, top: b.top, right: b.right, bottom: b.bottom, width: b.width, height: b.height}; }"""


def run_lab(nb, cells):
    nb.open(cells)
    nb.run_all(timeout=180)
    nb.raise_on_traceback()
    nb.wait_for(".convlab-builder .convlab-row")
    nb.page.wait_for_function("() => document.querySelector(\".convlab-monitor[data-status='completed']\")",
                              timeout=60_000)
    nb.wait_for(MOSAIC)
    nb.page.wait_for_timeout(500)  # bqplot lays its figures out after the widgets appear


def test_compact_layout_shows_builder_loss_and_filters_on_one_1280x800_screen(notebook):
    nb = notebook
    nb.page.set_viewport_size({"width": 1280, "height": 800})
    nb.page.goto("about:blank")
    # A projector's screen: JupyterLab with its file browser closed, the lab's cell at the top.
    nb.open([COMPACT, TRAIN])
    nb.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    nb.run_all(timeout=180)
    nb.raise_on_traceback()
    nb.page.wait_for_function("() => document.querySelector(\".convlab-monitor[data-status='completed']\")",
                              timeout=60_000)
    nb.wait_for(MOSAIC)
    nb.page.wait_for_timeout(500)
    nb.screenshot("layout_compact_1280x800")
    scrolled = nb.page.evaluate("() => document.querySelector('.jp-WindowedPanel-outer, .jp-Notebook').scrollTop")
    assert scrolled == 0
    wanted = {"builder": ".convlab-builder", "controls": ".convlab-controls button",
              "loss chart": ".convlab-dashboard .bqplot", "filters mosaic": MOSAIC}
    for name, selector in wanted.items():
        box = nb.page.evaluate(BOX, selector)
        assert box["width"] > 100 or name == "controls", (name, box)
        assert 0 <= box["left"] and box["right"] <= 1280 and 0 <= box["top"] and box["bottom"] <= 800, (name, box)


@pytest.mark.parametrize("cell", [FULL, COMPACT], ids=["full", "compact"])
def test_nothing_is_cut_on_the_right_at_700px_with_the_file_browser_open(notebook, cell):
    nb = notebook
    nb.page.set_viewport_size({"width": 700, "height": 800})
    run_lab(nb, [cell, TRAIN])
    nb.screenshot(f"layout_{'compact' if cell is COMPACT else 'full'}_700")
    cut = nb.page.evaluate("""() => {
        const area = document.querySelector('.convlab-lab').closest('.jp-OutputArea-output');
        const edge = area.getBoundingClientRect().right;
        // The runs table scrolls sideways on purpose, with a drawn scroll bar, and keeps its actions in view.
        const scrolls = (e) => e.closest('.convlab-runs-scroll') !== null;
        return [...area.querySelectorAll('*')].filter((e) => {
            const b = e.getBoundingClientRect();
            return b.width > 0 && b.height > 0 && b.right > edge + 3 && getComputedStyle(e).visibility !== 'hidden'
                && !scrolls(e);
        }).map((e) => `${e.tagName}.${String(e.className.baseVal ?? e.className)} "${(e.innerText || '').slice(0, 30)}"`
                      + ` ends ${Math.round(e.getBoundingClientRect().right - edge)}px out`);
    }""")
    assert cut == [], "\n".join(cut)

"""The runs table in a real JupyterLab at a projector's and a narrow window's width."""

import pytest

SETUP = '''
import time
from types import SimpleNamespace
from convlab_widgets.runs_table import RunsTable
def run(name, previous, changes):
    return SimpleNamespace(name=name, color="#1f77b4", previous=previous, changes=changes, param_count=1234567,
        architecture=None, status="completed", started_at=time.time() - 95, ended_at=time.time(),
        config={"epochs": 3}, history={"epoch": [0, 1, 2], "accuracy": [0.8, 0.9, 0.95],
                                       "val_accuracy": [0.78, 0.86, 0.9]})
r1 = run("run 1", None, ["Conv2D(16/32) → Dense(64) → Dropout(0.25) → Dense(10)"])
r2 = run("run 2", r1, ["Dense(64→32)", "2→3 epochs", "lr 0.001→0.003", "+Dropout(0.25) after Dense(64)"])
t = RunsTable(); t.show([r1, r2], live=r2)
t
'''
SPILLED = """() => [...document.querySelectorAll(
        '.convlab-runs-head, .convlab-runs-number')]
    .filter((node) => node.scrollWidth > node.clientWidth + 1).map((node) => node.textContent)"""
REACH = """() => {
    const scroll = document.querySelector('.convlab-runs-scroll').getBoundingClientRect();
    return [...document.querySelectorAll('.convlab-runs-actions button')].every((button) => {
        const box = button.getBoundingClientRect();
        return box.left >= scroll.left && box.right <= scroll.right - 3;  // with a margin at the edge
    });
}"""


def show_table(nb, width, setup, selector):
    """The table ``setup`` makes, at ``width``, once ``selector`` shows: every heading and number fits its
    column (no "parametersbest"), and Clone and delete are on screen without scrolling, clear of the edge."""
    nb.page.set_viewport_size({"width": width, "height": 900})
    nb.open([setup])
    nb.run_all()
    nb.wait_for(selector)
    nb.raise_on_traceback()
    assert nb.page.evaluate(SPILLED) == []
    assert nb.page.evaluate(REACH)


@pytest.mark.parametrize("width", [1280, 700])
def test_headings_and_numbers_have_room_and_the_actions_stay_in_reach(notebook, width):
    nb = notebook
    show_table(nb, width, SETUP, ".convlab-runs .convlab-runs-actions")
    scrolls = nb.page.evaluate("() => { const s = document.querySelector('.convlab-runs-scroll');"
                               " return s.scrollWidth > s.clientWidth; }")
    assert scrolls == (width == 700)  # a narrow output scrolls the numbers under the actions
    nb.page.locator(".convlab-runs").scroll_into_view_if_needed()
    nb.screenshot(f"runs_table_{width}", selector=".convlab-runs")
    nb.page.click(".convlab-runs button:has-text('what changed')")
    nb.page.wait_for_function("() => [...document.querySelectorAll('.convlab-runs-changes')]"
                              ".every((line) => line.offsetParent === null)")


INTERRUPTED = SETUP.replace("t = RunsTable(); t.show([r1, r2], live=r2)", """r2.status = "interrupted"
r2.message = "interrupted after epoch 2 of 3: its kernel stopped while it trained"
r2.history = {"epoch": [0, 1], "accuracy": [0.8, 0.9], "val_accuracy": [0.78, 0.86]}
resumed = []
t = RunsTable(on_resume=lambda run: resumed.append(run.name)); t.show([r1, r2], live=r2)""")


@pytest.mark.parametrize("width", [1280, 700])
def test_an_interrupted_run_offers_resume_in_its_row(notebook, width):
    """Only the interrupted run has a Resume button; it is in reach at both widths, and a click reports that run."""
    nb = notebook
    show_table(nb, width, INTERRUPTED, ".convlab-runs button:visible:has-text('Resume')")
    assert nb.page.locator(".convlab-runs button:visible:has-text('Resume')").count() == 1
    # The status fits its column, and nothing (the actions at the right edge) lies over it at 1280 px.
    assert nb.page.evaluate("""() => [...document.querySelectorAll('.convlab-runs .convlab-runs-cell')]
        .filter((node) => node.textContent === 'interrupted').map((node) => {
            const box = node.getBoundingClientRect();
            const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
            return [node.scrollWidth <= node.clientWidth + 1, node.contains(top)];
        })""") == [[True, width == 1280]]
    assert "interrupted after epoch 2 of 3" in nb.page.inner_text(".convlab-runs-interrupted:visible")
    nb.page.locator(".convlab-runs").scroll_into_view_if_needed()
    nb.screenshot(f"runs_table_interrupted_{width}", selector=".convlab-runs")
    nb.page.click(".convlab-runs button:visible:has-text('Resume')")
    nb.page.wait_for_timeout(300)
    assert nb.eval("resumed") == ["run 2"]


RENAMING = SETUP.replace("t = RunsTable(); t.show([r1, r2], live=r2)", """def rename(run, name):
    if len(name) > 12:
        raise ValueError("too long")
    run.name = name
    t.show([r1, r2], live=r2)
t = RunsTable(on_rename=rename); t.show([r1, r2], live=r2)""")


def test_a_name_is_what_python_answers_and_a_refused_one_goes_back(notebook):
    """The browser sends the typed name; Python keeps it or not, and the field shows Python's name."""
    nb = notebook
    show_table(nb, 1280, RENAMING, ".convlab-runs .convlab-runs-name")
    name = nb.page.locator(".convlab-runs .convlab-runs-name").first
    name.fill("")
    name.press_sequentially("baseline")  # key by key: no notebook shortcut ("b", "a": a new cell) fires
    name.press("Enter")
    nb.page.wait_for_function("() => document.querySelector('.convlab-runs-swatch').title === \"baseline's colour\"")
    assert nb.eval("r1.name") == "baseline" and "changed since baseline" in nb.page.inner_text(".convlab-runs")
    for refused in ("   ", "a name far too long"):  # empty: refused by the table; too long: by its owner
        name.fill(refused)
        name.press("Enter")
        nb.page.wait_for_function("() => document.querySelector('.convlab-runs-name').value === 'baseline'")
    assert name.evaluate("(node) => node === document.activeElement")  # it went back under the learner's caret
    assert nb.eval("[r1.name, t.answered]") == ["baseline", 3]
    nb.raise_on_traceback()

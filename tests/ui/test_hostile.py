"""A hostile saved lab opened in a real JupyterLab (issue #13): markup in a run's name and message shows as
text, and none of it runs."""

import json

from .test_lab import open_lab

NAME = '"><img src=x onerror="window.__pwned=1">'
MESSAGE = "<script>window.__pwned=2</script><b>bold?</b>"


def test_markup_in_a_saved_lab_shows_literally_and_never_runs(notebook):
    nb = notebook
    open_lab(nb)
    nb.run_cell("first = lab.train(epochs=1, batch_size=64, seed=0, wait=True)\n"
                "second = lab.train(epochs=1, batch_size=64, seed=1, wait=True)\n"
                f"lab.rename(first, {NAME!r})\n"
                "path = lab.save('hostile.convlab')\n"
                "import json, pathlib\n"
                "doc = json.loads(pathlib.Path(path, 'lab.json').read_text())\n"
                f"doc['runs'][1]['message'] = {MESSAGE!r}\n"
                "pathlib.Path(path, 'lab.json').write_text(json.dumps(doc))", timeout=180)
    assert json.loads(nb.eval("json.dumps([r['name'] for r in doc['runs']])")) == [NAME, "run 2"]
    nb.run_cell("from convlab_widgets import ConvLab\nagain = ConvLab.load(path)\nagain")
    nb.page.wait_for_function("() => document.querySelectorAll('.convlab-lab').length === 2")
    lab2 = nb.page.locator(".convlab-lab").nth(1)
    names = lab2.locator(".convlab-runs .convlab-runs-name")
    names.nth(1).wait_for()
    assert [names.nth(i).input_value() for i in range(2)] == [NAME, "run 2"]
    table = lab2.locator(".convlab-runs").inner_text()
    assert f"changed since {NAME}" in table, table
    assert lab2.locator(".convlab-runs img").count() == 0  # the name made no element
    assert lab2.locator(f".convlab-runs div[title='{NAME}\\'s colour']").count() == 1  # an attribute, intact
    lab2.locator(".convlab-monitor").wait_for()
    nb.page.wait_for_function("(m) => document.querySelectorAll('.convlab-monitor')[1].innerText.includes(m)",
                              arg=MESSAGE)
    assert lab2.locator(".convlab-monitor b, .convlab-monitor script").count() == 0

    # Overlaid, the run's name is the legend's text (run 2, the latest, is always shown; tick run 1).
    lab2.locator(".convlab-runs input[type=checkbox]").first.check()
    nb.page.wait_for_function("(n) => [...document.querySelectorAll('.convlab-lab')][1].innerText.includes(n + ':')"
                              " || [...document.querySelectorAll('.convlab-lab')][1].innerText.includes(n + '\\n')",
                              arg=NAME)
    legend = lab2.locator(".convlab-dashboard").inner_text()
    assert NAME in legend, legend
    assert lab2.locator(".convlab-dashboard img:not(.widget-image):not([src^='data:image'])").count() == 0

    assert nb.page.evaluate("() => typeof window.__pwned") == "undefined"
    lab2.locator(".convlab-runs").scroll_into_view_if_needed()
    nb.screenshot("hostile_lab_runs")
    lab2.locator(".convlab-dashboard .widget-html", has_text=NAME).first.scroll_into_view_if_needed()
    nb.screenshot("hostile_lab_legend")
    lab2.locator(".convlab-monitor").scroll_into_view_if_needed()
    nb.screenshot("hostile_lab_message")
    assert nb.page.evaluate("() => typeof window.__pwned") == "undefined"
    assert nb.errors() == []

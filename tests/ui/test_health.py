"""Seeing inside training in a real JupyterLab (issue #15): the gradient-health panel live while
the seeds' deep sigmoid network trains, and Grad-CAM laid over the predictions grid."""

from .test_lab import STATUS

DEEP = """from convlab_widgets import Architecture, ConvLab
deep = Architecture(input_shape=(8, 8, 1), num_classes=10).add("Flatten")
for units in (200, 100, 60, 30):
    deep.add("Dense", units=units, activation="sigmoid")
deep.add("Dense", units=10, activation="softmax")
lab = ConvLab(dataset="digits", architecture=deep{layout})
lab"""
HEALTH = ".convlab-health"
TAG = "vanishing gradients in layers 1\u20133"


def _shot_at(nb, width, name, selector):
    nb.page.set_viewport_size({"width": width, "height": 900})
    nb.page.wait_for_timeout(300)
    nb.page.locator(selector).first.scroll_into_view_if_needed()
    return nb.screenshot(name, selector=selector)


def test_the_health_panel_fills_in_live_and_names_the_vanishing_gradients(notebook):
    nb = notebook
    nb.open([DEEP.format(layout="")])
    nb.run_all()
    nb.wait_for(HEALTH)
    assert "appears here once a run starts" in nb.page.inner_text(HEALTH)
    nb.start_cell("run = lab.train(epochs=40, optimizer='sgd', learning_rate=0.1, seed=0, health_every=5)")
    nb.wait_for(STATUS.format("running"), timeout=120)
    # Live: snapshots come in while the run still trains, one row per layer, the tag above them.
    nb.page.wait_for_function(f"""() => {{ const t = document.querySelector('{HEALTH}').innerText;
        return t.includes('{TAG}') && /of ([3-9]|\\d\\d+) snapshots/.test(t); }}""", timeout=120_000)
    assert nb.page.locator(STATUS.format("running")).count() == 1
    text = nb.page.inner_text(HEALTH)
    assert all(f"{k}. dense_{k}" in text for k in range(1, 6)) and "use relu" in text
    cells = nb.page.evaluate(f"() => document.querySelectorAll('{HEALTH} span[title]').length")
    assert cells >= 3 * 5
    _shot_at(nb, 1280, "health_live_1280", HEALTH)
    _shot_at(nb, 700, "health_live_700", HEALTH)
    box = nb.page.locator(HEALTH).bounding_box()
    assert box["width"] <= 700
    nb.run_cell("lab.stop(); run.wait(60)")
    nb.wait_for(STATUS.format("stopped"), timeout=60)
    assert nb.errors() == []


def test_the_health_panel_in_the_compact_layout(notebook):
    nb = notebook
    nb.page.set_viewport_size({"width": 1280, "height": 800})
    nb.open([DEEP.format(layout=", layout='compact'"),
             "run = lab.train(epochs=2, optimizer='sgd', learning_rate=0.1, seed=0, wait=True)"])
    nb.run_all(timeout=180)
    nb.wait_for(STATUS.format("completed"), timeout=120)
    nb.page.wait_for_function(f"() => document.querySelector('{HEALTH}').innerText.includes('{TAG}')")
    _shot_at(nb, 1280, "health_compact_1280", HEALTH)
    _shot_at(nb, 700, "health_compact_700", HEALTH)
    assert nb.errors() == []


def test_where_it_looked_lays_grad_cam_over_the_predictions(notebook):
    nb = notebook
    nb.open(["from convlab_widgets import ConvLab\nlab = ConvLab(dataset='shapes', architecture='conv_shapes')\nlab",
             "run = lab.train(epochs=3, batch_size=32, learning_rate=0.003, seed=0, wait=True)"])
    nb.run_all(timeout=240)
    nb.wait_for(STATUS.format("completed"), timeout=180)
    toggle = nb.page.locator(".convlab-dashboard button:has-text('where it looked')")
    nb.page.wait_for_function("""() => { const b = [...document.querySelectorAll('.convlab-dashboard button')]
        .find(b => b.innerText.includes('where it looked')); return b && !b.disabled; }""", timeout=60_000)
    sources = """() => [...document.querySelectorAll('.convlab-dashboard div[title^="validation image"] img')]
        .map(img => img.src)"""
    before = nb.page.evaluate(sources)
    assert len(before) == 12
    toggle.click()
    nb.page.wait_for_function("() => document.querySelector('.convlab-dashboard').innerText"
                              ".includes('where the network looked')", timeout=60_000)
    after = nb.page.evaluate(sources)
    assert len(after) == 12 and not set(after) & set(before)
    grid = ".convlab-dashboard .widget-vbox:has(> .widget-hbox button:has-text('where it looked'))"
    _shot_at(nb, 1280, "grad_cam_grid_1280", grid)
    _shot_at(nb, 700, "grad_cam_grid_700", grid)
    toggle.click()
    nb.page.wait_for_function(f"(before) => ({sources})().join() === before.join()", arg=before, timeout=30_000)
    assert nb.errors() == []

"""Looking inside a trained model in a real JupyterLab, and a saved lab opened again."""

from .test_lab import STATUS, open_lab

GRID_IMAGES = ".convlab-dashboard img[src^='data:image/png']"
WRONG = "rgb(198, 40, 40)"  # WRONG_COLOR in inspection.py


def test_predictions_grid_confusion_matrix_and_activation_maps(notebook):
    nb = notebook
    open_lab(nb)
    nb.run_cell("run = lab.train(epochs=2, batch_size=64, learning_rate=0.003, seed=0, wait=True)", timeout=120)
    nb.wait_for(STATUS.format("completed"), timeout=60)
    nb.page.wait_for_function("() => document.querySelector('.convlab-dashboard').innerText.includes('epoch 2:')")
    text = nb.page.inner_text(".convlab-dashboard")
    right, total = nb.eval("[int(run.predictions[-1].correct.sum()), len(run.predictions[-1].labels)]")
    assert f"epoch 2: {right}/{total} right" in text
    # 12 validation images, the mistakes first and in red, "predicted (true)"; "show more" adds 12.
    shown = """() => [...document.querySelectorAll('.convlab-dashboard div[title^="validation image"]')]
        .map(cell => [cell.innerText.trim(), getComputedStyle(cell.lastElementChild).color])"""
    assert len(nb.page.evaluate(shown)) == 12
    nb.page.locator(".convlab-dashboard button:has-text('show 12 more')").click()
    nb.page.wait_for_function(f"() => ({shown})().length === 24")
    labels = nb.page.evaluate(shown)
    wrong = [label for label, colour in labels if colour == WRONG]
    assert wrong == [label for label, _ in labels[:len(wrong)]] and total - right >= len(wrong) > 0
    assert all("(" in label for label in wrong)
    # The confusion matrix: one cell per (true, predicted) pair, counts written in.
    cells = nb.page.locator(".convlab-dashboard .bqplot .heatmapcell, .convlab-dashboard .bqplot rect.heatmapcell")
    assert cells.count() == 100
    svg_text = nb.page.evaluate("() => [...document.querySelectorAll('.convlab-dashboard svg text')]"
                                ".map(t => t.textContent).join('|')")
    assert "predicted" in svg_text and "true" in svg_text
    assert "Confusion matrix (validation, epoch 2)" in text  # an HTML title above the figure, which wraps
    # Drawn, not just present: bqplot keeps a figure first laid out in a hidden box invisible.
    assert nb.page.evaluate("() => [...document.querySelectorAll('.convlab-dashboard .bqplot')]"
                            ".map(f => getComputedStyle(f).visibility)") == ["visible"] * 4
    # Activation maps of the finished model: picking another image redraws them.
    maps = nb.page.locator(".convlab-dashboard img.widget-image").last
    before = maps.get_attribute("src")
    nb.run_cell("lab.dashboard.activations.image_index.value = 5")
    nb.page.wait_for_function(f"(src) => [...document.querySelectorAll('.convlab-dashboard img.widget-image')]"
                              f".pop().src !== src", arg=before)
    assert "feature maps of" in nb.page.inner_text(".convlab-dashboard")
    nb.page.locator(".convlab-dashboard div[title^='validation image']").first.scroll_into_view_if_needed()
    nb.screenshot("inside_predictions")
    nb.page.locator(".convlab-dashboard img.widget-image").last.scroll_into_view_if_needed()
    nb.screenshot("inside_activations")
    assert nb.errors() == []


def test_a_saved_lab_opens_again_with_its_runs_and_panels(notebook):
    nb = notebook
    open_lab(nb)
    nb.run_cell("first = lab.train(epochs=2, batch_size=64, seed=0, wait=True)\n"
                "lab.architecture.update(3, units=32)\n"
                "second = lab.train(epochs=2, batch_size=64, seed=0, wait=True)\n"
                "path = lab.save('lesson.convlab')", timeout=180)
    nb.run_cell("from convlab_widgets import ConvLab\nagain = ConvLab.load(path)\nagain")
    nb.page.wait_for_function("() => document.querySelectorAll('.convlab-lab').length === 2")
    restored = ".convlab-lab >> nth=1"
    nb.page.locator(restored).scroll_into_view_if_needed()
    lab2 = nb.page.locator(".convlab-lab").nth(1)
    lab2.locator(".convlab-runs .convlab-runs-name").nth(1).wait_for()
    assert [lab2.locator(".convlab-runs .convlab-runs-name").nth(i).input_value() for i in range(2)] == [
        "run 1", "run 2"]
    assert "Dense(64→32)" in lab2.locator(".convlab-runs").inner_text()
    assert lab2.locator(".convlab-monitor[data-status='completed']").count() == 1
    drawn = lab2.evaluate("""(lab) => [...lab.querySelectorAll('.convlab-dashboard .bqplot path.line')]
        .filter(p => (p.getAttribute('d') || '').includes('L')).length""")
    assert drawn >= 4
    assert "epoch 2:" in lab2.locator(".convlab-dashboard").inner_text()
    assert nb.eval("[r.name for r in again.runs] == [r.name for r in lab.runs] and "
                   "again.runs[-1].history['val_loss'] == lab.runs[-1].history['val_loss']") is True
    lab2.locator(".convlab-runs").scroll_into_view_if_needed()
    nb.screenshot("saved_lab_reopened")
    assert nb.errors() == []

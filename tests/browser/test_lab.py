"""What a person sees: JupyterLab in headless Chromium runs 00_tour.ipynb, and the page shows
SVG graphs, typeset mathematics and a working rewrite stepper. Screenshots go to build/browser/.

Chromium is Debian's (`make test` installs it); Playwright only drives it. Without Chromium
the test skips, except in CI (CI=true), where it must run.
"""
import shutil

import pytest

from .jupyterlab import CHROMIUM, FLAGS, REPO, SHOTS, jupyterlab, sync_api


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on a copy of the tour (so nothing writes outputs into the repository)."""
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "00_tour.ipynb", root)
    with jupyterlab(tmp_path, root) as served:
        yield served


def test_tour_renders_graphs_math_and_a_working_stepper(lab):
    base, token = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(f"{base}/lab/tree/00_tour.ipynb?token={token}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
            page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session", timeout=60_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            n_code = page.locator(".jp-CodeCell").count()
            # Done when every code cell has an execution count (a cell that fails stops the run).
            page.wait_for_function(
                """n => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
                          return p.length === n && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }""",
                arg=n_code, timeout=180_000)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert errors.count() == 0, errors.first.inner_text()

            # Graphs: SVG drawn by Graphviz (inline or as an image), one per graph shown.
            graphs = page.locator(".jp-OutputArea-output svg g.node, .jp-OutputArea-output img[src^='data:image/svg']")
            assert graphs.count() >= 4
            # Mathematics typeset by MathJax, no raw TeX left in the math outputs.
            math = page.locator(".jp-RenderedLatex")
            assert math.count() >= 4
            assert page.locator(".jp-RenderedLatex mjx-container").count() >= math.count()
            assert all("\\frac" not in t and "\\left" not in t for t in math.all_inner_texts())

            stepper = page.locator(".symnb-stepper")
            stepper.scroll_into_view_if_needed()
            picture = stepper.locator(".symnb-step-graph")
            picture.locator("svg").first.wait_for(timeout=30_000)
            before = picture.inner_html()
            page.screenshot(path=str(SHOTS / "tour-stepper-step1.png"))
            stepper.locator(".symnb-step-next").click()
            page.wait_for_function(
                "old => { const g = document.querySelector('.symnb-stepper .symnb-step-graph');"
                " return g && g.innerHTML !== old && g.querySelector('svg'); }", arg=before, timeout=30_000)
            assert "step 2 of" in stepper.locator(".symnb-step-info").inner_text()
            page.screenshot(path=str(SHOTS / "tour-stepper-step2.png"))
            page.locator(".jp-CodeCell").nth(1).scroll_into_view_if_needed()
            page.screenshot(path=str(SHOTS / "tour-first-graph.png"))
            for text, name in (("--show math,grad", "gradients"), ("--show code", "code")):
                page.locator(".jp-CodeCell", has_text=text).evaluate("e => e.scrollIntoView({block: 'start'})")
                page.screenshot(path=str(SHOTS / f"tour-{name}.png"))
        finally:
            browser.close()

"""What a person sees: JupyterLab in headless Chromium runs 00_tour.ipynb, and the page shows
SVG graphs, typeset mathematics and a working rewrite stepper. Screenshots go to build/browser/.

Chromium is Debian's (`make test` installs it); Playwright only drives it. Without Chromium
the test skips, except in CI (CI=true), where it must run.
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "build" / "browser"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
IN_CI = os.environ.get("CI", "").lower() == "true"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]

if CHROMIUM is None and not IN_CI:
    pytest.skip("Debian's chromium is not installed (`apt-get install -y chromium`)", allow_module_level=True)
if IN_CI:
    from playwright import sync_api
else:
    sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base: str, token: str, path: str, method: str = "GET"):
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        body = r.read()
    return json.loads(body) if body else None


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on a copy of the tour (so nothing writes outputs into the repository)."""
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(REPO / "notebooks" / "00_tour.ipynb", root)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "run"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--ServerApp.terminals_enabled=False", "--ServerApp.jpserver_extensions={'jupyter_lsp': False}"]
    if os.getuid() == 0:
        cmd.append("--allow-root")
    # No "get Jupyter news?" prompt over the page.
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp_path / "settings")
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                api(base, token, "/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text())
                time.sleep(0.3)
        yield base, token
    finally:
        try:
            for kernel in api(base, token, "/api/kernels"):
                api(base, token, f"/api/kernels/{kernel['id']}", "DELETE")
        except OSError:
            pass
        proc.send_signal(signal.SIGTERM)      # this server only, by its own process id
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


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

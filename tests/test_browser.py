"""The MLflow UI in a real headless Chromium (marker ``browser``): after a real small run, ``make
ui``'s command serves the database on a free 127.0.0.1 port; the experiment page lists the run, the
run page shows its ``cifar10/spearman/lswag`` metric, and the artifacts page its scatter plot; after a
2-seed sweep, its parent run shows the summary and its chart view every proxy in one section.
Screenshots are saved under ``test-artifacts/browser/`` (or ``$ZCNAS_TEST_ARTIFACTS``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium + chromium-driver")]
SHOTS = Path(os.environ.get("ZCNAS_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def zcnas_run(cwd: Path, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "zcnas.run", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


@contextmanager
def browser(cwd: Path) -> Iterator[tuple[Callable[..., str], object]]:
    """``make ui``'s command serving ``cwd/mlruns.db`` on a free 127.0.0.1 port and a headless
    Chromium; yields ``page(path, *texts, shot=)`` (open, wait for every text, screenshot, return the
    page's text) and the driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "ui", "--backend-store-uri",
                               "sqlite:///mlruns.db", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                              cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    driver = None
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow ui did not answer within 60 s")
        SHOTS.mkdir(parents=True, exist_ok=True)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"):
            opts.add_argument(arg)
        driver = webdriver.Chrome(options=opts, service=Service(DRIVER))

        def page(path: str, *texts: str, shot: str) -> str:
            """Open ``path``, wait until every text is on the page, scroll the first into view, screenshot."""
            driver.get(url + path)
            try:
                WebDriverWait(driver, 60).until(
                    lambda d: all(t in d.find_element(By.TAG_NAME, "body").text for t in texts))
                el = driver.find_elements(By.XPATH, f"//*[normalize-space(text())='{texts[0]}']")
                if el:
                    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", el[0])
            finally:
                driver.save_screenshot(str(SHOTS / shot))
            return driver.find_element(By.TAG_NAME, "body").text

        yield page, driver
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)


def test_mlflow_ui_shows_run_metric_and_plot(tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    zcnas_run(tmp_path, "n_archs=8", "batch_size=16", "space.C=4", "space.N=1", "cache.path=null", "hydra.run.dir=run")
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns.db")
    exp_id = client.get_experiment_by_name("zcnas").experiment_id
    (run,) = client.search_runs([exp_id])
    metric = "cifar10/spearman/lswag"
    value = run.data.metrics[metric]
    assert -1 <= value <= 1
    run_path = f"/#/experiments/{exp_id}/runs/{run.info.run_id}"
    with browser(tmp_path) as (page, driver):
        page(f"/#/experiments/{exp_id}/runs", run.info.run_name, shot="experiment.png")
        body = page(run_path, metric, shot="run.png")
        assert f"{value:.3f}"[:4] in body  # the metric's value is shown next to its name
        page(f"{run_path}/artifacts/plots/scatter_lswag.png", "scatter_lswag.png", shot="scatter.png")
        # the plot itself is rendered (a decoded image at least as wide as the saved figure's axes)
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(
            "return Array.from(document.images).some(i => i.complete && i.naturalWidth >= 300)"))
        driver.save_screenshot(str(SHOTS / "scatter.png"))
    assert (SHOTS / "scatter.png").stat().st_size > 10_000


def test_sweep_parent_run_shows_the_summary_and_the_chart_view_compares_proxies(tmp_path):
    """A 2-seed sweep: its parent run (named after the overrides) shows the summary metrics, the
    runs table lists both seeds' runs, and the chart view holds every proxy's chart in one
    ``cifar10/<stat>`` section; screenshots sweep_*.png."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    zcnas_run(tmp_path, "-m", "seed=0,1", "n_archs=8", "batch_size=8", "space.C=4", "space.N=1",
              "proxy=[nwot,params]", "hydra.sweep.dir=sweep")
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns.db")
    exp_id = client.get_experiment_by_name("zcnas").experiment_id
    runs = client.search_runs([exp_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.info.run_name == "sweep: seed=0,1 n_archs=8 batch_size=8 space.C=4 space.N=1 proxy=[nwot,params]"
    kids = [r.info.run_name for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(kids) == ["nb201-cifar10-nwot+params-n8-s0", "nb201-cifar10-nwot+params-n8-s1"]
    mean = parent.data.metrics["cifar10/spearman/nwot"]
    with browser(tmp_path) as (page, driver):
        # make ui's URL: the runs table opens with a Spearman column per proxy (the shared view zcnas keeps)
        url = subprocess.run([sys.executable, "-m", "zcnas.log", "--url"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120).stdout.strip().rsplit("#", 1)[1]
        assert url == f"/experiments/{exp_id}/runs?viewStateShareKey=zcnas&workflowType=machine_learning"
        body = page(f"/#{url}", "sweep: seed=0,1", "cifar10/spearman/nwot", "cifar10/spearman/params",
                    shot="sweep_runs.png")
        assert "Model registry" in body and "Evaluation runs" not in body  # the model-training view, not GenAI
        parent_path = f"/#/experiments/{exp_id}/runs/{parent.info.run_id}"
        body = page(parent_path, "cifar10/spearman/nwot", shot="sweep_parent.png")
        assert f"{mean:.3f}"[:4] in body
        driver.find_element(By.XPATH, "//*[normalize-space(text())='Model metrics']").click()
        try:  # the chart view: one section per <target>/<stat>, one chart per proxy inside it
            WebDriverWait(driver, 60).until(lambda d: "cifar10/kendall" in d.find_element(By.TAG_NAME, "body").text)
            body = driver.find_element(By.TAG_NAME, "body").text
            first = body[body.index("cifar10/kendall"):].split("cifar10/kendall_std")[0]
            assert "nwot" in first and "params" in first  # both proxies' charts in the one section
        finally:
            driver.save_screenshot(str(SHOTS / "sweep_parent_charts.png"))
        # every proxy on one axis per target (mean ± std over seeds), and the summary as a table
        page(f"{parent_path}/artifacts/summary/summary_spearman.png", "summary_spearman.png",
             shot="sweep_summary_chart.png")
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(
            "return Array.from(document.images).some(i => i.complete && i.naturalWidth >= 300)"))
        driver.save_screenshot(str(SHOTS / "sweep_summary_chart.png"))
        driver.find_element(By.XPATH, "//*[normalize-space(text())='summary_table.json']").click()
        try:
            WebDriverWait(driver, 60).until(lambda d: "top10_precision" in d.find_element(By.TAG_NAME, "body").text)
            body = driver.find_element(By.TAG_NAME, "body").text
            assert "nwot" in body and "params" in body
        finally:
            driver.save_screenshot(str(SHOTS / "sweep_summary_table.png"))

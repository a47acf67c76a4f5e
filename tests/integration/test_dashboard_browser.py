"""The dashboard in a real browser: headless Chromium against a real ``agentforge serve``.

The data directory is written through the store APIs (see tests/unit/dashboard/seed.py),
the server runs as its own process on 127.0.0.1, and Selenium drives Debian's
``chromium`` with its ``chromedriver`` (no browser download). Each page is checked for
the recorded values in the DOM, and a full-page screenshot of it is saved under
``tests/artifacts/dashboard/`` (ignored by git).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.unit.dashboard.seed import (
    API_RUN,
    DEAD_ERROR,
    EVIL_TITLE,
    RETRY_ERROR,
    SHOP_RUN,
    populate,
)

pytestmark = pytest.mark.slow

ARTIFACTS = ROOT / "tests" / "artifacts" / "dashboard"
SECRET = "browser-test-secret-0123456789abcdef"


def _browser() -> tuple[str, str]:
    """Paths of a Chromium and its driver, or a skip that says what is missing."""
    chromium = next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip(
            "no Chromium and chromedriver on PATH (Debian: apt-get install chromium "
            "chromium-driver; .ci/run installs them when it runs as root)"
        )
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """A real server on a populated data directory; yields its base URL."""
    data = tmp_path / "data"
    populate(data)
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "AGENTFORGE_DATA_DIR": str(data),
        "AGENTFORGE_GITHUB_WEBHOOK_SECRET": SECRET,
        "AGENTFORGE_WORKERS": "1",
        "AGENTFORGE_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _ready(url):
            if proc.poll() is not None:
                pytest.fail(f"server exited: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("the server did not become ready in 30 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium through Selenium, using the system's browser and driver."""
    chromium, driver_path = _browser()
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a test extra")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, name: str) -> Path:
    """A full-page screenshot (Chromium's DevTools capture beyond the viewport)."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1280, "height": size["height"], "scale": 1},
        },
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")
    return path


def _follow(driver, element, url_part: str) -> None:
    """Click ``element`` and wait until the browser is on a page whose URL has
    ``url_part`` (a click returns before the new page is loaded)."""
    from selenium.webdriver.support.ui import WebDriverWait

    element.click()
    WebDriverWait(driver, 15).until(
        lambda d: (
            url_part in d.current_url
            and d.execute_script("return document.readyState") == "complete"
        )
    )


def _no_injected_markup(driver) -> None:
    from selenium.webdriver.common.by import By

    assert driver.find_elements(By.TAG_NAME, "script") == []
    assert driver.find_elements(By.TAG_NAME, "img") == []


def test_every_page_shows_the_recorded_values(server, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = browser
    shots = []

    d.get(server + "/")
    assert d.title == "Overview · AgentForge"
    assert d.find_element(By.ID, "card-runs").text == "3\nruns · 1 done · 1 failed · 1 waiting"
    assert d.find_element(By.ID, "card-cost").text.startswith("$1.50")
    assert d.find_element(By.CSS_SELECTOR, "#card-waiting .n").text == "1"
    waiting = d.find_element(By.ID, "waiting").text
    assert "acme/shop" in waiting and "design" in waiting and "awaiting approval" in waiting
    failures = d.find_element(By.ID, "failures").text
    assert DEAD_ERROR in failures and RETRY_ERROR in failures  # shown as text, not markup
    assert d.find_elements(By.CSS_SELECTOR, "svg.chart rect")  # this month's cost bars
    _no_injected_markup(d)
    shots.append(_shot(d, "01-overview"))

    _follow(d, d.find_element(By.LINK_TEXT, "Runs"), "/runs")
    titles = [e.text for e in d.find_elements(By.CSS_SELECTOR, "td.title")]
    assert EVIL_TITLE in titles  # the title with <script> in it reads as plain text
    assert [e.text for e in d.find_elements(By.TAG_NAME, "h2")] == ["acme/api", "acme/shop"]
    _no_injected_markup(d)
    shots.append(_shot(d, "02-runs"))

    Select(d.find_element(By.NAME, "state")).select_by_visible_text("failed")
    _follow(d, d.find_element(By.CSS_SELECTOR, "form.filter button"), "state=failed")
    runs = [e.text for e in d.find_elements(By.CSS_SELECTOR, "table.runs td a.mono")]
    assert runs == [API_RUN[:12]]
    shots.append(_shot(d, "03-runs-failed"))

    d.get(f"{server}/runs/{SHOP_RUN}")
    assert d.find_element(By.CSS_SELECTOR, "h1 .title").text == EVIL_TITLE
    assert d.find_element(By.ID, "run-cost").text.startswith("$1.00")
    bars = d.find_elements(By.CSS_SELECTOR, "svg.chart rect.span")
    assert [b.get_attribute("class") for b in bars] == [
        "span span-approved",
        "span span-awaiting_approval",
    ]
    phases = d.find_element(By.ID, "phases").text
    assert "discovery analyst human approved !12" in phases
    usage = d.find_element(By.ID, "usage").text
    assert "anthropic/claude-sonnet-4" in usage and "$0.75" in usage
    assert "docs/requirements/7.md" in d.find_element(By.ID, "artifacts").text
    _no_injected_markup(d)
    shots.append(_shot(d, "04-run"))

    d.get(f"{server}/runs/{API_RUN}")
    assert len(d.find_elements(By.CSS_SELECTOR, "svg.chart rect.span")) == 3
    assert d.find_elements(By.CSS_SELECTOR, "rect.span-failed")
    shots.append(_shot(d, "05-run-failed"))

    _follow(d, d.find_element(By.LINK_TEXT, "Usage"), "/usage")
    assert d.find_element(By.ID, "usage-cost").text.startswith("$1.50")
    by_model = d.find_element(By.ID, "by-model").text
    assert "claude-sonnet-4 2 4600 1200 0 $1.00" in by_model
    assert "gpt-4o-mini 1 8000 2000 0 $0.50" in by_model
    assert "developer" in d.find_element(By.ID, "by-role").text
    assert len(d.find_elements(By.CSS_SELECTOR, "svg.chart")) == 4
    shots.append(_shot(d, "06-usage"))

    _follow(d, d.find_element(By.LINK_TEXT, "Deliveries"), "/deliveries")
    rows = d.find_elements(By.CSS_SELECTOR, "#deliveries tr")
    assert len(rows) == 4
    table = d.find_element(By.ID, "deliveries").text
    assert "d-shop-7" in table and "handled, 2 actions" in table and DEAD_ERROR in table
    _no_injected_markup(d)
    shots.append(_shot(d, "07-deliveries"))

    _follow(d, d.find_element(By.LINK_TEXT, "Jobs"), "/jobs")
    assert DEAD_ERROR in d.find_element(By.ID, "dead").text
    failed = d.find_element(By.ID, "failed").text
    assert RETRY_ERROR in failed and "1/3" in failed
    _no_injected_markup(d)
    shots.append(_shot(d, "08-jobs"))

    assert all(p.stat().st_size > 10_000 for p in shots)

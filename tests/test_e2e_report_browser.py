"""The HTML report of the README's `doit` on examples/hello, opened in real headless Chromium (Debian's
`chromium` through its `chromedriver`, driven by selenium) with the network cut off: no console message,
every chart drawn, the tables sort, and a click from the index down to a run shows its judges' reasoning as
judgment.json holds it. A screenshot of each page is kept ($SCYLLA_TEST_ARTIFACTS, else the test's tmp dir).

Skipped only where chromium is not installed and this is not CI; in CI (`CI` or SCYLLA_REQUIRE_CHROMIUM
set, as .ci/run does) a missing browser fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

pytestmark = pytest.mark.e2e

CHART_TIMEOUT = 30.0        # seconds for Vega to draw every chart (it takes well under one)


def _require(what: str) -> NoReturn:
    if os.environ.get("CI") or os.environ.get("SCYLLA_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"{what} is required in CI (apt-get install chromium chromium-driver; pip install -e '.[test]')")
    pytest.skip(f"{what} is not installed (apt-get install chromium chromium-driver)")


@contextlib.contextmanager
def chromium() -> Iterator:
    """Headless Chromium with no network: DNS resolves nothing and the page is offline."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not browser or not driver_path:
        _require("chromium with its chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _require("selenium (the [test] extra)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1300,1000",
                "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, "latency": 0,
                                                                    "downloadThroughput": -1, "uploadThroughput": -1})
        yield driver
    finally:
        driver.quit()


def artifacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("SCYLLA_TEST_ARTIFACTS") or tmp_path) / "report-screenshots"
    where.mkdir(parents=True, exist_ok=True)
    return where


def screenshot(driver, path: Path) -> None:
    """The whole page: the window as tall as the page (capped), then a PNG."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1300, min(int(height) + 50, 12000))
    assert driver.save_screenshot(str(path)), path
    print(f"screenshot: {path}")


def opened_cleanly(driver) -> None:
    """Nothing on the console (errors, warnings, failed loads) and nothing fetched but local files."""
    messages = driver.get_log("browser")
    assert not messages, messages
    fetched = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith("file:") for url in fetched), fetched


def test_the_report_opens_offline_in_chromium_every_chart_draws_and_a_run_shows_its_judges_reasoning(
        completed, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    checkout, first, second = completed
    assert "analysis:report" in first.executed and "analysis:report/T0/00" in first.executed
    assert second.executed == []
    report = checkout.root / "analysis/report"
    shots = artifacts(tmp_path)
    with chromium() as driver:
        driver.get((report / "index.html").as_uri())
        charts = driver.find_elements(By.CSS_SELECTOR, "div.chart")
        assert len(charts) >= 3, "score, pass rate and cost of pass by tier"
        WebDriverWait(driver, CHART_TIMEOUT).until(lambda d: d.execute_script(
            "return [...document.querySelectorAll('div.chart')].every(c => c.querySelector('svg'))"))
        points = driver.execute_script("return [...document.querySelectorAll('div.chart[id^=\"chart-\"]')].map("
                                       "c => c.querySelectorAll('g.mark-symbol path').length)")
        assert len(points) >= 3 and all(n == 3 for n in points), points     # the report's own: a point per tier
        opened_cleanly(driver)
        screenshot(driver, shots / "index.png")

        # the tier table sorts by a column: mean score, highest first on the second click
        header = driver.find_element(By.XPATH, "//table[@id='tier-table']//th[text()='mean score']")
        header.click()
        header.click()
        column = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#tier-table thead th")].index("mean score")
        scores = [float(row.find_elements(By.TAG_NAME, "td")[column].get_attribute("data-v"))
                  for row in driver.find_elements(By.CSS_SELECTOR, "#tier-table tbody tr")]
        assert scores == sorted(scores, reverse=True) and len(scores) == 3
        summary = json.loads((checkout.root / "analysis/summary.json").read_text())
        assert sorted(scores) == sorted(summary["tiers"][t]["mean_score"]["value"] for t in ("T0", "T1", "T5"))

        # the comparisons show the statistics' numbers (the first data column: the difference in mean score)
        results = json.loads((checkout.root / "analysis/statistical_results.json").read_text())
        shown_pairs = [(row.find_elements(By.TAG_NAME, "td")[0].text,
                        float(row.find_elements(By.TAG_NAME, "td")[1].get_attribute("data-v")))
                       for row in driver.find_elements(By.CSS_SELECTOR, "#pairs-table tbody tr")]
        assert shown_pairs == [(p["name"], p["difference"]["value"]) for p in results["tier_comparisons"]["pairs"]]
        assert len(shown_pairs) == 3                                    # T0 vs T1, T1 vs T5, T0 vs T5

        # drill down: index -> subtest T0/00 -> run_01
        driver.find_element(By.CSS_SELECTOR, "#tier-T0 a[href='T0/00/index.html']").click()
        assert driver.current_url.endswith("/analysis/report/T0/00/index.html")
        opened_cleanly(driver)
        driver.find_element(By.LINK_TEXT, "run_01").click()
        assert driver.current_url.endswith("/analysis/report/T0/00/run_01.html")
        opened_cleanly(driver)
        shown = [pre.get_attribute("textContent") for pre in driver.find_elements(By.CSS_SELECTOR, "pre.reasoning")]
        judged = [json.loads((checkout.root / f"T0/00/run_01/judge/judge_{n:02d}/judgment.json").read_text())
                  for n in (1, 2)]
        assert shown == [j["reasoning"] for j in judged] and all(shown)
        screenshot(driver, shots / "run_01.png")
        # a raw file it links to opens (the patch, two directories up from the report)
        driver.find_element(By.LINK_TEXT, "patch").click()
        assert driver.current_url.endswith("/T0/00/run_01/agent/patch.diff")
        assert driver.find_element(By.TAG_NAME, "body").text.strip() == \
            (checkout.root / "T0/00/run_01/agent/patch.diff").read_text().strip()

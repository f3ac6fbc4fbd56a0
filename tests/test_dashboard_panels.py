"""Each dashboard panel in a real browser (Debian's chromium, Playwright) after a short `tokenops demo traffic`:
the story the demo tells is on the page, and every table fits a 1,400 px screen. Screenshots of each panel go
to the artefacts folder (TOKENOPS_TEST_ARTIFACTS=bench/results refreshes the committed ones)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Gateway, demo_catalog, start_gateway
from tests.test_dashboard_browser import ARGS, CHROMIUM, SHOTS, playwright_api, sign_in
from tokenops.cli.demo import traffic

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/browser.sh)")
Page = Any  # playwright's Page, imported only where the browser is


@pytest.fixture(scope="module")
def demo_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """A gateway on the demo catalog after eight seconds of `tokenops demo traffic` (the story of a day)."""
    gateway = start_gateway(demo_catalog(), Path(tmp_path_factory.mktemp("panels")) / "home")
    asyncio.run(traffic(gateway.url, 8.0, None, agents=2))
    yield gateway
    gateway.server.stop()


@pytest.fixture(scope="module")
def page(demo_day: Gateway) -> Iterator[Page]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(15_000)
        page.goto(demo_day.url + "/dashboard")
        sign_in(page, "adm-demo-operator")
        page.wait_for_selector("#table-compaction td:text('acme-manufacturing')")
        yield page
        browser.close()


def shot(page: Page, selector: str, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(selector).screenshot(path=str(SHOTS / f"panel-{name}.png"))


def column(page: Page, table: str, label: str) -> list[str]:
    """The cells of the column headed `label` in a table, as shown."""
    return page.evaluate(  # type: ignore[no-any-return]
        """([table, label]) => {
            const t = document.querySelector(`#${table} table`);
            const i = [...t.querySelectorAll("th")].findIndex((th) => th.textContent === label);
            return [...t.querySelectorAll("tbody tr")].map((tr) => tr.children[i].textContent);
        }""",
        [table, label],
    )


def rows(page: Page, table: str) -> list[dict[str, str]]:
    return page.evaluate(  # type: ignore[no-any-return]
        """(table) => {
            const t = document.querySelector(`#${table} table`);
            const heads = [...t.querySelectorAll("th")].map((th) => th.textContent);
            return [...t.querySelectorAll("tbody tr")].map((tr) =>
                Object.fromEntries([...tr.children].map((td, i) => [heads[i], td.textContent])));
        }""",
        table,
    )


def test_kpis_count_the_refusals_apart_from_errors(page: Page) -> None:
    refused = int(page.inner_text("#kpi-refused-unit").split(" of ")[0].replace(",", ""))
    assert refused > 0  # the throttled scraper, the tutor's 402s, the heavy consumers' 429s
    assert page.inner_text("#kpi-err") == "0.0 %"
    shot(page, ".cards", "kpis")


def test_time_axis_labels_do_not_touch_and_models_are_served_models(page: Page) -> None:
    page.wait_for_function("() => window.tokenops.charts['chart-velocity'].plot.axes[0]._values")
    apart = page.evaluate(
        """() => {
            const u = window.tokenops.charts['chart-velocity'].plot, a = u.axes[0];
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = a.font[0];
            const xs = a._splits.map((s) => u.valToPos(s, 'x'));
            const ws = a._values.map((v) => ctx.measureText(v).width);
            return {labels: a._values, apart: xs.slice(1).every((x, i) => x - xs[i] > (ws[i] + ws[i + 1]) / 2 + 4)};
        }"""
    )
    assert apart["apart"] and len(apart["labels"]) >= 2, apart
    assert all(len(label) == 8 and label.count(":") == 2 for label in apart["labels"])  # 24-hour hh:mm:ss
    models = page.evaluate("() => Object.keys(window.tokenops.velocity.models)")
    assert set(models) <= {"tele-lite", "tele-max", "grid-fault-expert", "tele-embed"}  # no alias plotted as a model
    shot(page, ".charts", "charts")


def test_tenants_panel_shows_the_prepaid_start_up_topped_up_and_fits_the_page(page: Page) -> None:
    tutor = next(r for r in rows(page, "table-tenants") if r["tenant"] == "nova-tutor")
    assert tutor["last top-up"].startswith("0.05 at ") and tutor["balance"][0].isdigit()
    gov = next(r for r in rows(page, "table-tenants") if r["tenant"] == "cn-gov-energy")
    assert gov["kind · sector"] == "government · energy"
    shot(page, "#table-tenants", "tenants")


def test_deployments_panel_shows_capacity_and_utilisation(page: Page) -> None:
    found = {r["deployment"]: r for r in rows(page, "table-deployments")}
    assert found["lite-east-1"]["capacity"] == "128" and found["max-north-1"]["capacity"] == "32"
    assert "unbounded" not in column(page, "table-deployments", "capacity")
    assert found["lite-east-1"]["peak utilization (60 s)"].endswith("%")
    shot(page, "#table-deployments", "deployments")


def test_routing_panel_shows_auto_routed_both_ways(page: Page) -> None:
    served = {r["model served"]: r for r in rows(page, "table-routing") if r["model asked for"] == "auto"}
    assert served.keys() == {"tele-lite", "tele-max"}
    assert served["tele-lite"]["price tier"] == "cheap" and served["tele-max"]["price tier"] == "expensive"
    shot(page, "#table-routing", "routing")


def test_residency_panel_keeps_the_regulated_tenant_in_its_region(page: Page) -> None:
    gov = [r for r in rows(page, "table-residency") if r["tenant"] == "cn-gov-energy"]
    assert [(r["region"], r["status"]) for r in gov] == [("cn-north", "in residency")]
    assert "VIOLATION" not in column(page, "table-residency", "status")
    shot(page, "#table-residency", "residency")


def test_budget_panel_shows_the_80_and_100_percent_alerts(page: Page) -> None:
    crossed = {(r["budget"], r["crossed"]) for r in rows(page, "table-alerts")}
    assert {("gov-batch-session", "80 %"), ("gov-batch-session", "100 %")} <= crossed
    shot(page, "#table-budgets", "budgets")
    shot(page, "#table-alerts", "budget-alerts")


def test_security_panel_shows_the_scraper_caught_and_throttled(page: Page) -> None:
    events = rows(page, "table-security")
    # the demo's scraper distils a training set: the distillation detector throttles it, and no one else
    assert {(e["key"], e["action"]) for e in events} == {("ringback-partner", "throttle")}
    assert "distillation" in {e["detector"] for e in events}
    shot(page, "#table-security", "security")


def test_compaction_panel_shows_the_agent_sessions_fitted_to_the_window(page: Page) -> None:
    [acme] = rows(page, "table-compaction")
    assert acme["tenant"] == "acme-manufacturing" and int(acme["requests compacted"].replace(",", "")) > 0
    before, after = (int(acme[k].replace(",", "")) for k in ("tokens before", "tokens after"))
    assert after < before and after / int(acme["requests compacted"].replace(",", "")) < 32768
    assert acme["last transcript"]  # acme allows storing content: the full session is retrievable
    shot(page, "#table-compaction", "compaction")


@pytest.mark.parametrize("width", [1400, 1100])
def test_every_table_fits_the_page(page: Page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 1000})
    page.wait_for_timeout(300)
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.panel')].filter((p) => p.scrollWidth > p.clientWidth + 1)
                 .map((p) => p.querySelector('h2').textContent + ': ' + p.scrollWidth + ' > ' + p.clientWidth + ' '
                      + [...p.querySelectorAll('th')].map((th) => th.textContent + '=' + th.offsetWidth).join(','))"""
    )
    assert overflow == []
    if width == 1400:
        page.screenshot(path=str(SHOTS / "dashboard-demo-day.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})

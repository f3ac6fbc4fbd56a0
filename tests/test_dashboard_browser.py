"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a gateway under traffic."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.conftest import ROOT, Gateway

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
# Screenshots go to the artefacts folder; TOKENOPS_TEST_ARTIFACTS=bench/results refreshes the committed ones.
SHOTS = Path(os.environ.get("TOKENOPS_TEST_ARTIFACTS", ROOT / ".artifacts")) / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PROMPTS = ["Why did feeder 12 trip at dawn?", "Summarise the weekly maintenance log.",
           "Draft a reply to the supplier about late bearings.", "Which alarms correlate with the pump fault?",
           "Explain this stack trace from the MES gateway.", "Plan the shift roster for next week."]  # fmt: skip
TRAFFIC = [("sk-demo-acme", "tele-lite"), ("sk-demo-acme", "tele-max"), ("sk-demo-gov", "grid-fault-expert"),
           ("sk-demo-consumer", "lite")]  # fmt: skip

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/browser.sh)")


@pytest.fixture
def traffic(gateway: Gateway) -> Iterator[Gateway]:
    """Scripted traffic of three tenants, running until the test ends."""
    stop = threading.Event()

    def run() -> None:
        clients = {key: openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0) for key, _ in TRAFFIC}
        i = 0
        while not stop.is_set():
            key, model = TRAFFIC[i % len(TRAFFIC)]
            with contextlib.suppress(openai.APIError):
                clients[key].chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}],
                    user=f"user-{i % 50}",
                )
            i += 1
            stop.wait(0.02)
        for c in clients.values():
            c.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield gateway
    stop.set()
    thread.join(10)


@pytest.fixture
def page(traffic: Gateway) -> Iterator[playwright_api.Page]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(15_000)
        page.goto(traffic.url + "/dashboard")
        yield page
        browser.close()


def sign_in(page: playwright_api.Page, token: str) -> None:
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_selector("#app:not([hidden])")


def test_operator_sees_the_velocity_chart_move_under_traffic(page: playwright_api.Page) -> None:
    sign_in(page, "adm-demo-operator")
    page.wait_for_function("() => window.tokenops.velocity && window.tokenops.velocity.now.out > 0")
    first = page.evaluate("() => window.tokenops.charts['chart-velocity'].data")
    page.wait_for_function(
        "t => window.tokenops.charts['chart-velocity'].data[0].at(-1) > t", arg=first[0][-1], timeout=10_000
    )
    second = page.evaluate("() => window.tokenops.charts['chart-velocity'].data")
    assert second[0][-1] > first[0][-1]  # the time axis moved on without a reload
    assert sum(second[2]) > 0  # and tokens out are flowing
    page.wait_for_selector("#table-tenants td:text('cn-gov-energy')")
    page.wait_for_selector("#table-deployments td:text('gov-grid-north-1')")
    assert page.locator("#chart-velocity canvas").count() == 1
    assert page.evaluate("() => window.tokenops.charts['chart-velocity'].plot.axes[1].label") == "tokens/s"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "dashboard-operator.png"))


def test_refusals_have_their_own_kpi_apart_from_errors(page: playwright_api.Page, traffic: Gateway) -> None:
    sign_in(page, "adm-demo-operator")
    consumer = openai.OpenAI(base_url=traffic.url + "/v1", api_key="sk-demo-consumer", max_retries=0)
    for _ in range(3):  # tele-max is not among the consumer app's models: 403
        with pytest.raises(openai.PermissionDeniedError):
            consumer.chat.completions.create(model="tele-max", messages=[{"role": "user", "content": "hi"}])
    consumer.close()
    page.wait_for_function(
        "() => parseInt(document.getElementById('kpi-refused-unit').textContent.replace(/,/g, '')) >= 3"
    )
    assert page.locator("#kpi-refused").inner_text().endswith("%")
    assert page.locator("#kpi-err").inner_text() == "0.0 %"  # refusals are not errors


def test_tenant_admin_sees_only_its_own_tenant(page: playwright_api.Page) -> None:
    sign_in(page, "adm-demo-acme")
    page.wait_for_selector("#table-tenants td:text('acme-manufacturing')")
    page.wait_for_function("() => window.tokenops.velocity && window.tokenops.velocity.now.out > 0")
    page.wait_for_timeout(4500)  # one more overview refresh, with everyone's traffic flowing meanwhile
    text = page.inner_text("#app")
    assert "cn-gov-energy" not in text and "ringback-app" not in text and "gov-grid-north-1" not in text
    assert page.is_hidden("#tenant-pick")
    tenants = page.evaluate("() => Object.keys(window.tokenops.velocity.tenants)")
    assert tenants == ["acme-manufacturing"]
    status = page.evaluate(
        "() => fetch('/dashboard/api/overview?tenant=cn-gov-energy', "
        "{headers: {authorization: 'Bearer adm-demo-acme'}}).then(r => r.status)"
    )
    assert status == 404
    page.screenshot(path=str(SHOTS / "dashboard-tenant-admin.png"))


def test_a_wrong_token_is_refused_at_sign_in(page: playwright_api.Page) -> None:
    page.fill("#token", "adm-not-a-token")
    page.click("button[type=submit]")
    page.wait_for_selector("#login-error:text('not accepted')")
    assert page.is_hidden("#app")

"""Headless Debian Chromium driven by Playwright against a live `moderato serve` (real Redis, model and worker).

Nothing downloads a browser: Playwright launches /usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs
it). Without it these tests are skipped with a message, unless MODERATO_REQUIRE_BROWSER=1 (CI), where a missing
browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import auth
from tests.utils.processes import live_server, wait_for

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # screenshots, kept after the run (git-ignored)
KEYS = "pk=news:platform,mk1=news:moderator:ana,mk2=news:moderator:ben,ak=news:admin:chief"
PAGE_BATCH = 2  # comments each page leases at once: small, so two moderators split a short queue


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists() or not any("tests/browser" in str(i.path) for i in items):
        return
    if os.environ.get("MODERATO_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(f"MODERATO_REQUIRE_BROWSER=1 but {CHROMIUM} is missing: apt-get install chromium")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not found: `apt-get install chromium` to run the browser tests")
    for item in items:
        if "tests/browser" in str(item.path):
            item.add_marker(skip)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Playwright runs its own event loop on this thread while it is open: closed with the module, so the asyncio
    tests that run after it find no loop running."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The live server's data folder (its learned model versions are under ``models``)."""
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def server(server_folder: Path) -> Iterator[str]:
    folder = server_folder
    with live_server(folder, api_keys=KEYS, page_batch=str(PAGE_BATCH), log_level="INFO") as (url, _):
        yield url
    log = (folder / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def seed(url: str, comments: list[tuple[str, str]], *, thread: str, **extra: Any) -> None:
    """Posts comments (id, text) to a thread as the platform would and waits until the worker has scored them."""
    body = {"comments": [{"id": i, "text": t, "thread_id": thread, **extra} for i, t in comments]}
    assert httpx.post(f"{url}/v1/comments", json=body, headers=auth("pk"), timeout=30).status_code == 202
    for cid, _ in comments:
        wait_for(
            lambda cid=cid: (
                httpx.get(f"{url}/v1/comments/{cid}", headers=auth("pk"), timeout=10).json()["status"] != "queued"
            ),
            90,
            f"{cid} scored",
        )


def clear_queue(url: str) -> None:
    """Approves whatever earlier tests left waiting, so each test starts from its own comments."""
    for queue in ("review", "reported", "escalated"):
        items = httpx.get(f"{url}/v1/queues/{queue}?limit=200", headers=auth("mk1"), timeout=10).json()["items"]
        for item in items:
            httpx.post(f"{url}/v1/comments/{item['id']}/decision", json={"decision": "approve"}, headers=auth("mk1"))


@pytest.fixture(autouse=True)
def close_contexts(browser: Any) -> Iterator[None]:
    """Every browser context a test opened is closed after it, passed or failed: an open page holds a live stream."""
    yield
    for context in browser.contexts:
        context.close()


def sign_in(browser: Any, url: str, key: str) -> Any:
    """A fresh browser context signed in with ``key``; returns its page, showing the queue."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{url}/moderate")
    page.get_by_text("Sign in with a key instead").click()
    page.get_by_label("Moderator key").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    page.locator("#queue-view").wait_for()
    page.locator("#live:text-is('Live')").wait_for()
    return page

"""The console in a real headless Chromium, driven by Playwright, against the
Receptionist on loopback: connect, each skill streaming live, input-required,
cancel, the tasks, audit and raw views. Screenshots go to build/console-screenshots/.

Needs the ``playwright`` package and Debian's ``chromium`` (``scripts/install``
installs both); without them the module is skipped locally and fails in CI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from accord.console import ConsoleApp
from tests.helpers.examples import RECEPTIONIST_KEY
from tests.helpers.uvicorn_thread import serve_in_thread

from .agents import REPORT, reports_app
from .conftest import Steps, make_tasks

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "console-screenshots"

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the environment, not the code
    if os.environ.get("CI"):
        raise
    pytest.skip(
        "playwright is not installed: bash scripts/install", allow_module_level=True
    )
if not CHROMIUM.exists():  # pragma: no cover - the environment, not the code
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: bash scripts/install installs it")
    pytest.skip(f"{CHROMIUM} is missing: bash scripts/install", allow_module_level=True)

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytestmark = pytest.mark.slow

#: Chromium's own network chatter is refused on a closed network: keep it quiet.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    try:
        yield opened
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    """Keep a screenshot of the page as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def connect(page: Page, console: str, agent: str) -> None:
    page.goto(console + "/")
    expect(page.get_by_label("Agent URL")).to_have_value(agent)
    page.get_by_label("API key").fill(RECEPTIONIST_KEY)
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.locator("#connection-status")).to_have_text("Connected to Receptionist")


def send(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def start_held(page: Page, console: str, agent: str, steps: Steps, call: str) -> None:
    """Connect and ask for ``call``'s summary; the task stays at its first step."""
    connect(page, console, agent)
    steps.hold()
    send(page, f"Summary of {call}")
    progress = page.locator("#chat-log li.progress", has_text=f"Looking up {call}")
    expect(progress).to_be_visible()


def status(page: Page) -> Locator:
    return page.locator("#task-status")


def test_connect_shows_the_card_and_keeps_the_key_out_of_the_page(
    page: Page, console: str, agent: str
) -> None:
    connect(page, console, agent)
    expect(page.get_by_role("heading", name="Receptionist")).to_be_visible()
    expect(page.locator("#card-checks li.ok", has_text="3 skill(s)")).to_be_visible()
    expect(page.locator("#card-signature .sig-self-signed")).to_have_text("self-signed")
    expect(page.locator("#card-skills li")).to_have_count(3)
    # The key went to the console server: not in the form, storage or cookies.
    expect(page.get_by_label("API key")).to_have_value("")
    stored = page.evaluate(
        "() => JSON.stringify([localStorage, sessionStorage, document.cookie])"
    )
    assert RECEPTIONIST_KEY not in stored
    assert "accord_console" not in stored  # HttpOnly: no script reads it
    shot(page, "card")
    # The system's theme decides: light, or dark.
    background = "() => getComputedStyle(document.body).backgroundColor"
    assert page.evaluate(background) == "rgb(255, 255, 255)"
    page.emulate_media(color_scheme="dark")
    assert page.evaluate(background) == "rgb(18, 20, 23)"
    shot(page, "card-dark")


def test_each_skill_streams_its_progress_live(
    page: Page, console: str, agent: str, steps: Steps
) -> None:
    connect(page, console, agent)
    # Held at its first step, the task shows WORKING progress before any result.
    steps.hold()
    page.locator("button.example[data-skill=fetch_call_summary]").nth(1).click()
    expect(page.get_by_label("Data")).to_have_value(re.compile("call-1001"))
    page.get_by_role("button", name="Send", exact=True).click()
    expect(
        page.locator("#chat-log li.progress", has_text="Looking up call-1001")
    ).to_be_visible()
    expect(status(page)).to_contain_text("Task working")
    expect(page.locator("#chat-log li.artifact")).to_have_count(0)
    steps.free()
    expect(page.locator("#chat-log li.artifact pre.data")).to_contain_text(
        '"callId": "call-1001"'
    )
    expect(status(page)).to_contain_text("Task completed")
    for skill, result in (
        ("schedule_callback", '"status": "confirmed"'),
        ("escalate_to_human", '"ticketId": "esc-0001"'),
    ):
        page.get_by_role("button", name="New conversation", exact=True).click()
        page.locator(f"button.example[data-skill={skill}]").nth(1).click()
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.locator("#chat-log li.artifact pre.data")).to_contain_text(result)
        expect(status(page)).to_contain_text("Task completed")
    shot(page, "chat")


def test_input_required_is_answered_in_the_same_task(
    page: Page, console: str, agent: str
) -> None:
    connect(page, console, agent)
    send(page, "Schedule a callback")
    expect(status(page)).to_contain_text(
        "Task input required: To schedule a callback I still need"
    )
    task_id = page.locator("#task-id").inner_text()
    expect(page.get_by_label("Message")).to_be_focused()
    send(page, "+1 415 555 0123 on 2026-12-01 14:00-15:00")
    expect(status(page)).to_contain_text("Task completed: Callback cb-")
    timeline = page.locator("#chat-log li.agent", has_text="input required")
    expect(timeline).to_have_count(1)
    page.get_by_role("tab", name="Tasks").click()
    page.get_by_role("button", name="List tasks", exact=True).click()
    page.get_by_role("button", name=task_id).click()
    expect(page.locator("#task-detail-state")).to_contain_text("completed")
    shot(page, "input-required")


def test_a_running_task_is_canceled(
    page: Page, console: str, agent: str, steps: Steps
) -> None:
    start_held(page, console, agent, steps, "call-1002")
    page.get_by_role("button", name="Cancel task", exact=True).click()
    expect(status(page)).to_contain_text("Task canceled")
    expect(page.get_by_role("button", name="Cancel task", exact=True)).to_be_disabled()
    shot(page, "canceled")


def test_tasks_audit_and_raw_views(page: Page, console: str, agent: str) -> None:
    connect(page, console, agent)
    send(page, "Summary of call-1003")
    expect(status(page)).to_contain_text("Task completed")
    # The tabs follow the ARIA pattern: the arrow keys move between them.
    page.get_by_role("tab", name="Chat").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Tasks")).to_have_attribute(
        "aria-selected", "true"
    )
    page.get_by_label("State").select_option("TASK_STATE_COMPLETED")
    page.get_by_role("button", name="List tasks", exact=True).click()
    rows = page.locator("#tasks-table tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("button").click()
    expect(page.locator("#task-timeline li").first).to_contain_text("task")
    expect(page.locator("#task-timeline li", has_text="artifact")).to_have_count(1)
    expect(page.locator("#task-push")).to_have_text("No push notification configs.")
    expect(page.locator("#task-audit table")).to_contain_text("SendStreamingMessage")
    shot(page, "task")
    page.get_by_label("State").select_option("TASK_STATE_CANCELED")
    page.get_by_role("button", name="List tasks", exact=True).click()
    expect(rows).to_have_count(0)
    page.get_by_role("tab", name="Audit").click()
    expect(page.locator("#audit-list table")).to_contain_text("ListTasks")
    shot(page, "audit")
    page.get_by_role("tab", name="Raw").click()
    first = page.locator("#raw-list details").filter(has_text="POST").first
    first.locator("summary").click()
    expect(first).to_contain_text("x-api-key: [redacted]")
    expect(first).to_contain_text("SendStreamingMessage")
    assert RECEPTIONIST_KEY not in page.content()
    shot(page, "raw")


def test_files_download_and_data_shows_as_json(page: Page, tmp_path: Path) -> None:
    with (
        serve_in_thread(reports_app()) as agent,
        serve_in_thread(ConsoleApp(agent_url=agent)) as console,
    ):
        page.goto(console + "/")
        page.get_by_role("button", name="Connect", exact=True).click()
        expect(page.locator("#connection-status")).to_have_text("Connected to Reports")
        send(page, "weekly")
        expect(page.locator("#chat-log li.artifact pre.data")).to_contain_text(
            '"rows": 1'
        )
        with page.expect_download() as download:
            page.get_by_role("link", name="Download report.csv").click()
        saved = tmp_path / "report.csv"
        download.value.save_as(saved)
        assert saved.read_bytes() == REPORT
        shot(page, "files")


def test_a_task_is_followed_and_canceled_from_its_page(
    page: Page, console: str, agent: str, steps: Steps
) -> None:
    start_held(page, console, agent, steps, "call-1004")
    page.get_by_role("tab", name="Tasks").click()
    page.get_by_label("State").select_option("TASK_STATE_WORKING")
    page.get_by_role("button", name="List tasks", exact=True).click()
    page.locator("#tasks-table tbody tr").get_by_role("button").click()
    expect(page.locator("#task-detail-state")).to_contain_text("working")
    page.get_by_role("button", name="Follow live", exact=True).click()
    expect(page.get_by_role("tab", name="Chat")).to_have_attribute(
        "aria-selected", "true"
    )
    steps.release()  # one more step: both the send and the follow stream show it
    expect(
        page.locator("#chat-log li.progress", has_text="Reading the transcript")
    ).to_have_count(2)
    page.get_by_role("tab", name="Tasks").click()
    page.get_by_role("button", name="Cancel this task", exact=True).click()
    expect(page.locator("#task-detail-state")).to_contain_text("canceled")
    expect(
        page.get_by_role("button", name="Cancel this task", exact=True)
    ).to_be_disabled()
    page.get_by_role("tab", name="Chat").click()
    expect(status(page)).to_contain_text("Task canceled")


def test_tasks_come_a_page_at_a_time(page: Page, console: str, agent: str) -> None:
    make_tasks(agent, 12)
    connect(page, console, agent)
    page.get_by_role("tab", name="Tasks").click()
    page.get_by_label("Per page").select_option("10")
    page.get_by_role("button", name="List tasks", exact=True).click()
    rows = page.locator("#tasks-table tbody tr")
    expect(rows).to_have_count(10)
    page.get_by_role("button", name="More tasks", exact=True).click()
    expect(rows).to_have_count(12)
    expect(page.get_by_role("button", name="More tasks", exact=True)).to_be_hidden()


def test_an_agent_is_found_in_the_registry_and_connected_to(
    page: Page, agent: str, tmp_path: Path
) -> None:
    from .test_registry import register_in_registry

    with (
        register_in_registry(tmp_path, agent) as registry,
        serve_in_thread(ConsoleApp(registry=registry)) as console,
    ):
        page.goto(console + "/")
        page.get_by_label("What it should do").fill("schedule a callback")
        page.get_by_role("button", name="Search", exact=True).click()
        found = page.locator("#registry-results li.found")
        expect(found).to_have_count(1)
        expect(found).to_contain_text("Receptionist")
        shot(page, "registry")
        found.get_by_role("button", name="Use Receptionist").click()
        expect(page.get_by_label("Agent URL")).to_have_value(agent)
        page.get_by_label("API key").fill(RECEPTIONIST_KEY)
        page.get_by_role("button", name="Connect", exact=True).click()
        expect(page.locator("#connection-status")).to_have_text(
            "Connected to Receptionist"
        )

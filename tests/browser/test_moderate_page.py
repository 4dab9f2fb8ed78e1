"""The moderator page in real Chromium: sign-in, spans, keyboard decisions, live updates, leases, retries, the
thread and audit views. Each test posts its own comments through the platform API and the real worker scores them."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import PAGE_BATCH, clear_queue, seed, sign_in
from tests.conftest import auth
from tests.utils.processes import wait_for

pytestmark = pytest.mark.slow

RUDE = [
    "You are a complete idiot and a liar.",
    "Shut up, nobody cares about your stupid opinion, moron.",
    "People like you are ruining this town, you pathetic fool.",
    "What a dumb, ignorant take. Are you really this stupid?",
]
UNDO_S = 5  # the page's undo window before a decision is sent


def register_article(url: str, article_id: str, title: str) -> None:
    body = {"id": article_id, "title": title}
    assert httpx.post(f"{url}/v1/articles", json=body, headers=auth("pk"), timeout=30).status_code == 201


def listed(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#items li.item", "els => els.map(e => e.dataset.id)"))


def mine(page: Any) -> set[str]:
    return set(
        page.eval_on_selector_all("#items li.item:has(.badge:text('yours'))", "els => els.map(e => e.dataset.id)")
    )


def audit_entries(url: str, comment_id: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/v1/audit", params={"comment_id": comment_id}, headers=auth("mk1"), timeout=10)
    return [e for e in r.json()["items"] if e["actor"] in ("ana", "ben")]


def test_a_wrong_key_is_refused_and_a_right_one_signs_in(browser: Any, server: str) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{server}/moderate")
    page.get_by_text("Sign in with a key instead").click()
    page.get_by_label("Moderator key").fill("not-a-key")
    page.get_by_role("button", name="Sign in with the key").click()
    assert "not known" in page.locator("#signin-error").inner_text()
    page.get_by_label("Moderator key").fill("pk")  # the key form stays open after a key's error
    page.get_by_role("button", name="Sign in with the key").click()
    assert "platform key" in page.locator("#signin-error").inner_text()
    page.get_by_label("Moderator key").fill("mk1")
    page.get_by_role("button", name="Sign in with the key").click()
    page.wait_for_selector("#queue-view")
    assert "ana" in page.locator(".who").inner_text()
    cookies = page.context.cookies()
    assert [c["httpOnly"] for c in cookies if c["name"] == "moderato_session"] == [True]
    assert page.evaluate("document.cookie") == ""  # the script cannot read the session
    page.context.close()


def test_flagged_comments_show_their_spans_and_the_keyboard_approves_one(
    browser: Any, server: str, artifacts: Path
) -> None:
    clear_queue(server)
    register_article(server, "library", "Council votes to close the library")
    seed(server, [("k1", RUDE[0]), ("k2", RUDE[1])], thread="library", article_id="library", author_id="reader-1")
    page = sign_in(browser, server, "mk1")
    first = page.locator("#items li.item").first
    first.locator("mark.span").first.wait_for()
    span = first.locator("mark.span").first
    assert span.locator(".span-label").inner_text() in ("insult", "toxicity", "obscene", "threat", "identity attack")
    assert "Council votes to close the library" in first.inner_text()
    assert "reader-1" in first.inner_text()
    page.screenshot(path=str(artifacts / "queue.png"), full_page=True)

    target = listed(page)[0]
    page.keyboard.press("a")
    assert target not in listed(page)  # gone at once; sent when the undo window closes
    assert "Approved" in page.locator("#toast").inner_text()
    wait_for(lambda: audit_entries(server, target) != [], UNDO_S + 10, "the approval in the audit log")
    assert [e["action"] for e in audit_entries(server, target)] == ["approve"]
    page.context.close()


def test_a_disguised_comment_shows_what_it_was_read_as(browser: Any, server: str) -> None:
    """The plain reading (service/model/obfuscation.py) is shown beside a held comment that disguises or borrows its
    words, so a moderator sees why it was held; a comment read as written shows none."""
    clear_queue(server)
    seed(
        server,
        [("dg1", "Fck you, what a dck."), ("dg2", "The author is a hijo de puta."), ("dg3", RUDE[2])],
        thread="disguised",
    )
    page = sign_in(browser, server, "mk1")
    for cid in ("dg1", "dg2", "dg3"):
        page.wait_for_selector(f"li.item[data-id='{cid}']")
    assert page.locator("li.item[data-id='dg1'] .read-as").inner_text() == "read as: fuck you, what a dick."
    assert "son of a bitch" in page.locator("li.item[data-id='dg2'] .read-as").inner_text()
    assert page.locator("li.item[data-id='dg3'] .read-as").count() == 0
    page.goto(f"{server}/moderate#thread=disguised")  # the thread view shows it too
    page.wait_for_selector("#thread-comments li.item[data-id='dg1'] .read-as")
    assert "fuck you, what a dick." in page.locator("#thread-comments li.item[data-id='dg1'] .read-as").inner_text()
    assert page.locator("#thread-comments li.item[data-id='dg3'] .read-as").count() == 0
    page.context.close()


def test_new_flagged_comments_appear_without_a_reload_and_bulk_rejects_them(browser: Any, server: str) -> None:
    clear_queue(server)
    page = sign_in(browser, server, "mk1")
    before = page.locator("[data-count='review']").inner_text()
    seed(server, [("n1", RUDE[0] + " (new)"), ("n2", RUDE[1] + " (new)")], thread="fresh")
    page.wait_for_selector("li.item[data-id='n1']")
    page.wait_for_selector("li.item[data-id='n2']")
    assert page.locator("[data-count='review']").inner_text() != before  # counts follow the queue live
    for cid in ("n1", "n2"):
        page.locator(f"li.item[data-id='{cid}'] input.select").check()
    assert "2 selected" in page.locator("#selection").inner_text()
    page.keyboard.press("r")
    assert not {"n1", "n2"} & set(listed(page))
    wait_for(lambda: all(audit_entries(server, c) for c in ("n1", "n2")), UNDO_S + 10, "both rejections")
    assert [e["action"] for c in ("n1", "n2") for e in audit_entries(server, c)] == ["reject", "reject"]


def test_undo_takes_a_decision_back_before_it_is_sent(browser: Any, server: str) -> None:
    clear_queue(server)
    seed(server, [("u1", RUDE[2])], thread="undo")
    page = sign_in(browser, server, "mk1")
    page.wait_for_selector("li.item[data-id='u1']")
    page.keyboard.press("r")
    assert "u1" not in listed(page)
    page.keyboard.press("u")
    page.wait_for_selector("li.item[data-id='u1']")
    time.sleep(UNDO_S + 1)
    assert audit_entries(server, "u1") == []
    page.context.close()


def test_a_second_window_sees_a_decision_leave_live(browser: Any, server: str) -> None:
    clear_queue(server)
    seed(server, [("w1", RUDE[3])], thread="live")
    one = sign_in(browser, server, "mk1")
    two = sign_in(browser, server, "mk1")  # the same moderator in a second window
    for page in (one, two):
        page.wait_for_selector("li.item[data-id='w1']")
    one.locator("li.item[data-id='w1'] button[data-act='reject']").click()
    two.wait_for_selector("li.item[data-id='w1']", state="detached", timeout=(UNDO_S + 10) * 1000)
    assert [e["action"] for e in audit_entries(server, "w1")] == ["reject"]
    one.context.close()
    two.context.close()


def test_a_comment_the_platform_erases_leaves_the_open_page_live(browser: Any, server: str) -> None:
    clear_queue(server)
    seed(server, [("x1", RUDE[1]), ("x2", RUDE[2])], thread="erase")
    page = sign_in(browser, server, "mk1")
    page.wait_for_selector("li.item[data-id='x1']")
    before = page.locator("[data-count='review']").inner_text()
    assert httpx.delete(f"{server}/v1/comments/x1", headers=auth("pk"), timeout=10).status_code == 204
    page.wait_for_selector("li.item[data-id='x1']", state="detached", timeout=10_000)
    assert "x2" in listed(page)
    assert int(page.locator("[data-count='review']").inner_text()) == int(before) - 1  # the count follows
    page.context.close()


def test_two_moderators_never_get_the_same_comment(browser: Any, server: str) -> None:
    clear_queue(server)
    seed(server, [(f"m{i}", RUDE[i % len(RUDE)] + f" ({i})") for i in range(6)], thread="split")
    ana = sign_in(browser, server, "mk1")
    ben = sign_in(browser, server, "mk2")
    wait_for(lambda: len(mine(ana)) == PAGE_BATCH and len(mine(ben)) == PAGE_BATCH, 15, "both batches leased")
    held_by_ana, held_by_ben = mine(ana), mine(ben)
    assert not held_by_ana & held_by_ben
    # each one's leased comments leave the other's list, live
    wait_for(lambda: not set(listed(ben)) & held_by_ana and not set(listed(ana)) & held_by_ben, 10, "lists apart")
    # a comment leased to ana cannot be decided by ben, even through the API with his key
    refused = httpx.post(
        f"{server}/v1/comments/{sorted(held_by_ana)[0]}/decision",
        json={"decision": "approve"},
        headers=auth("mk2"),
        timeout=10,
    )
    assert refused.status_code == 409
    ana.context.close()  # leaving the page gives the leases back
    wait_for(lambda: held_by_ana <= set(listed(ben)), 15, "ana's comments back in ben's list")
    ben.context.close()


def test_a_decision_made_while_the_server_is_unreachable_is_retried_and_lands_once(browser: Any, server: str) -> None:
    clear_queue(server)
    seed(server, [("off1", RUDE[0] + " (offline)")], thread="offline")
    page = sign_in(browser, server, "mk1")
    page.wait_for_selector("li.item[data-id='off1']")
    page.context.set_offline(True)
    page.locator("li.item[data-id='off1'] button[data-act='reject']").click()
    page.wait_for_selector("#pending.retrying", timeout=(UNDO_S + 10) * 1000)
    assert "off1" in page.locator("#pending").inner_text()
    assert audit_entries(server, "off1") == []
    page.context.set_offline(False)
    page.wait_for_selector("#pending", state="hidden", timeout=30_000)
    state = httpx.get(f"{server}/v1/comments/off1", headers=auth("mk1"), timeout=10).json()
    assert (state["decision"], state["decided_by"]) == ("reject", "ana")
    assert [e["action"] for e in audit_entries(server, "off1")] == ["reject"]  # once
    page.context.close()


def test_the_thread_view_finds_the_worst_comment_rejects_it_and_switches_premoderation(
    browser: Any, server: str, artifacts: Path
) -> None:
    clear_queue(server)
    register_article(server, "budget", "The city budget is balanced at last")
    seed(server, [("b1", "Good news, the budget finally adds up.")], thread="budget", article_id="budget")
    seed(
        server,
        [("b2", "I disagree, the numbers are fudged."), ("b3", "You are an idiot, shut up you moron.")],
        thread="budget",
        article_id="budget",
        parent_id="b1",
    )
    page = sign_in(browser, server, "mk1")
    page.goto(f"{server}/moderate#thread=budget")
    page.wait_for_selector("#thread-comments li.item[data-id='b1']")
    assert "The city budget is balanced at last" in page.locator("#thread-articles").inner_text()
    assert page.locator("#thread-comments li.item[data-id='b1'] li.item[data-id='b3']").count() == 1  # under parent
    assert page.locator("#stance-chart svg rect").count() >= 4
    assert "null" not in page.locator("#thread-comments").inner_text()
    assert "comments" in page.locator("#fairness").inner_text()
    assert "unsure (counted under no label)" in page.locator("#fairness").inner_text()
    # every stance label says how sure it is, and an unsure one says so before its label
    reply = page.locator("#thread-comments li.item[data-id='b2'] p.stance").first.inner_text()
    assert re.search(r"toward its parent: (unsure, leans )?(agree|disagree|neutral) \(\d+ % sure\)", reply), reply
    page.screenshot(path=str(artifacts / "thread.png"), full_page=True)

    worst = page.locator("#thread-comments li.item:has(> .head > .badge.worst)")
    assert worst.get_attribute("data-id") == "b3"
    worst.locator(":scope > .actions button[data-act='reject']").click()
    wait_for(lambda: audit_entries(server, "b3") != [], UNDO_S + 10, "the rejection")
    assert [e["action"] for e in audit_entries(server, "b3")] == ["reject"]

    page.get_by_role("switch").check()
    wait_for(
        lambda: httpx.get(f"{server}/v1/premoderation/budget", headers=auth("mk1")).json()["premoderated"],
        10,
        "pre-moderation on",
    )
    page.context.close()


def test_the_audit_view_lists_decisions_with_who_and_the_scores(browser: Any, server: str) -> None:
    clear_queue(server)
    seed(server, [("aud1", RUDE[1] + " (audit)")], thread="audit")
    httpx.post(
        f"{server}/v1/comments/aud1/decision",
        json={"decision": "reject", "reason": "personal attack"},
        headers=auth("mk2"),
        timeout=10,
    )
    page = sign_in(browser, server, "mk1")
    page.goto(f"{server}/moderate#audit")
    page.get_by_label("Who").fill("ben")
    page.get_by_role("button", name="Filter").click()
    row = page.locator("#audit-rows tr", has_text="(audit)").first  # the comment's words, not its id
    row.wait_for()
    text = row.inner_text()
    assert "reject" in text and "personal attack" in text and re.search(r"insult \d\.\d\d|toxicity \d\.\d\d", text)
    assert RUDE[1] in text and row.locator("td[title='aud1']").count() == 1
    page.context.close()


def test_an_admin_creates_an_account_and_its_person_signs_in_and_is_named_in_the_audit(
    browser: Any, server: str, artifacts: Path
) -> None:
    admin = sign_in(browser, server, "ak")
    admin.goto(f"{server}/moderate#accounts")
    admin.get_by_label("Name").fill("dana")
    admin.get_by_role("button", name="Create account").click()
    secret = admin.locator("#account-secret code")
    secret.wait_for()
    password = secret.inner_text()
    assert len(password) >= 20
    admin.locator("#account-rows tr[data-name='dana']").wait_for()
    admin.screenshot(path=str(artifacts / "accounts.png"), full_page=True)

    clear_queue(server)
    seed(server, [("acc1", RUDE[2] + " (account)")], thread="accounts")
    person = browser.new_context().new_page()
    person.goto(f"{server}/moderate")
    person.get_by_label("Site", exact=True).fill("news")
    person.get_by_label("Account").fill("dana")
    person.get_by_label("Password").fill("wrong password here")
    person.get_by_role("button", name="Sign in", exact=True).click()
    assert "do not match" in person.locator("#signin-error").inner_text()
    person.get_by_label("Password").fill(password)  # site and account are kept
    person.get_by_role("button", name="Sign in", exact=True).click()
    person.locator("#live:text-is('Live')").wait_for()
    assert "dana" in person.locator(".who").inner_text()
    assert person.locator("#nav-accounts").count() == 0  # a moderator does not manage accounts
    person.locator("#items li.item[data-id='acc1']").wait_for()
    person.locator("#items li.item[data-id='acc1']").click()
    person.keyboard.press("r")
    wait_for(lambda: [e["actor"] for e in audit_entries_by(server, "acc1")] == ["dana"], 30, "dana's rejection")

    admin.once("dialog", lambda dialog: dialog.accept())  # "Remove the account dana?"
    admin.locator("#account-rows tr[data-name='dana'] button", has_text="Remove").click()
    wait_for(lambda: admin.locator("#account-rows tr[data-name='dana']").count() == 0, 10, "the account removed")
    person.reload()
    person.get_by_label("Account").wait_for()  # signed out: the sign-in form again
    admin.context.close()
    person.context.close()


def audit_entries_by(url: str, comment_id: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/v1/audit", params={"comment_id": comment_id}, headers=auth("mk1"), timeout=10)
    return [e for e in r.json()["items"] if e["action"] == "reject"]


def test_the_page_works_at_200_percent_zoom_and_by_keyboard_alone(browser: Any, server: str) -> None:
    clear_queue(server)
    seed(server, [("z1", RUDE[2] + " (zoom)")], thread="zoom")
    context = browser.new_context(viewport={"width": 640, "height": 450}, device_scale_factor=2)
    page = context.new_page()
    page.goto(f"{server}/moderate")
    page.get_by_text("Sign in with a key instead").focus()
    page.keyboard.press("Enter")  # opens the key form
    page.keyboard.press("Tab")  # into the key field
    page.keyboard.type("mk1")
    page.keyboard.press("Enter")
    page.wait_for_selector("li.item[data-id='z1']")
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 640 + 1, f"the page scrolls sideways at 200 %: {width}px"
    page.keyboard.press("e")
    wait_for(
        lambda: httpx.get(f"{server}/v1/comments/z1", headers=auth("mk1")).json()["queue"] == "escalated",
        UNDO_S + 10,
        "the escalation",
    )
    context.close()


def test_a_decided_comment_is_found_and_reversed_with_a_reason(browser: Any, server: str, artifacts: Path) -> None:
    clear_queue(server)
    seed(server, [("d1", RUDE[2])], thread="decided")
    approve = {"decision": "approve", "reason": "fair criticism"}
    assert (
        httpx.post(f"{server}/v1/comments/d1/decision", json=approve, headers=auth("mk1"), timeout=10).status_code
        == 200
    )
    page = sign_in(browser, server, "mk1")
    page.goto(f"{server}/moderate#decided")
    page.locator("#decided-which").select_option("approved")
    row = page.locator("#decided-rows tr[data-id='d1']")
    row.wait_for()
    assert "fair criticism" in row.inner_text() and "ana" in row.inner_text()
    row.get_by_role("button", name="Reject instead").click()
    assert "needs a reason" in page.locator("#notice").inner_text()  # nothing is sent without one
    row.get_by_label("reason to reverse d1").fill("a personal attack after all")
    row.get_by_role("button", name="Reject instead").click()
    row.wait_for(state="detached")
    state = httpx.get(f"{server}/v1/comments/d1", headers=auth("pk"), timeout=10).json()
    assert state["decision"] == "reject"
    page.locator("#decided-which").select_option("rejected")
    page.locator("#decided-rows tr[data-id='d1']").wait_for()
    assert "a personal attack after all" in page.locator("#decided-rows tr[data-id='d1']").inner_text()
    page.screenshot(path=str(artifacts / "decided.png"), full_page=True)


def test_a_slow_answer_for_the_filter_before_does_not_replace_the_list_shown(browser: Any, server: str) -> None:
    """The decided view asks for rejected comments when it opens; a moderator who switches to approved at once must
    not see the rejected list arrive late and replace the approved one under the approved heading."""
    clear_queue(server)
    seed(server, [("race1", RUDE[3])], thread="race")
    approve = {"decision": "approve", "reason": "on the argument"}
    assert httpx.post(f"{server}/v1/comments/race1/decision", json=approve, headers=auth("mk1"), timeout=10).is_success
    page = sign_in(browser, server, "mk1")
    held: list[Any] = []
    page.route("**/v1/decided/rejected*", lambda route: held.append(route))  # its answer is held back
    page.goto(f"{server}/moderate#decided")
    for _ in range(200):  # the handler runs while Playwright waits, not while Python sleeps
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the decided view did not ask for its first list"
    page.locator("#decided-which").select_option("approved")
    page.locator("#decided-rows tr[data-id='race1']").wait_for()
    with page.expect_response("**/v1/decided/rejected*"):
        held[0].continue_()
    page.wait_for_timeout(300)  # the late answer has been handled
    assert page.locator("#decided-rows tr[data-id='race1']").is_visible()
    page.unroute("**/v1/decided/rejected*")


def test_p_opens_the_authors_drawer_and_a_suspension_holds_their_next_comment(
    browser: Any, server: str, artifacts: Path
) -> None:
    clear_queue(server)
    seed(server, [("p1", RUDE[0]), ("p2", RUDE[1])], thread="people", author_id="troll", author_name="Troll Account")
    page = sign_in(browser, server, "mk1")
    page.locator("#items li.item[data-id='p1']").wait_for()
    assert "Troll Account [troll]" in page.locator("#items li.item[data-id='p1']").inner_text()
    page.locator("#items li.item[data-id='p1']").click()
    page.keyboard.press("p")
    drawer = page.locator("#author")
    drawer.wait_for()
    assert page.locator("#author-title").inner_text() == "Troll Account [troll]"
    assert page.locator("#author-comments li").count() == 2 and "No standing" in drawer.inner_text()
    drawer.get_by_label("Standing").select_option("suspended")
    drawer.get_by_label("Reason").fill("repeated personal attacks")
    drawer.get_by_label("For").fill("24")
    drawer.get_by_role("button", name="Set standing").click()
    page.locator("#author-standing:has-text('suspended by ana: repeated personal attacks')").wait_for()
    page.screenshot(path=str(artifacts / "author.png"), full_page=True)
    page.keyboard.press("Escape")
    drawer.wait_for(state="hidden")
    seed(server, [("p3", "Thanks, that was a fair summary of the meeting.")], thread="people", author_id="troll")
    state = httpx.get(f"{server}/v1/comments/p3", headers=auth("pk"), timeout=10).json()
    assert state["decision"] == "reject" and state["result"]["reasons"][-1] == "author_suspended"


def test_keys_reach_the_thread_the_reason_and_every_queue_from_any_view(browser: Any, server: str) -> None:
    clear_queue(server)
    seed(server, [("keys0", "Thanks for covering the meeting."), ("keys1", RUDE[0] + " Keys.")], thread="keys")
    held = httpx.get(f"{server}/v1/comments/keys1", headers=auth("pk"), timeout=10).json()
    assert held["queue"] == "review", held
    page = sign_in(browser, server, "mk1")
    page.locator("#items li.item[data-id='keys1']").click()
    page.keyboard.press("n")  # the reason, by keyboard: choose with the arrows, then back on the comment
    assert page.evaluate("document.activeElement.id") == "reason"
    page.keyboard.press("ArrowDown")
    page.locator("#items li.item[data-id='keys1']:focus").wait_for()
    assert page.locator("#reason").input_value() != ""
    page.keyboard.press("t")  # the thread opens with the focus on the comment it was opened from
    page.locator("#thread-comments li[data-id='keys1']:focus").wait_for()
    page.keyboard.press("2")  # a queue key works from the thread view too
    page.locator("#queue-view").wait_for()
    page.locator(".tab[data-queue='escalated'][aria-pressed='true']").wait_for()
    assert page.locator("#thread-view").is_hidden()


def test_an_admin_previews_and_saves_a_banned_word_and_it_is_in_force(
    browser: Any, server: str, artifacts: Path
) -> None:
    seed(server, [("pol1", "Join my crypto giveaway, link in my profile (policy)")], thread="policy")
    admin = sign_in(browser, server, "ak")
    admin.goto(f"{server}/moderate#policy")
    admin.locator("#policy-version:has-text('version 0')").wait_for()
    # the built-in thresholds as loaded (three places: 0.751) are a form the browser lets through
    assert admin.locator("#policy-form").evaluate("form => form.checkValidity()")
    admin.get_by_label("Banned words: reject").fill("giveaway")
    admin.get_by_role("button", name="Preview on recent comments").click()
    moves = admin.locator("#policy-moves")
    moves.locator("h3:has-text('allow → reject')").wait_for()
    assert "giveaway" in moves.inner_text() and "banned_word: giveaway" in moves.inner_text()
    admin.screenshot(path=str(artifacts / "policy.png"), full_page=True)
    admin.get_by_role("button", name="Save a new version").click()
    assert "Say why" in admin.locator("#notice").inner_text()  # a note is required
    admin.get_by_label("Why").fill("crypto spam")
    admin.get_by_role("button", name="Save a new version").click()
    admin.locator("#policy-moves:has-text('Saved as version 1')").wait_for()
    assert "version 1, saved by chief" in admin.locator("#policy-version").inner_text()

    def analyze(text: str) -> dict[str, Any]:
        body = {"comments": [{"id": "x", "text": text}]}
        return httpx.post(f"{server}/v1/analyze", json=body, headers=auth("pk"), timeout=30).json()["results"][0]  # type: ignore[no-any-return]

    assert analyze("Another g i v e a w a y for you")["decision"] == "reject"
    policy = httpx.get(f"{server}/v1/policy", headers=auth("ak"), timeout=10).json()  # leave the lists empty again
    restore = {"policy": {**policy["policy"], "banned_words": []}, "note": "test over", "expected_version": 1}
    assert httpx.put(f"{server}/v1/policy", json=restore, headers=auth("ak"), timeout=10).status_code == 200


def test_slash_searches_stored_comments_by_their_words_and_author(browser: Any, server: str, artifacts: Path) -> None:
    seed(server, [("srch1", "The zeppelin parade was loud and silly (search)")], thread="search", author_id="zed")
    seed(server, [("srch2", "A quiet zeppelin overhead this morning (search)")], thread="search", author_id="amy")
    wait_for(
        lambda: (
            httpx.get(f"{server}/v1/search", params={"q": "zeppelin"}, headers=auth("mk1"), timeout=10).json()[
                "pending"
            ]
            == 0
        ),
        30,
        "indexed",
    )
    page = sign_in(browser, server, "mk1")
    page.keyboard.press("/")
    page.keyboard.type("zeppelins")  # stemmed: finds "zeppelin"
    page.keyboard.press("Enter")
    rows = page.locator("#search-rows tr")
    rows.nth(1).wait_for()
    assert [rows.nth(i).get_attribute("data-id") for i in range(rows.count())] == ["srch2", "srch1"]
    assert "2 comments found" in page.locator("#search-summary").inner_text()
    page.screenshot(path=str(artifacts / "search.png"), full_page=True)
    page.get_by_role("textbox", name="Author").fill("zed")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#search-summary:has-text('1 comment found')").wait_for()
    assert page.locator("#search-rows tr").first.get_attribute("data-id") == "srch1"
    page.keyboard.press("1")  # back to the review queue, as from any view
    page.locator("#queue-view").wait_for()
    page.context.close()


def test_an_admin_promotes_a_learned_version_shadows_one_and_rolls_back(
    browser: Any, server: str, server_folder: Path, artifacts: Path
) -> None:
    from tests.utils.versions import write_version

    better = write_version(server_folder / "models", "news-better", tenant="news", status="passed", shift=1.5)
    write_version(server_folder / "models", "news-worse", tenant="news", status="rejected", shift=-1.5)
    admin = sign_in(browser, server, "ak")
    admin.on("dialog", lambda dialog: dialog.accept())  # "Serve … to this site?"
    admin.goto(f"{server}/moderate#models")
    admin.locator("#models-serving:has-text('Serving the shipped model')").wait_for()
    worse = admin.locator("tr[data-version='news-worse']")
    assert "rejected: site AUC gain inside the noise" in worse.inner_text()
    assert worse.get_by_role("button", name="Promote").count() == 0  # a rejected version has no way to serve
    row = admin.locator("tr[data-version='news-better']")
    assert "0.62 → 0.68" in row.inner_text()
    row.get_by_role("button", name="Shadow 10 %").click()
    admin.locator("#models-shadow:has-text('news-better scores 10 %')").wait_for()
    admin.get_by_role("button", name="Stop the shadow").click()
    admin.locator("#models-shadow p").wait_for(state="detached")
    row.get_by_role("button", name="Promote").click()
    admin.locator("#models-serving:has-text('Serving news-better')").wait_for()
    admin.screenshot(path=str(artifacts / "models.png"), full_page=True)

    def answered_by() -> str:
        body = {"comments": [{"id": "m", "text": "Which model reads this? (models)"}]}
        return str(httpx.post(f"{server}/v1/analyze", json=body, headers=auth("pk"), timeout=30).json()["model"])

    wait_for(lambda: answered_by().startswith(better), 10, "the promoted version answers")
    admin.get_by_role("button", name="Roll back to the shipped model").click()
    admin.locator("#models-serving:has-text('Serving the shipped model')").wait_for()
    wait_for(lambda: not answered_by().startswith(better), 10, "the shipped model answers again")
    admin.goto(f"{server}/moderate#audit")
    admin.locator("#audit-rows tr:has-text('model rolled back')").wait_for()
    assert "news-better -> shipped model" in admin.locator("#audit-rows").inner_text()

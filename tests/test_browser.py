"""A real browser (Debian's chromium, driven by Playwright) through a whole practice session."""
import os
import shutil
from pathlib import Path

import pytest
from conftest import free_port

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
OUT = Path(__file__).resolve().parent.parent / "test-output" / "browser"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); .ci/run installs it")
    from rjcoach.store import Store
    from rjcoach.webapp import CSS, build_app

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'app.sqlite3'}")
    demo = build_app(store=store)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CSS)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def page(served):
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(served)
        yield pg
        context.close()
        browser.close()


def visible(page, label):
    return page.get_by_label(label, exact=True).filter(visible=True).first


def send(page, text, turns_before):
    visible(page, "Your message").fill(text)
    page.get_by_role("button", name="Send").click()
    bubbles = page.locator(".message-row, [data-testid='bot'], [data-testid='user']")
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"bot\"]').length > n", arg=turns_before)


def test_practice_session_in_a_real_browser(page):
    # First run: create the admin account, which signs in.
    visible(page, "Username").fill("admin.browser")
    visible(page, "Password (at least 10 characters)").fill("a long enough pw")
    visible(page, "Password again").fill("a long enough pw")
    page.get_by_role("button", name="Create admin account and sign in").click()
    page.get_by_text("Signed in as").wait_for()
    page.screenshot(path=str(OUT / "01-signed-in.png"))

    visible(page, "Scenario").click()
    page.get_by_role("option", name="Graffiti on a family bakery", exact=True).click()
    page.get_by_text("Goals").first.wait_for()
    page.get_by_role("button", name="Start session").click()
    page.get_by_text("You are meeting Rana Haddad").wait_for()

    lines = [
        "Hi Rana, thanks for seeing me today.",
        "Can you tell me what happened that morning?",
        "Why did you leave the shutters like that? You should have locked up properly.",
        "That must have been a horrible shock, finding it like that.",
        "<b>What</b> has been the hardest part since? <script>window.pwned=1</script>",
    ]
    for i, line in enumerate(lines):
        send(page, line, i + 1)
        if i == 2:
            page.locator("mark.rj-accusatory").first.wait_for()
            page.get_by_text("Tip:").wait_for()
            page.screenshot(path=str(OUT / "02-flag-and-tip.png"), full_page=True)
    # Markup typed by the trainee is shown as text and never runs.
    assert page.evaluate("window.pwned") is None
    assert page.locator("b", has_text="What").count() == 0
    page.screenshot(path=str(OUT / "03-five-turns.png"))

    page.get_by_role("button", name="End session").click()
    page.get_by_text("Moments to practise").wait_for()
    with page.expect_download() as dl:
        page.locator("a[download]").filter(visible=True).first.click()
    target = OUT / "debrief.html"
    dl.value.save_as(str(target))
    html = target.read_text()
    assert "Debrief" in html and "Rana Haddad" in html and "<script>window.pwned" not in html
    page.screenshot(path=str(OUT / "04-debrief.png"), full_page=True)


def test_review_page_in_a_real_browser(page):
    """The admin from the practice test reviews that session: flags shown, one rejected, a comment left."""
    page.get_by_role("tab", name="Review").click()
    page.get_by_role("button", name="List sessions").click()
    page.get_by_text("1 session(s)").wait_for()
    page.get_by_role("button", name="Open session", exact=True).click()
    page.locator(".rj-turn mark.rj-accusatory").first.wait_for()
    page.get_by_text("Tip shown:").first.wait_for()

    visible(page, "Message").click()
    page.get_by_role("option", name="#3: Why did you leave the shutters").click()
    visible(page, "Label").click()
    page.get_by_role("option", name="\"why\" question (why_question)").click()
    page.get_by_label("reject", exact=True).check()
    page.get_by_role("button", name="Apply").first.click()
    page.locator(".rj-chip.rj-rejected").first.wait_for()

    visible(page, "Comment (the trainee sees it)").fill("Ask what happened instead of why.")
    page.get_by_role("button", name="Add comment").click()
    page.locator(".rj-comment", has_text="Ask what happened instead of why.").wait_for()
    page.screenshot(path=str(OUT / "05-review.png"), full_page=True)


def test_cookies_are_http_only_and_same_site(page):
    """The sign-in lives in server-side state bound to the page's connection; any cookie set is
    HttpOnly and SameSite, so a script or another site cannot use it."""
    cookies = page.context.cookies()
    for c in cookies:
        assert c["httpOnly"] and c["sameSite"] in ("Lax", "Strict"), c["name"]
    assert page.evaluate("document.cookie") == ""


def test_markup_in_a_persona_file_stays_inert_in_the_browser(page, tmp_path):
    """A persona author (or an attacker with write access to personas/) puts markup in a name and replies."""
    from rjcoach.auth import add_user
    from rjcoach.persona_loader import PERSONA_DIR, load_folder
    from rjcoach.store import Store
    from rjcoach.webapp import CSS, build_app

    folder = tmp_path / "personas"
    shutil.copytree(PERSONA_DIR, folder)
    path = folder / "rana_haddad.yml"
    text = path.read_text()
    text = text.replace("name: Rana Haddad", "name: Rana <img src=x onerror=window.pwnedName=1> Haddad")
    for reply in ("Morning. I've got twenty minutes before the lunch rush.", "Hello. Shall we just get on with it?",
                  "Morning. Do you want a coffee? It's on the house, don't tell anyone.", "Busy, thank God. Saturdays are mad."):
        text = text.replace(f"- {reply}", f"- \"<script>window.pwnedReply=1</script><b>{reply}</b> [link](http://example.invalid)\"")
    path.write_text(text)
    library = load_folder(folder)
    assert "rana_haddad" in library.personas and "<img" in library.personas["rana_haddad"].name

    store = Store(f"sqlite:///{tmp_path / 'app.sqlite3'}")
    add_user(store, "author.test", "a long enough pw", "trainee")
    demo = build_app(store=store, library=library)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, css=CSS)
    try:
        page = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})  # one Playwright per process
        page.set_default_timeout(60_000)
        page.goto(f"http://127.0.0.1:{port}/")
        visible(page, "Username").fill("author.test")
        visible(page, "Password").fill("a long enough pw")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Signed in as").wait_for()
        visible(page, "Scenario").click()
        page.get_by_role("option", name="Graffiti on a family bakery", exact=True).click()
        visible(page, "Who you will speak with").click()
        page.get_by_role("option").filter(has_text="Rana").first.click()
        page.get_by_role("button", name="Start session").click()
        page.get_by_text("You are meeting Rana").wait_for()
        send(page, "Hi, thanks for seeing me.", 1)
        page.get_by_text("window.pwnedReply").first.wait_for()  # shown as text
        page.screenshot(path=str(OUT / "06-hostile-persona.png"))
        assert page.evaluate("window.pwnedName") is None and page.evaluate("window.pwnedReply") is None
        assert page.locator("img[src='x']").count() == 0
        assert page.locator("a[href='http://example.invalid']").count() == 0
        page.close()
    finally:
        demo.close()


def test_facilitating_a_conference_in_a_real_browser(page):
    """The signed-in admin facilitates the bakery conference: the room panel, speaking to someone by
    name, the next stage with its tip, and a debrief with facilitation figures."""
    page.get_by_role("tab", name="Practice").click()
    visible(page, "Scenario").click()
    page.get_by_role("option", name="conference", exact=False).first.click()
    page.get_by_text("You facilitate.").wait_for()
    page.get_by_role("button", name="Start session").click()
    page.get_by_text("You are facilitating").wait_for()
    page.get_by_text("In the room", exact=True).wait_for()
    before = page.locator("[data-testid='bot']").count()
    lines = ["Welcome, everyone. The ground rules: one person speaks at a time, and anyone can ask for a break.",
             "Jayden, can you tell us what happened that night?",
             "So you were with the older lads, and it went further than you meant."]
    for line in lines:
        visible(page, "Your message").fill(line)
        page.get_by_role("button", name="Send").click()
        page.wait_for_function("n => document.querySelectorAll('[data-testid=\"bot\"]').length > n", arg=before)
        page.get_by_role("button", name="Send").wait_for()
        before = page.locator("[data-testid='bot']").count()
    page.get_by_text("Jayden Price:").first.wait_for()
    page.get_by_role("button", name="Next stage").click()
    page.locator(".rj-now", has_text="The responsible party's account").wait_for()
    page.screenshot(path=str(OUT / "07-conference.png"), full_page=True)
    page.get_by_role("button", name="End session").click()
    page.get_by_text("Speaking shares").first.wait_for()
    page.screenshot(path=str(OUT / "08-conference-debrief.png"), full_page=True)

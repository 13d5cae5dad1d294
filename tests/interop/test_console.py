"""The HTML console (/console/) in a real browser: Debian's headless Chromium driven by Selenium
through chromedriver, with JavaScript switched off so that every step also proves the console
works without it. An administrator logs in, adds a user with the users page's form, mail for
that user arrives over SMTP (smtplib), and the trace page finds it by the recipient address with
its `received` and `delivered` events. Every page is saved as a PNG (and its HTML) under
$SWALLOW_ARTIFACTS/console/ or, without that variable, pytest's tmp_path; the path is printed.

Needs the Debian packages chromium and chromium-driver and the Python package selenium (Debian's
python3-selenium for the system Python, or `pip install selenium`); the test is skipped only
when one of them is missing. Selenium never downloads a driver here: the Service is given
/usr/bin/chromedriver."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import ADMIN, ADMIN_PASSWORD, ALICE, add_admin, register_log, unregister_log
from outbound_helpers import closed_port, message, send_plain

NO_RETRY = {"min_backoff": 3600, "max_backoff": 7200}
DAVE = "dave@example.test"
DAVE_PASSWORD = "dave console secret 10"
REMOTE = "r1@unreach.test"
# Chromium as root in a container: no sandbox (it refuses to start as root with one), the new
# headless mode, /tmp instead of a possibly small /dev/shm, no GPU.
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--lang=en-US")


def find_browser() -> tuple[str | None, str | None]:
    browser = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                                "/usr/bin/chromium") if p and os.access(p, os.X_OK)), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver")
                   if p and os.access(p, os.X_OK)), None)
    return browser, driver


@pytest.fixture
def artifacts(request, tmp_path) -> Path:
    """Where this test's screenshots go: $SWALLOW_ARTIFACTS/console/TEST, else tmp_path."""
    base = os.environ.get("SWALLOW_ARTIFACTS")
    path = (Path(base) / "console" / request.node.name) if base else (tmp_path / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {path}")
    return path


@pytest.fixture
def browser(artifacts):
    """A headless Chromium (JavaScript off) driven through /usr/bin/chromedriver."""
    webdriver = pytest.importorskip("selenium.webdriver",
                                    reason="selenium is not installed (python3-selenium or pip)")
    from selenium.webdriver.chrome.service import Service
    binary, driver_path = find_browser()
    if not binary or not driver_path:
        pytest.skip(f"chromium ({binary}) or chromedriver ({driver_path}) is not installed "
                    "(Debian packages chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    # Page scripts off: the console must work as plain HTML forms.
    opts.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    log = artifacts / "chromedriver.log"
    params = inspect.signature(Service.__init__).parameters
    service = (Service(executable_path=driver_path, log_output=str(log)) if "log_output" in params
               else Service(executable_path=driver_path, log_path=str(log)))
    register_log(f"chromedriver ({log})", log)
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        unregister_log(log)


def test_console_login_add_user_trace_and_every_page(swallow_factory, browser, artifacts):
    """In Chromium without JavaScript: the login form sets an HttpOnly, SameSite=Strict
    `swallow_session` cookie and lands on the dashboard (accepted or received / delivered /
    deferred / bounced, queue, connections); every POST form of every page after the login
    carries its hidden csrf field; the
    add-user form creates a user who then receives mail over SMTP; the users, domains and
    aliases pages list what exists; the queue page and a message's page show a message stuck
    for an unreachable domain; the trace form finds the new user's mail by address with
    `received` and `delivered` rows. A screenshot of each page is saved."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    srv = swallow_factory(listeners=("admin",), settings={
        "transport": {"unreach.test": f"127.0.0.1:{closed_port()}"}, "queue": NO_RETRY})
    add_admin(srv)
    stuck = send_plain(srv, ALICE, REMOTE, message("console-stuck-1", ALICE, REMOTE))
    base = f"http://127.0.0.1:{srv.ports['admin']}"
    d = browser
    shots: list[Path] = []

    def shot(name: str):
        png = artifacts / f"{len(shots) + 1:02d}-{name}.png"
        assert d.save_screenshot(str(png)), f"screenshot {png} failed"
        (artifacts / f"{len(shots) + 1:02d}-{name}.html").write_text(d.page_source)
        shots.append(png)

    def path() -> str:
        return urllib.parse.urlsplit(d.current_url).path

    def body() -> str:
        return d.find_element(By.TAG_NAME, "body").text

    def wait(cond, what: str, timeout: float = 15):
        WebDriverWait(d, timeout, poll_frequency=0.2).until(lambda _d: cond(), message=what)

    def open_page(p: str):
        d.get(base + p)
        assert path() == p.split("?")[0], f"{p} went to {d.current_url} (logged out?)"
        check_csrf(p)

    def check_csrf(p: str):
        for form in d.find_elements(By.TAG_NAME, "form"):
            if (form.get_attribute("method") or "get").lower() != "post":
                continue   # a GET form (the trace search) changes nothing
            hidden = form.find_elements(By.CSS_SELECTOR, 'input[type="hidden"][name="csrf"]')
            assert hidden and hidden[0].get_attribute("value"), \
                f"a POST form without its csrf field on {p}: {form.get_attribute('outerHTML')[:500]}"

    def submit(form):
        buttons = form.find_elements(By.CSS_SELECTOR, "button[type=submit], input[type=submit]")
        assert buttons, f"no submit button in {form.get_attribute('outerHTML')[:500]}"
        buttons[0].click()

    # ---- log in (the login form is the one form without a csrf field: there is no session yet)
    d.get(base + "/console/login")
    shot("login")
    d.find_element(By.NAME, "name").send_keys(ADMIN)
    d.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(lambda: path() == "/console/", f"the dashboard after login (at {d.current_url})")
    cookie = d.get_cookie("swallow_session")
    assert cookie and cookie["value"], d.get_cookies()
    assert cookie.get("httpOnly") is True, cookie
    assert (cookie.get("sameSite") or "").lower() == "strict", cookie

    # ---- dashboard
    check_csrf("/console/")
    text = body().lower()
    assert "accepted" in text or "received" in text, f"no accepted/received count on the dashboard:\n{body()}"
    for word in ("delivered", "deferred", "bounced", "queue", "connections"):
        assert word in text, f"{word!r} not on the dashboard:\n{body()}"
    shot("dashboard")

    # ---- users: add one with the form
    open_page("/console/users")
    assert ALICE in body(), body()
    form = d.find_element(By.CSS_SELECTOR, "form#add-user")
    form.find_element(By.NAME, "address").send_keys(DAVE)
    form.find_element(By.NAME, "password").send_keys(DAVE_PASSWORD)
    quota = form.find_element(By.NAME, "quota")
    if quota.get_attribute("required") is not None:
        quota.send_keys("1073741824" if quota.get_attribute("type") == "number" else "1G")
    submit(form)
    wait(lambda: path().startswith("/console/users") and DAVE in body(),
         f"{DAVE} in the users page after the form (at {d.current_url})")
    assert "swallow_session" in {c["name"] for c in d.get_cookies()}
    shot("users")
    assert DAVE in srv.cli("user", "list").stdout

    # ---- mail for the new user
    qid = send_plain(srv, "someone@outside.test", DAVE,
               message("console-mail-1", "someone@outside.test", DAVE))
    srv.wait_inbox(DAVE)

    # ---- domains, aliases
    open_page("/console/domains")
    assert "example.test" in body(), body()
    shot("domains")
    open_page("/console/aliases")
    assert "sales@example.test" in body() and "team@example.test" in body(), body()
    shot("aliases")

    # ---- queue and one message
    open_page("/console/queue")
    assert stuck in body(), f"{stuck} not on the queue page:\n{body()}"
    shot("queue")
    open_page(f"/console/queue/{stuck}")
    assert stuck in body() and REMOTE in body(), body()
    shot("queue-message")

    # ---- trace by the recipient address, through the form
    open_page("/console/trace")
    form = d.find_element(By.CSS_SELECTOR, "form#trace")
    form.find_element(By.NAME, "q").send_keys(DAVE)
    submit(form)
    # The page before the search has the table too (the most recent messages): wait for the
    # search's own page, and read rows again if the page changes under us.
    wait(lambda: "q=" in d.current_url and d.find_elements(By.CSS_SELECTOR, "table#trace-events"),
         f"table#trace-events after searching {DAVE} (at {d.current_url})")

    def rows() -> list[str]:
        from selenium.common.exceptions import StaleElementReferenceException
        try:
            return [r.text.lower() for r in d.find_elements(By.CSS_SELECTOR, "table#trace-events tr")]
        except StaleElementReferenceException:
            return []

    deadline = time.monotonic() + 20
    while not (any("received" in r for r in rows()) and any("delivered" in r for r in rows())):
        assert time.monotonic() < deadline, f"no received and delivered rows for {DAVE}: {rows()}"
        time.sleep(0.5)
        d.get(base + "/console/trace?" + urllib.parse.urlencode({"q": DAVE}))
    assert qid in body(), f"queue ID {qid} not on the trace page:\n{body()}"
    shot("trace")

    assert all(p.stat().st_size > 1000 for p in shots), [(p.name, p.stat().st_size) for p in shots]
    print(f"saved {len(shots)} screenshots in {artifacts}: {[p.name for p in shots]}")


def test_console_wrong_password_no_session(swallow_factory, browser, artifacts):
    """In Chromium: a wrong password keeps the browser off the console (no session cookie, the
    dashboard redirects to the login page), and the console's pages are not served without a
    session."""
    from selenium.webdriver.common.by import By

    srv = swallow_factory(listeners=("admin",))
    add_admin(srv)
    base = f"http://127.0.0.1:{srv.ports['admin']}"
    d = browser
    d.get(base + "/console/login")
    d.find_element(By.NAME, "name").send_keys(ADMIN)
    d.find_element(By.NAME, "password").send_keys("not the password")
    d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    time.sleep(0.5)
    assert d.get_cookie("swallow_session") is None or not d.get_cookie("swallow_session")["value"]
    d.save_screenshot(str(artifacts / "wrong-password.png"))
    for p in ("/console/", "/console/users", "/console/queue"):
        d.get(base + p)
        here = urllib.parse.urlsplit(d.current_url).path
        assert here == "/console/login" or re.search(r"(?i)log ?in", d.title + d.page_source[:2000]), \
            f"{p} served without a session (at {d.current_url})"
        assert ALICE not in d.page_source, f"{p} shows the users without a session"

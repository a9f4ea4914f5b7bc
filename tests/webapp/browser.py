"""A real browser for web tests and benchmarks: Debian's chromium driven by Playwright.

- :func:`launch_chromium`: chromium at :data:`CHROMIUM` with the flags a container needs
  (the ``browser`` fixture in ``tests/webapp/conftest.py`` and ``bench_web`` use it);
- :func:`watch`: a list that fills with the page's console errors, script errors and
  Content-Security-Policy violations, for a test to assert empty;
- :func:`log_in` fills in the login form; :func:`logged_in_page` opens a watched page
  and logs in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM", "DESKTOP", "launch_chromium", "log_in", "logged_in_page", "watch"]

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP = {"width": 1400, "height": 1000}
#: Reports every Content-Security-Policy violation on the page as a console error.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI);
});
"""


def launch_chromium(playwright: Any) -> Any:
    """A headless chromium of Playwright's ``playwright`` (close it when done)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)


def watch(page: Any, expected: str | None = None) -> list[str]:
    """What goes wrong on ``page`` from now on: console errors (except those containing
    ``expected``), uncaught script errors and CSP violations, as they happen."""
    problems: list[str] = []

    def console(message: Any) -> None:
        if message.type == "error" and (expected is None or expected not in message.text):
            problems.append(message.text)

    page.add_init_script(CSP_WATCH)
    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def log_in(page: Any, base: str, name: str, password: str) -> None:
    """Log in through the form at ``base``; returns on the run list."""
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/runs")


def logged_in_page(
    browser: Any, base: str, name: str, password: str, viewport: dict[str, int] | None = None
) -> tuple[Any, list[str]]:
    """A new watched page (see :func:`watch`) logged in as ``name``, and its problems."""
    page = browser.new_page(viewport=viewport or DESKTOP)
    problems = watch(page)
    log_in(page, base, name, password)
    return page, problems

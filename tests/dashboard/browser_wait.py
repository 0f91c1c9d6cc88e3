"""The browser tests' one wait: poll a condition until it holds, reading again what the page re-rendered meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable

from selenium.common.exceptions import WebDriverException


def wait(predicate: Callable[[], object], timeout: float = 20, message: str = "condition") -> None:
    """Poll ``predicate`` every 0.2 s; an element Dash re-rendered between finding and reading it is read again."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        # A stale element or one not there yet, a script reading a half-drawn page; a list of rows or cells still empty
        except (WebDriverException, LookupError, TypeError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {message}")

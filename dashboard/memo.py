"""A small LRU of values computed from one object, kept alive by its entry and checked by identity.

For values derived from objects that are read-only but not hashable (a forms frame, a Selection, a mission's
geometry or names dict): an id reused by a new object is never served the old object's value. A value holding
words (labels, hover texts) is made per language: ``IdentityLru(size, by_language=True)``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class IdentityLru:
    """Values of ``compute()`` per (owner, key), at most ``size`` of them, the least recently used going first."""

    def __init__(self, size: int, *, by_language: bool = False) -> None:
        self.size = size
        self.by_language = by_language  # the current language is part of the key
        self.entries: OrderedDict[Any, tuple[Any, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, owner: Any, key: Any, compute: Callable[[], Any]) -> Any:
        if self.by_language:
            from geo.i18n import current

            key = (current(), key)
        full = (id(owner), key)
        with self.lock:
            hit = self.entries.get(full)
            if hit is not None and hit[0] is owner:
                self.entries.move_to_end(full)
                return hit[1]
        value = compute()
        with self.lock:
            self.entries[full] = (owner, value)
            self.entries.move_to_end(full)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()

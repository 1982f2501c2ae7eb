"""Latest-frame-wins hand-over between a subscriber callback and the inference worker.

A camera publishes faster than a CPU segments; a queue would then grow without bound and every answer would be
about an older frame. The slot holds one item: ``put`` replaces what the worker has not taken yet (counted as
dropped), ``take`` blocks until an item is there. So the backlog is at most one frame, and the answer is always
about the newest frame the worker could reach.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

Item = TypeVar("Item")


class LatestSlot(Generic[Item]):
    """A one-item mailbox with drop counting; thread-safe."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Item | None = None
        self._closed = False
        self.received = 0
        self.dropped = 0

    def put(self, item: Item) -> None:
        with self._condition:
            self.received += 1
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._condition.notify()

    def take(self, timeout: float | None = None) -> Item | None:
        """The newest item (removing it), or None after ``timeout`` seconds or once closed."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._item is not None or self._closed, timeout):
                return None
            item, self._item = self._item, None
            return item

    @property
    def pending(self) -> int:
        """Items waiting (0 or 1): the backlog, by construction never more than one."""
        with self._condition:
            return int(self._item is not None)

    def close(self) -> None:
        """Wake the worker for shutdown; later ``take`` calls return at once."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

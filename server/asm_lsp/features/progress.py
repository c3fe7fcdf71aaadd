"""Work-done progress (``$/progress``) that any thread may report to.

The model is prepared on the engine's worker thread (assembled from its packages, its
sha256 checked, loaded into llama.cpp: seconds on a first start); the notifications
belong to the event loop. :class:`WorkDone` queues what the worker says and sends it from
the loop in order: ``window/workDoneProgress/create``, then ``begin``, ``report``s (only
when the message or the whole percentage changes) and ``end``. Clients without the
``window.workDoneProgress`` capability get nothing here; the ``asmLsp/status`` text
(status bars) follows the same steps for every client.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from lsprotocol import types

log = logging.getLogger(__name__)

#: How long the client may take to answer window/workDoneProgress/create.
CREATE_TIMEOUT_S = 10


class WorkDone:
    """One progress from begin to end. ``report`` and ``end`` are thread-safe and never raise."""

    def __init__(self, ls: Any, title: str, on_status: Callable[[str], None] | None = None) -> None:
        self.ls = ls
        self.title = title
        self.token = str(uuid.uuid4())
        self.on_status = on_status  # gets a short text for status bars ("preparing (assembling 45%)")
        self._last: tuple[str, int | None] | None = None
        self._ended = False
        caps = ls.client_capabilities.window if ls.client_capabilities else None
        self.enabled = bool(caps and caps.work_done_progress)
        self._queue: asyncio.Queue | None = None
        loop = ls.loop
        if self.enabled and loop is not None:
            self._queue = asyncio.Queue()
            loop.call_soon_threadsafe(lambda: loop.create_task(self._send_all()))

    def report(self, message: str, fraction: float | None = None) -> None:
        """``message`` and how far along (0..1, None if unknown), from any thread."""
        percentage = None if fraction is None else max(0, min(100, int(fraction * 100)))
        if self._ended or (message, percentage) == self._last:
            return
        self._last = (message, percentage)
        if self.on_status is not None:
            step = message.split(" ", 1)[0]
            self.on_status(f"preparing ({step} {percentage}%)" if percentage is not None else f"preparing ({step})")
        self._put(("report", message, percentage))

    def end(self, message: str) -> None:
        if self._ended:
            return
        self._ended = True
        self._put(("end", message, None))

    def _put(self, item: tuple) -> None:
        queue, loop = self._queue, self.ls.loop
        if queue is None or loop is None:
            return
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the session is over
            pass

    async def _send_all(self) -> None:
        progress = self.ls.work_done_progress
        try:
            await asyncio.wait_for(progress.create_async(self.token), CREATE_TIMEOUT_S)
        except Exception as exc:  # the client refused or never answered: no progress, nothing else changes
            log.info("work-done progress %r not created: %s", self.title, exc)
            return
        assert self._queue is not None
        first = await self._queue.get()
        begin_message = first[1] if first[0] == "report" else None
        try:
            progress.begin(self.token, types.WorkDoneProgressBegin(
                title=self.title, message=begin_message, percentage=first[2] if first[0] == "report" else None,
                cancellable=False))
            item = first
            while item[0] != "end":
                item = await self._queue.get()
                if item[0] == "report":
                    progress.report(self.token, types.WorkDoneProgressReport(message=item[1], percentage=item[2]))
            progress.end(self.token, types.WorkDoneProgressEnd(message=item[1]))
        except Exception:  # the client may be gone
            log.debug("work-done progress %r stopped", self.title, exc_info=True)

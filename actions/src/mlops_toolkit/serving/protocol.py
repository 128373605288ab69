"""uvicorn's HTTP protocol with a deadline for request headers (slowloris clients get cut).

uvicorn has no header timeout: its keep-alive timer stops at the first byte of a request, so a
client that sends a header line every few seconds holds a connection (and its memory) for ever,
and a few hundred of them hold the server. Here a timer runs from the moment a connection waits
for a request (opened, or the previous response sent) until that request's headers are complete;
when it fires the client gets a 408 if it had started a request, and the connection is closed.
The body has its own deadline in the app (`Settings.body_timeout`), where a 408 can be answered.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s"
)
_BODY = b'{"error_code":"BAD_REQUEST","message":"the request headers did not arrive within %g s"}'


def guarded(header_timeout: float) -> type[HttpToolsProtocol]:
    """The httptools protocol class with a header deadline of `header_timeout` seconds."""

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _begun = False

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            self._begun = True
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._disarm()
            self._begun = False
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self._deadline is None:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._deadline = self.loop.call_later(header_timeout, self._cut)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _cut(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if self._begun:  # a request was started and never finished its headers
                body = _BODY % header_timeout
                self.transport.write(_TIMED_OUT % (len(body), body))
            self.transport.close()

    return HeaderDeadlineProtocol

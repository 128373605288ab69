"""A stop that drops no connection a client already made (SIGTERM during an update).

Closing a listening socket resets every connection still waiting in its accept queue, and
uvicorn's own stop also closes connections accepted a moment ago whose request it has not read
yet. On a port shared with SO_REUSEPORT the kernel keeps queueing connections here until the
close, so both happen under load. This server first accepts what waits, closes the listeners
right after (nothing in between to wait for), serves those connections, and lets the fresh
ones deliver their request before uvicorn's stop closes idle connections. What reaches the queue
between the last accept and the close is reset unless the host sets net.ipv4.tcp_migrate_req=1
(the kernel then moves it to another listener; listen.py warns when it is off).
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn

# Long enough for a client that connected to send its request on a busy 2-core host.
SETTLE_S = 0.3


class DrainingServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        waiting = [conn for sock in sockets or [] for conn in _accept_all(sock)]
        for server in self.servers:
            server.close()  # the kernel now sends new connections to the other listeners
        loop = asyncio.get_running_loop()
        for conn in waiting:
            await loop.connect_accepted_socket(self._protocol, conn)
        await asyncio.sleep(SETTLE_S)
        await super().shutdown(sockets)

    def _protocol(self) -> asyncio.Protocol:
        # What uvicorn's startup builds for each connection it accepts itself.
        return self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )


def _accept_all(sock: socket.socket) -> list[socket.socket]:
    accepted = []
    while True:
        try:
            conn, _ = sock.accept()  # the listener is non-blocking under asyncio
        except OSError:  # BlockingIOError: the queue is empty
            return accepted
        conn.setblocking(False)
        accepted.append(conn)

"""What every fake outside service shares: a socket server on 127.0.0.1 in a background thread.

A subclass builds its `socketserver` server in `_make_server`; this base binds an ephemeral port,
serves in a daemon thread, tracks open connections so `stop` can drop them (keep-alive clients
would otherwise hold a handler thread), and collects errors raised inside handlers in `errors`
so `stop_and_check` can fail the test that caused them.
"""

from __future__ import annotations

import abc
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from typing import Any, Self, TypeVar

import pytest

HOST = "127.0.0.1"
Server = TypeVar("Server", bound="BackgroundServer")


class BackgroundServer(abc.ABC):
    """Lifecycle of a fake server: `start`, `stop`, context manager, `port`, connection tracking."""

    name = "fake-server"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._arrived = threading.Condition(self._lock)
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    @abc.abstractmethod
    def _make_server(self) -> socketserver.TCPServer:
        """A server bound to (HOST, 0) whose handlers call `_track` / `_untrack`."""

    # Lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind an ephemeral port and serve in a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = self._make_server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"{self.name}:{self.port}",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._server.server_address[1]

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


def stop_and_check(servers: list[Any]) -> None:
    """Stop every server; fail the test if a responder or session raised inside one of them."""
    errors: list[str] = []
    for server in servers:
        server.stop()
        errors.extend(f"{type(server).__name__}: {error!r}" for error in server.errors)
    if errors:
        pytest.fail("errors inside the fake servers:\n" + "\n".join(errors))


def started_servers(server_class: Callable[..., Server]) -> Iterator[Callable[..., Server]]:
    """A factory fixture's body: yields a maker of started servers, then stops and checks them."""
    servers: list[Server] = []

    def make(*args: Any, **options: Any) -> Server:
        server = server_class(*args, **options).start()
        servers.append(server)
        return server

    yield make
    stop_and_check(servers)

"""HTTP over the jobs process's Unix socket: how the server reaches what reads DuckDB.

The server process never opens the records database while the jobs process runs (DuckDB
lets one process have the file). ``/admin/*``, the dashboard, and the jobs half of
``/readyz`` and ``/metrics`` are answered by the jobs process (:mod:`bot.jobs.process`);
the server forwards them with :class:`JobsClient`, one short connection per request.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from pathlib import Path

from bot.jobs.process import CLIENT_HEADER, SCHEME_HEADER

_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
    | {"proxy-authorization", "proxy-authenticate", "content-length"}
    | {CLIENT_HEADER, SCHEME_HEADER}
)


@dataclass(frozen=True)
class Answer:
    """One response from the jobs process."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class JobsClient:
    """Requests to the jobs process (blocking; call it from a thread pool).

    Args:
        socket_path: The jobs process's Unix socket.
        timeout: Seconds to wait for an answer.
    """

    def __init__(self, socket_path: Path, timeout: float = 30.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout

    def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        client: str | None = None,
        scheme: str = "http",
        timeout: float | None = None,
    ) -> Answer:
        """Send one request; ``client`` and ``scheme`` are the original client's.

        Raises:
            OSError: the jobs process is not reachable (not started, restarting).
            http.client.HTTPException: it answered something that is not HTTP.
        """
        con = _UnixConnection(self.socket_path, timeout or self.timeout)
        try:
            con.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            con.putheader("host", "agentforge-jobs")
            for name, value in headers or []:
                if name.lower() not in _HOP_HEADERS:
                    con.putheader(name, value)
            con.putheader(CLIENT_HEADER, client or "")
            con.putheader(SCHEME_HEADER, scheme)
            con.putheader("content-length", str(len(body)))
            con.endheaders(body or None)
            response = con.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS]
            return Answer(response.status, kept, data)
        finally:
            con.close()

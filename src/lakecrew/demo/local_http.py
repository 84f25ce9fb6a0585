"""LocalHttpServer: a threaded HTTP server on 127.0.0.1 and a free port, as a context manager.

The base of the replay servers (``replay_server.ReplayServer`` for DHIS2 and paged JSON,
``databricks_replay.DatabricksReplay`` for the Databricks REST API): they differ in how they
answer, not in how they start, where they listen and how they stop.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LocalHttpServer:
    """Call ``_listen(handler_class)`` in ``__init__``; the server runs inside ``with``."""

    _httpd: ThreadingHTTPServer
    _thread: threading.Thread

    def _listen(self, handler: type[BaseHTTPRequestHandler]) -> None:
        # TCP_NODELAY: the handler writes the headers and the body in two sends; with Nagle's
        # algorithm the body waits for the client's delayed ACK of the headers (~40 ms on
        # Linux), which made every request of a replayed sweep cost 40 ms of idle wall time.
        handler.disable_nagle_algorithm = True
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server: ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

"""A real uvicorn server in a background thread, for the dashboard's tests and benchmarks.

`running(app)` binds 127.0.0.1 on a free port, waits until uvicorn says it started, yields
the base URL, and stops the server (graceful shutdown, thread joined) on exit.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve `app` (ASGI) with uvicorn on 127.0.0.1 (on `port`, else a free one); yields
    http://127.0.0.1:PORT."""
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        thread.join(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch_chromium(playwright: Any) -> Any:
    """The Debian chromium under Playwright (`playwright install` cannot download here).
    Missing chromium is an error naming the fix, never a skip: `.ci/system-packages` installs it."""
    import shutil
    from pathlib import Path

    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        raise RuntimeError(
            f"chromium not found at {CHROMIUM} — fix: apt-get install chromium "
            "(`make sysdeps` / .ci/system-packages installs it)"
        )
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)


def axe_serious(response: dict[str, Any]) -> list[str]:
    """The serious and critical violations of one axe-core run, one line each."""
    return [
        f"{v['id']} ({v['impact']}): {len(v['nodes'])} node(s), e.g. {v['nodes'][0]['html'][:120]}"
        for v in response["violations"]
        if v["impact"] in ("serious", "critical")
    ]

"""kill -9 of the webhook receiver and of the ingester: every acknowledged submission is
ingested exactly once. Receiver and ingester are real subprocesses; the sender retries like
KoboToolbox's REST service does when it gets no acknowledgement."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests

from lakecrew.testing.spool_ingest import sink_ids

pytestmark = pytest.mark.integration
N = 150


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _receiver(spool_dir: Path, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "lakecrew.adapters.sources.webhook", "--spool", str(spool_dir)]
    return subprocess.Popen([*cmd, "--port", str(port)])


def _ingester(spool: Path, sink: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "lakecrew.testing.spool_ingest", "--spool", str(spool)]
    return subprocess.Popen([*cmd, "--sink", str(sink), *extra])


def _post_all(url: str, acked: list[str], stop: threading.Event) -> None:
    for i in range(N):
        sid = f"uuid:{i:06d}-kill9"
        body = {"meta": {"instanceID": sid}, "case": {"fever": "yes", "n": i}}
        while not stop.is_set():
            try:
                resp = requests.post(url, json=body, timeout=5)
            except requests.RequestException:
                time.sleep(0.02)  # receiver down: retry, as form servers do
                continue
            if resp.status_code in (200, 201):
                acked.append(sid)
                break
            time.sleep(0.02)


def _wait(cond: object, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_kill9_receiver_and_ingester_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    spool_dir, sink = tmp_path / "spool", tmp_path / "sink"
    spool = spool_dir / "spool.sqlite"
    port = _free_port()
    acked: list[str] = []
    stop = threading.Event()
    receiver = _receiver(spool_dir, port)
    sender = threading.Thread(
        target=_post_all, args=(f"http://127.0.0.1:{port}/submissions", acked, stop)
    )
    sender.start()
    procs = [receiver]
    try:
        _wait(lambda: len(acked) >= N // 3, "first acknowledgements")
        receiver.send_signal(signal.SIGKILL)  # kill -9 while submissions are in flight
        receiver.wait()
        receiver = _receiver(spool_dir, port)
        procs.append(receiver)
        # an ingester that dies right after writing its 2nd batch, before committing it
        crashed = _ingester(spool, sink, "--die-after-write", "2")
        assert crashed.wait(timeout=60) == -signal.SIGKILL
        # an ingester running continuously, killed -9 from outside while batches flow
        running = _ingester(spool, sink, "--forever")
        procs.append(running)
        _wait(lambda: len(acked) >= 2 * N // 3, "more acknowledgements")
        running.send_signal(signal.SIGKILL)
        running.wait()
        receiver.send_signal(signal.SIGKILL)
        receiver.wait()
        receiver = _receiver(spool_dir, port)
        procs.append(receiver)
        sender.join(timeout=120)
        assert not sender.is_alive(), "sender did not finish"
    finally:
        stop.set()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    final = _ingester(spool, sink)
    assert final.wait(timeout=60) == 0
    ids = sink_ids(sink)
    assert len(acked) == N
    assert set(ids) == set(acked), "every acknowledged submission is ingested"
    assert [sid for sid, n in Counter(ids).items() if n > 1] == [], "no duplicates"

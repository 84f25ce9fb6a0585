"""Webhook receiver (in-process, real HTTP) and spool source: acks, dedupe, batches, re-reads."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lakecrew.adapters.sources.webhook import SpoolSource, make_receiver, submission_id
from lakecrew.ports.source import RAW, SOURCE_ROW


def kobo(i: int) -> dict[str, object]:
    """A KoboToolbox REST-service style submission (flat keys with slashes)."""
    return {
        "_id": 1000 + i,
        "_uuid": f"6b3c{i:08d}",
        "meta/instanceID": f"uuid:6b3c{i:08d}-0000-4000-8000-000000000000",
        "formhub/uuid": "f1d0c3d1b2",
        "_submission_time": "2024-03-01T10:00:00",
        "group_case/fever": "yes",
        "group_case/facility": "Kenema",
    }


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[str]:
    server, spool = make_receiver(tmp_path / "spool.sqlite", token="hook-secret")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    spool.close()


AUTH = {"Authorization": "Bearer hook-secret"}


def test_ack_after_spool_dedupe_and_bad_requests(receiver: str, tmp_path: Path) -> None:
    url = receiver + "/submissions/aXb3kobo"
    assert requests.post(url, json=kobo(1), headers=AUTH, timeout=10).status_code == 201
    again = requests.post(url, json=kobo(1), headers=AUTH, timeout=10)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert requests.post(url, json=kobo(2), timeout=10).status_code == 401
    bad = requests.post(url, data=b"{not json", headers=AUTH, timeout=10)
    assert bad.status_code == 400
    no_id = requests.post(url, json={"a": 1}, headers=AUTH, timeout=10)
    assert no_id.status_code == 400 and "instance id" in no_id.json()["error"]
    [batch] = list(SpoolSource("forms", tmp_path / "spool.sqlite").read())
    assert batch.table.column("submission_id").to_pylist() == [submission_id(kobo(1))]
    assert batch.table.column("form_id").to_pylist() == ["aXb3kobo"]
    assert json.loads(batch.table.column(RAW)[0].as_py()) == kobo(1)


def test_odk_central_shapes_give_the_instance_id() -> None:
    assert submission_id({"meta": {"instanceID": "uuid:abc"}}) == "uuid:abc"
    assert submission_id({"__id": "uuid:def", "meta": {}}) == "uuid:def"
    assert submission_id({"meta": {"instanceID": 5}}) is None


def test_micro_batches_and_a_crash_before_commit(receiver: str, tmp_path: Path) -> None:
    for i in range(10):
        requests.post(receiver + "/submissions", json=kobo(i), headers=AUTH, timeout=10)
    src = SpoolSource("forms", tmp_path / "spool.sqlite", batch_size=4)
    first = next(iter(src.read()))
    for i in range(10, 13):  # more arrive before the crashed batch is re-read
        requests.post(receiver + "/submissions", json=kobo(i), headers=AUTH, timeout=10)
    again = list(SpoolSource("forms", tmp_path / "spool.sqlite", batch_size=4).read())
    assert again[0].batch_id == first.batch_id
    seqs = [s for b in again for s in b.table.column(SOURCE_ROW).to_pylist()]
    assert seqs == list(range(1, 14))
    src2 = SpoolSource("forms", tmp_path / "spool.sqlite", batch_size=4)
    for batch in src2.read():
        src2.commit(batch.checkpoint)
    assert src2.discover() == [] and list(src2.read()) == []

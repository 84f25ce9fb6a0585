"""Read ahead: produce the next item of an iterator in a background thread.

A file source reads and parses batch k+1 (disk, sha256, quote scan, Arrow CSV parse: all of
which release the GIL) while the pipeline still writes batch k, so a run keeps both cores busy
instead of alternating between reading and processing. Only reading happens ahead: checkpoints
are still committed by the consumer, in order, after each batch is durable. At most ``depth``
items wait in memory. An exception in the producer is raised in the consumer at the item where
it happened; a consumer that stops early (error, ``close()``) stops the producer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar, cast

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in order, computing up to ``depth`` of them ahead in a thread."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer and raised there
            put(_Failure(exc))

    worker = threading.Thread(target=produce, name="lakecrew-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            got = slots.get()
            if got is _DONE:
                return
            if isinstance(got, _Failure):
                raise got.error
            yield cast(T, got)
    finally:
        stop.set()
        worker.join()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error

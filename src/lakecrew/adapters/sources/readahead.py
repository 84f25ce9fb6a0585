"""Read ahead: produce the next item of an iterator in a background thread.

A file source reads and parses batch k+1 (disk, sha256, quote scan, Arrow CSV parse: all of
which release the GIL) while the pipeline still writes batch k, so a run keeps both cores busy
instead of alternating between reading and processing. Only reading happens ahead: checkpoints
are still committed by the consumer, in order, after each batch is durable. At most ``depth``
items exist besides the one the consumer holds. An exception in the producer is raised in the
consumer at the item where it happened; a consumer that stops early (error, ``close()``) stops
the producer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar, cast

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in order, computing up to ``depth`` of them ahead in a thread.

    The producer takes a slot *before* computing an item, and the consumer frees it when it
    takes one: besides the item being handled, at most ``depth`` exist at once (a bounded
    queue alone would let the producer hold one more, finished, waiting to be queued: with
    1M-row batches that was a third batch in memory).
    """
    slots: queue.SimpleQueue[object] = queue.SimpleQueue()
    room = threading.Semaphore(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            while True:
                while not room.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                item = next(items, _DONE)
                slots.put(item)
                if item is _DONE:
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the consumer and raised there
            slots.put(_Failure(exc))

    worker = threading.Thread(target=produce, name="lakecrew-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            got = slots.get()
            if got is _DONE:
                return
            if isinstance(got, _Failure):
                raise got.error
            room.release()  # the next item is computed while the caller handles this one
            yield cast(T, got)
    finally:
        stop.set()
        worker.join()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error

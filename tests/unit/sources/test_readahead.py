"""read_ahead: order kept, errors surface at their item, early stop ends the producer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from lakecrew.adapters.sources.readahead import read_ahead


def test_items_come_in_order() -> None:
    assert list(read_ahead(iter(range(50)))) == list(range(50))


def test_an_error_is_raised_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad file")

    got: list[int] = []
    with pytest.raises(ValueError, match="bad file"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]


def test_producer_stays_at_most_depth_ahead_and_stops_with_the_consumer() -> None:
    produced: list[int] = []
    gate = threading.Event()

    def items() -> Iterator[int]:
        for i in range(100):
            produced.append(i)
            yield i

    reader = read_ahead(items(), depth=1)
    assert next(reader) == 0
    gate.wait(0.3)  # give the producer time to run ahead as far as it can
    assert len(produced) <= 2  # the item handed out and one computed ahead, no more
    reader.close()  # consumer stops early: the producer thread ends
    assert not any(t.name == "lakecrew-read-ahead" for t in threading.enumerate())

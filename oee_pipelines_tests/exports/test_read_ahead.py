"""Running an export stage ahead on a thread: same items in order, errors re-raised, early stop cleans up."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from oee_pipelines.exports.read_ahead import read_ahead


def test_items_arrive_in_order_and_the_thread_ends() -> None:
    assert list(read_ahead(iter(range(1000)), depth=3)) == list(range(1000))
    assert not [t for t in threading.enumerate() if t.name == "oee-read-ahead"]


def test_an_error_of_the_stage_reaches_the_consumer_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("disk gone")

    received = []
    with pytest.raises(ValueError, match="disk gone"):
        for item in read_ahead(failing()):
            received.append(item)
    assert received == [1]


def test_a_consumer_stopping_early_closes_the_stage_on_its_thread() -> None:
    closed = threading.Event()
    produced = []

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    items = read_ahead(endless(), depth=2)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()  # what the response does when a client hangs up
    assert closed.is_set()
    assert len(produced) <= 5 + 2 + 1  # never more than `depth` items ahead (plus the one being handed)
    assert not [t for t in threading.enumerate() if t.name == "oee-read-ahead"]

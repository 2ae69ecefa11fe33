"""`read_ahead`: pages pulled by a thread ahead of the caller, in order, errors raised to the caller,
and the source closed when the caller stops early."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pyarrow as pa
import pytest

from oee_pipelines.connectors.historian.points import read_ahead


def table(number: int) -> pa.Table:
    return pa.table({"n": [number]})


def test_pages_arrive_in_order_and_are_pulled_ahead_of_the_caller() -> None:
    third_pulled = threading.Event()

    def pages() -> Iterator[pa.Table]:
        for number in range(6):
            if number == 2:
                third_pulled.set()
            yield table(number)

    reader = read_ahead(pages(), max_pages=3)
    first = next(reader)
    # The caller holds one page; the thread has gone on to the next ones meanwhile.
    assert third_pulled.wait(timeout=30)
    assert [first["n"][0].as_py()] + [page["n"][0].as_py() for page in reader] == [0, 1, 2, 3, 4, 5]


def test_an_error_of_the_source_reaches_the_caller_after_the_pages_before_it() -> None:
    def pages() -> Iterator[pa.Table]:
        yield table(0)
        yield table(1)
        raise ValueError("page 3 is unreadable")

    seen = []
    with pytest.raises(ValueError, match="page 3 is unreadable"):
        for page in read_ahead(pages(), max_pages=1):
            seen.append(page["n"][0].as_py())
    assert seen == [0, 1]


def test_a_caller_that_stops_early_closes_the_source() -> None:
    closed = threading.Event()

    def pages() -> Iterator[pa.Table]:
        try:
            for number in range(1_000):
                yield table(number)
        finally:
            closed.set()

    reader = read_ahead(pages(), max_pages=2)
    assert next(reader)["n"][0].as_py() == 0
    reader.close()
    assert closed.is_set()

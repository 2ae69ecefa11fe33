"""Run an iterator a few items ahead of its consumer, on a thread of its own.

An export is a pipeline of stages that mostly run in C++ without the GIL (reading Parquet, formatting
CSV / JSON / Parquet) followed by the socket; taking turns, each stage waits for the others. Run ahead
on a thread, a stage produces its next items while the consumer works on the last ones, and memory
stays at `depth` items. When the consumer stops early (a client hung up), the thread is told to stop
and the iterator is closed on it, so its own clean-up (files, connections) runs before this returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")

_POLL_SECONDS = 0.1
_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterable[Item], depth: int = 4, name: str = "oee-read-ahead") -> Iterator[Item]:
    """`items`, produced on a thread at most `depth` items ahead of the caller."""
    handed: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as error:  # re-raised in the consumer's thread
            hand_over(_Failed(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    producer = threading.Thread(target=produce, name=name, daemon=True)
    producer.start()
    try:
        while True:
            item = handed.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        producer.join()

"""PI responses are fetched several at a time but decoded one at a time (a bound on the client's memory:
one page of value structs alive, not one per request in flight), and nothing is lost doing so."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oee_pipelines.connectors.historian import pi_web_api
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.connectors.historian.points import concat_points
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import SyntheticPointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.historian import BASIC, T0, TINY_RETRY


class Overlap:
    """Counts how many callers are inside at once (each stays a moment, so that overlaps happen)."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.calls = 0
        self._lock = threading.Lock()

    def around(self, function: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.inside += 1
                self.calls += 1
                self.most = max(self.most, self.inside)
            try:
                time.sleep(0.02)
                return function(*args, **kwargs)
            finally:
                with self._lock:
                    self.inside -= 1

        return wrapped


@pytest.mark.parametrize("tags_per_request", [1, 3], ids=["streams", "streamsets"])
def test_responses_are_fetched_concurrently_and_decoded_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tags_per_request: int
) -> None:
    source = SyntheticPointSource(tag_count=6, points_per_tag=2000)
    start = T0.replace(day=1)
    decodes, fetches = Overlap(), Overlap()
    monkeypatch.setattr(pi_web_api, "decode_json", decodes.around(pi_web_api.decode_json))
    with (
        ServerThread(PiWebApiSimulator(source, max_returned_items_per_call=1000).app) as server,
        PiWebApiClient(
            server.base_url + "/piwebapi",
            "PISRV01",
            BASIC,
            max_count=500,
            tags_per_request=tags_per_request,
            concurrency=4,
            policy=TINY_RETRY,
        ) as client,
    ):
        client._http.get = fetches.around(client._http.get)  # type: ignore[method-assign]
        table = concat_points(client.read_recorded(source.tags(), start, T0))

    assert fetches.most >= 2  # requests still go out several at a time
    # Each request group's 2,000 points per tag in pages of 500: at least 4 responses per group.
    assert decodes.most == 1 and decodes.calls >= (6 // tags_per_request) * 4
    assert table.num_rows == 6 * 2000
    for tag in source.tags():
        rows = table.filter(pc.equal(table["tag"].cast(pa.string()), tag))
        assert np.array_equal(rows["value"].to_numpy(), source.points(tag, start, T0).value)

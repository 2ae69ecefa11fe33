"""`json_body` (msgspec first) reads every answer as `response.json()` does, and fails where it fails."""

from __future__ import annotations

import json

import httpx
import pytest

from oee_pipelines.connectors.http import json_body

BODIES = [
    b'{"d": {"results": [{"ManufacturingOrder": "WO-1", "TotalQuantity": "1000.000"}]}}',
    b'{"a": 1, "a": 2}',
    b"[1.0, -0.0, 1E5, 0.1, 2.5e-324, 1.7976931348623157e308, 1e-400]",
    b"123456789012345678901234567890",  # beyond 64 bits: an int, not a float
    b'"\\ud83d\\ude00 \\u00e9 \x7f"',
    b"\xef\xbb\xbf{}",  # byte-order mark
    b"[NaN, Infinity, 1e400]",
    b'"\\ud800x"',  # lone surrogate
    b" [1] ",
]
UNREADABLE = [b"", b"[1,]", b'{"a": 1,}', b"01", b'"a\nb"', b'"\xff"', b"[1] x", b"<html>"]


@pytest.mark.parametrize("body", BODIES)
def test_readable_bodies_read_as_the_standard_decoder(body: bytes) -> None:
    decoded = json_body(httpx.Response(200, content=body))
    expected = json.loads(body)
    assert repr(decoded) == repr(expected)  # repr: nan != nan, and 1 == 1.0 would hide a float


@pytest.mark.parametrize("body", UNREADABLE)
def test_unreadable_bodies_raise_the_standard_error(body: bytes) -> None:
    with pytest.raises(ValueError) as raised:
        json_body(httpx.Response(200, content=body))
    with pytest.raises(ValueError) as expected:
        json.loads(body)
    assert str(raised.value) == str(expected.value)

"""`iso_micros` prints each distinct instant once and hands it to every reading at that instant: the
texts are those strftime (and the former per-reading numpy print) wrote, in the readings' order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oee_pipelines.simulator.mqtt_publisher import iso_micros


def former_iso_micros(ts: pd.Series) -> list[str]:
    micros = ts.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return [text + "Z" for text in np.datetime_as_string(micros, unit="us").tolist()]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_repeated_instants_in_any_order_print_as_strftime_prints_them(zone: str) -> None:
    generator = np.random.default_rng(7)
    instants = 1_736_726_400_000_000 + generator.integers(0, 3 * 86_400, 40) * 1_000_000 + 123_456
    micros = generator.choice(instants, 2_000)  # 32 sensors sharing instants, shuffled
    stamps = pd.Series(pd.to_datetime(micros, unit="us", utc=True)).dt.tz_convert(zone)

    printed = iso_micros(stamps)

    assert printed == stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").tolist()
    assert len(set(printed)) == len(np.unique(micros)) < len(printed)


def test_a_missing_instant_prints_as_the_former_print_did() -> None:
    stamps = pd.Series(
        [pd.Timestamp("2025-01-13 08:00", tz="UTC"), pd.NaT, pd.Timestamp("2025-01-13 08:00", tz="UTC")]
    )

    assert (
        iso_micros(stamps)
        == former_iso_micros(stamps)
        == [
            "2025-01-13T08:00:00.000000Z",
            "NaTZ",
            "2025-01-13T08:00:00.000000Z",
        ]
    )

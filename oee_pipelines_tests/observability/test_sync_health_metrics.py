"""An MES sync failure reaches Prometheus and raises the documented alert.

The sync runs as a Dagster run against the MES simulator answering HTTP 500; its FAILED audit rows
land in the warehouse; the API's `/metrics` (served by the app, read with a real HTTP client) shows
`oee_source_sync_failing` = 1 for each entity; fed to the real `promtool` as recorded series, the
samples scraped fire `OeeSourceSyncFailing` with the same labels. A later successful sync clears it.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from oee_pipelines.api.app import create_app
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.defs.mes.assets import mes_sync
from oee_pipelines.services.mes_erp.run_requests import mes_sync_run_config
from oee_pipelines.settings import Settings
from oee_pipelines_tests.support.mes_samples import sample_source_data
from oee_pipelines_tests.support.mes_sources import WINDOW, RunningSources, running_sources, seed_reference

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ENTITIES = {"production_schedule", "recipe", "work_order"}


@pytest.fixture
def sources() -> Iterator[RunningSources]:
    with running_sources(sample_source_data()) as running:
        yield running


@pytest.fixture
def client(clean_database: str, tmp_path: Path) -> Iterator[TestClient]:
    seed_reference(clean_database)
    settings = Settings.from_env({"OEE_DATA_DIR": str(tmp_path / "data")})
    app = create_app(settings, database_url=clean_database, api_settings=ApiSettings(pool_max_size=2))
    with TestClient(app) as test_client:
        yield test_client


def run_sync(sources: RunningSources, url: str) -> bool:
    result = dg.materialize(
        [mes_sync],
        resources=sources.resources(url),
        run_config=mes_sync_run_config(**WINDOW),
        raise_on_error=False,
    )
    return result.success


def sync_samples(client: TestClient, name: str) -> dict[str, tuple[dict[str, str], float]]:
    """entity -> (labels, value) of `name` on /metrics."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        sample.labels["entity"]: (sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name
    }


def promtool_fires(samples: dict[str, tuple[dict[str, str], float]], tmp_path: Path) -> None:
    """The scraped samples as 30 minutes of recorded series: OeeSourceSyncFailing fires for each."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: `bash scripts/install-system-deps.sh test` installs it"
    shutil.copyfile(DEPLOY / "prometheus-alerts.yml", tmp_path / "prometheus-alerts.yml")

    def series(labels: dict[str, str]) -> str:
        inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        return f"oee_source_sync_failing{{{inner}}}"

    tests = {
        "rule_files": ["prometheus-alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": series(labels), "values": f"{value:g}x30"}
                    for labels, value in samples.values()
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "10m",
                        "alertname": "OeeSourceSyncFailing",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "ticket", **labels},
                                "exp_annotations": {
                                    "summary": f"{labels['system']} sync of {labels['entity']} "
                                    f"({labels['org_id']}) failed on its latest run"
                                },
                            }
                            for labels, _ in samples.values()
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "scraped.test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "scraped.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_failed_mes_sync_raises_the_alert_and_a_good_one_clears_it(
    sources: RunningSources, client: TestClient, clean_database: str, tmp_path: Path
) -> None:
    assert sync_samples(client, "oee_source_sync_failing") == {}  # nothing synced yet

    sources.mes_rest.switches.fail_next = 100  # every call answers HTTP 500, retries included
    assert not run_sync(sources, clean_database)
    failing = sync_samples(client, "oee_source_sync_failing")
    assert set(failing) == ENTITIES
    for labels, value in failing.values():
        assert value == 1
        assert (labels["org_id"], labels["system"]) == ("demo", "custom_rest")
    assert sync_samples(client, "oee_source_sync_last_success_timestamp_seconds") == {}
    promtool_fires(failing, tmp_path)

    sources.mes_rest.switches.fail_next = 0
    assert run_sync(sources, clean_database)
    recovered = sync_samples(client, "oee_source_sync_failing")
    assert {entity: value for entity, (_, value) in recovered.items()} == dict.fromkeys(ENTITIES, 0)
    assert set(sync_samples(client, "oee_source_sync_last_success_timestamp_seconds")) == ENTITIES

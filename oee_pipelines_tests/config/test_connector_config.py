"""The seed's four configuration files, read once into typed values: folder or single file, `${VAR}`,
`enabled: false`, the sync interval, and an error naming the key for everything else."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from oee_pipelines.config.connectors import (
    ERP_SYSTEM_TYPES,
    MES_SYSTEM_TYPES,
    ConnectorsConfig,
    interval_cron,
)
from oee_pipelines.connectors.erp import ERP_CONNECTORS
from oee_pipelines.connectors.mes import MES_CONNECTORS
from oee_pipelines.defs.mes.schedules import SCHEDULED_SYNC_JOB, build_sync_schedule
from oee_pipelines.defs.resources import historian_fields, source_system_fields
from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.historian import HistorianNotConfiguredError, HistorianResource
from oee_pipelines.resources.mes import MESResource, SourceNotConfiguredError
from oee_pipelines.settings import ConfigError, Settings
from oee_pipelines_tests.support.seed_config import SECRETS, SEED_CONFIG, SEED_FILES

# The seed's `config/mes_config.yml` exactly as written (system_type 'sap_me').
SEED_MES_AS_WRITTEN = """\
# config/mes_config.yml
mes:
  enabled: true
  system_type: 'sap_me'  # or 'oracle_mes', 'custom_rest'

  connection:
    base_url: 'https://mes.example.com/api/v1'
    auth_type: 'oauth2'  # or 'basic', 'api_key'
    client_id: '${MES_CLIENT_ID}'
    client_secret: '${MES_CLIENT_SECRET}'
    timeout_seconds: 30

  sync:
    schedule_sync_interval_minutes: 15
    auto_sync_enabled: true
    bidirectional_updates: true

  field_mappings:
    work_order_number: 'OrderNumber'
    planned_quantity: 'TargetQuantity'
    product_id: 'MaterialNumber'
"""


def folder_settings(folder: Path, **env: str) -> Settings:
    return Settings.from_env({"OEE_CONFIG_DIR": str(folder), **SECRETS, **env})


def seed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(SEED_CONFIG, folder)
    return folder


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_the_seed_folder_loads_into_typed_config() -> None:
    sources = folder_settings(SEED_CONFIG).sources

    assert sources.mes is not None and sources.erp is not None
    assert (sources.mes.enabled, sources.mes.system_type) == (True, "custom_rest")
    assert sources.mes.connection.base_url == "http://127.0.0.1:8701"
    assert sources.mes.connection.auth_type == "oauth2"
    assert dict(sources.mes.connection.credentials) == {
        "client_id": "oee-client",
        "client_secret": "oee-secret",
    }
    assert dict(sources.mes.connection.credential_env_vars) == {
        "client_id": "MES_CLIENT_ID",
        "client_secret": "MES_CLIENT_SECRET",
    }
    assert sources.mes.connection.timeout_seconds == 30
    assert sources.mes.sync.schedule_sync_interval_minutes == 15
    assert sources.mes.sync.auto_sync_enabled and sources.mes.sync.bidirectional_updates
    assert sources.mes.field_mappings["planned_quantity"] == "TargetQuantity"
    assert sources.erp.system_type == "sap_odata"
    assert sources.historian is not None
    assert set(sources.historian.enabled_servers()) == {"pi", "aveva"}
    assert sources.historian.servers["pi"].options["data_server"] == "PISRV01"
    assert sources.iot is not None and sources.iot.mqtt is not None
    assert (sources.iot.mqtt.broker, sources.iot.mqtt.port) == ("127.0.0.1", 1883)
    assert sources.iot.mqtt.topics == ("factory/+/temperature", "factory/+/vibration")
    (endpoint,) = sources.iot.http_endpoints
    assert (endpoint.sensor_id, endpoint.machine_id, endpoint.interval_seconds) == (
        "ENV_01",
        "MACHINE-001",
        60,
    )


def test_one_file_with_the_four_sections_is_the_same_configuration(tmp_path: Path) -> None:
    single = tmp_path / "connectors.yml"
    single.write_text("\n".join((SEED_CONFIG / name).read_text(encoding="utf-8") for name in SEED_FILES))

    from_file = Settings.from_env({"OEE_CONFIG_FILE": str(single), **SECRETS})
    from_folder = folder_settings(SEED_CONFIG)

    assert from_file.connectors == from_folder.connectors
    for section in ("mes", "erp", "historian", "iot"):
        file_section, folder_section = (
            getattr(from_file.sources, section),
            getattr(from_folder.sources, section),
        )
        assert file_section.__class__ is folder_section.__class__
        assert {**vars(file_section), "origin": ""} == {**vars(folder_section), "origin": ""}


def test_the_seed_folder_drives_the_resources() -> None:
    sources = folder_settings(SEED_CONFIG).sources

    mes = MESResource(**source_system_fields(sources.mes))
    erp = ERPResource(**source_system_fields(sources.erp))
    historian = HistorianResource(**historian_fields(sources.historian))

    # Secrets written as ${NAME} are bound as EnvVar: the Dagster UI shows the name, not the value.
    assert source_system_fields(sources.mes)["client_secret"] == dg.EnvVar("MES_CLIENT_SECRET")
    assert source_system_fields(sources.erp)["password"] == dg.EnvVar("SAP_PASSWORD")
    assert historian.pi is not None and historian.pi.data_server == "PISRV01"
    assert historian.configured_systems() == ["pi", "aveva"]
    assert historian.timeout_seconds == 120
    assert mes.section == "mes" and mes.field_mappings["product_id"] == "MaterialNumber"
    assert erp.base_url == "http://127.0.0.1:8703/sap/opu/odata/sap"


def test_the_seed_mes_file_as_written_names_the_unsupported_system_type(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "mes_config.yml").write_text(SEED_MES_AS_WRITTEN)

    with pytest.raises(ConfigError) as error:
        folder_settings(folder)
    assert str(error.value) == (
        "mes_config.yml: mes.system_type: 'sap_me' is not supported (supported: custom_rest, soap)"
    )

    replace_in(folder / "mes_config.yml", "'sap_me'", "'oracle_mes'")
    with pytest.raises(ConfigError, match=r"mes\.system_type: 'oracle_mes' is not supported"):
        folder_settings(folder)


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "mes_config.yml",
            "    timeout_seconds: 30\n",
            "    timeout_seconds: 30\n    retries: 3\n",
            "mes_config.yml: mes.connection.retries: unknown key (supported: base_url, auth_type, client_id, "
            "client_secret, username, password, api_key, timeout_seconds, token_path, api_key_header)",
        ),
        (
            "mes_config.yml",
            "    bidirectional_updates: true\n",
            "    bidirectional_updates: true\n    sync_window_days: 7\n",
            "mes_config.yml: mes.sync.sync_window_days: unknown key (supported: "
            "schedule_sync_interval_minutes, auto_sync_enabled, bidirectional_updates)",
        ),
        (
            "erp_config.yml",
            "'sap_odata'",
            "'sap_ecc'",
            "erp_config.yml: erp.system_type: 'sap_ecc' is not supported (supported: sap_odata, oracle_ebs)",
        ),
        (
            "historian_config.yml",
            "'wonderware'",
            "'ignition'",
            "historian_config.yml: historian.aveva.system_type: 'ignition' is not supported "
            "(supported: osisoft_pi, pi, aveva, wonderware)",
        ),
        (
            "historian_config.yml",
            "    data_server: 'PISRV01'\n",
            "    data_server: 'PISRV01'\n    archive: 'x'\n",
            "historian_config.yml: historian.pi.archive: unknown key (supported: enabled, system_type, "
            "connection, data_server, concurrency, max_count, tags_per_request, base_url, credentials, "
            "verify_tls)",
        ),
        (
            "iot_config.yml",
            "    port: 1883\n",
            "    port: 1883\n    qos: 2\n",
            "iot_config.yml: iot.mqtt.qos: unknown key (supported: enabled, broker, port, client_id, "
            "credentials, username, password, topics, share_group)",
        ),
        (
            "mes_config.yml",
            "    auth_type: 'oauth2'",
            "    auth_type: 'kerberos'",
            "mes_config.yml: mes.connection.auth_type: 'kerberos' is not supported "
            "(supported: oauth2, basic, api_key, none)",
        ),
        (
            "mes_config.yml",
            "schedule_sync_interval_minutes: 15",
            "schedule_sync_interval_minutes: 45",
            "mes_config.yml: mes.sync.schedule_sync_interval_minutes: must divide an hour",
        ),
        (
            "mes_config.yml",
            "  enabled: true",
            "  enabled: 'yes'",
            "mes_config.yml: mes.enabled: expected true or false, got 'yes'",
        ),
    ],
)
def test_a_wrong_key_or_value_names_its_file_and_path(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    folder = seed_folder(tmp_path)
    replace_in(folder / file, old, new)
    with pytest.raises(ConfigError) as error:
        folder_settings(folder)
    assert str(error.value).startswith(message)


def test_a_missing_environment_variable_names_the_key_and_the_variable() -> None:
    secrets = {name: value for name, value in SECRETS.items() if name != "MES_CLIENT_SECRET"}
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"OEE_CONFIG_DIR": str(SEED_CONFIG), **secrets})
    assert str(error.value) == (
        "mes_config.yml: mes.connection.client_secret: "
        "environment variable MES_CLIENT_SECRET is referenced but not set"
    )


def test_a_switched_off_source_needs_none_of_its_secrets(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path)
    replace_in(folder / "mes_config.yml", "  enabled: true", "  enabled: false")
    secrets = {name: value for name, value in SECRETS.items() if not name.startswith("MES_")}
    sources = Settings.from_env({"OEE_CONFIG_DIR": str(folder), **secrets}).sources
    assert sources.mes is not None and not sources.mes.enabled
    assert sources.mes.connection.credentials["client_secret"] == "${MES_CLIENT_SECRET}"


def test_folder_errors_name_the_file(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path)
    (folder / "scada_config.yml").write_text("scada: {}\n")
    with pytest.raises(ConfigError, match=r"OEE_CONFIG_DIR: unknown file scada_config.yml .*mes_config.yml"):
        folder_settings(folder)
    (folder / "scada_config.yml").unlink()
    (folder / "erp_config.yml").write_text("mes: {enabled: false}\n")
    with pytest.raises(ConfigError, match=r"erp_config.yml must hold only the `erp:` section, found mes"):
        folder_settings(folder)
    with pytest.raises(ConfigError, match="OEE_CONFIG_DIR: no such folder"):
        folder_settings(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="OEE_CONFIG_FILE and OEE_CONFIG_DIR are both set"):
        folder_settings(SEED_CONFIG, OEE_CONFIG_FILE=str(folder / "mes_config.yml"))


def test_a_missing_file_leaves_that_source_unconfigured(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path)
    (folder / "erp_config.yml").unlink()
    sources = folder_settings(folder).sources
    assert sources.erp is None and sources.mes is not None
    with pytest.raises(SourceNotConfiguredError, match=r"OEE_CONFIG_DIR to a folder with erp_config\.yml"):
        ERPResource(**source_system_fields(sources.erp)).connector()


def test_enabled_false_turns_a_source_off_and_says_so(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path)
    replace_in(folder / "mes_config.yml", "  enabled: true", "  enabled: false")
    replace_in(folder / "historian_config.yml", "  enabled: true", "  enabled: false")
    replace_in(folder / "iot_config.yml", "    enabled: true\n    broker", "    enabled: false\n    broker")
    sources = folder_settings(folder).sources

    assert sources.mes is not None and not sources.source_enabled("mes")
    assert sources.source_enabled("erp") and not sources.source_enabled("historian")
    with pytest.raises(SourceNotConfiguredError) as error:
        MESResource(**source_system_fields(sources.mes)).connector()
    assert str(error.value).startswith(
        "the `mes` source system is disabled (`mes.enabled: false` in mes_config.yml)"
    )
    historian = HistorianResource(**historian_fields(sources.historian))
    assert historian.configured_systems() == []
    with pytest.raises(HistorianNotConfiguredError, match="the `pi` historian is disabled"):
        historian.server("pi")
    assert sources.iot is not None and sources.iot.mqtt is None and len(sources.iot.http_endpoints) == 1

    # The schedule syncs only the ERP; a disabled MES's assets are not scheduled.
    schedule = build_sync_schedule(sources)
    assert schedule.job.name == SCHEDULED_SYNC_JOB
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert "Syncs ERP every 15 minutes" in (schedule.description or "")


def test_one_disabled_historian_keeps_the_other(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path)
    replace_in(
        folder / "historian_config.yml",
        "    system_type: 'wonderware'",
        "    enabled: false\n    system_type: 'wonderware'",
    )
    historian = HistorianResource(**historian_fields(folder_settings(folder).sources.historian))
    assert historian.configured_systems() == ["pi"]
    with pytest.raises(HistorianNotConfiguredError, match="the `aveva` historian is disabled"):
        historian.server("aveva")


def test_the_sync_interval_drives_the_schedule_cron(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path)
    schedule = build_sync_schedule(folder_settings(folder).sources)
    assert (schedule.cron_schedule, schedule.job.name) == ("*/15 * * * *", "mes_erp_sync_job")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING

    replace_in(
        folder / "mes_config.yml", "schedule_sync_interval_minutes: 15", "schedule_sync_interval_minutes: 5"
    )
    assert build_sync_schedule(folder_settings(folder).sources).cron_schedule == "*/5 * * * *"

    replace_in(
        folder / "mes_config.yml", "schedule_sync_interval_minutes: 5", "schedule_sync_interval_minutes: 120"
    )
    assert build_sync_schedule(folder_settings(folder).sources).cron_schedule == "0 */2 * * *"

    assert [interval_cron(minutes) for minutes in (1, 30, 60, 1440)] == [
        "* * * * *",
        "*/30 * * * *",
        "0 * * * *",
        "0 0 * * *",
    ]


def test_auto_sync_and_push_back_switches_shape_the_scheduled_job(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path)
    replace_in(folder / "mes_config.yml", "bidirectional_updates: true", "bidirectional_updates: false")
    schedule = build_sync_schedule(folder_settings(folder).sources)
    assert schedule.job.name == SCHEDULED_SYNC_JOB
    assert "no push-back" in (schedule.description or "")

    replace_in(folder / "mes_config.yml", "auto_sync_enabled: true", "auto_sync_enabled: false")
    replace_in(folder / "erp_config.yml", "auto_sync_enabled: true", "auto_sync_enabled: false")
    schedule = build_sync_schedule(folder_settings(folder).sources)
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED

    assert build_sync_schedule(ConnectorsConfig()).default_status == dg.DefaultScheduleStatus.STOPPED


def test_the_flat_form_of_earlier_releases_is_still_read(tmp_path: Path) -> None:
    config = tmp_path / "connectors.yml"
    config.write_text(
        "mes:\n  system_type: soap\n  base_url: http://mes/soap\n  auth_type: basic\n"
        "  credentials: {username: u, password: '${MES_PASSWORD}'}\n  page_size: 7\n"
        "historian:\n  pi: {base_url: http://pi/piwebapi, data_server: PI1, credentials: {username: u}}\n"
        "  retry_attempts: 2\n"
    )
    sources = Settings.from_env({"OEE_CONFIG_FILE": str(config), "MES_PASSWORD": "p"}).sources
    connection = MESResource(**source_system_fields(sources.mes)).connection_config()
    assert (connection.system_type, connection.base_url, connection.page_size) == (
        "soap",
        "http://mes/soap",
        7,
    )
    assert source_system_fields(sources.mes)["password"] == dg.EnvVar("MES_PASSWORD")
    historian = HistorianResource(**historian_fields(sources.historian))
    assert historian.pi is not None and historian.pi.data_server == "PI1" and historian.retry_attempts == 2

    config.write_text("mes:\n  system_type: soap\n  base_url: a\n  connection: {base_url: b}\n")
    with pytest.raises(ConfigError, match=r"mes.base_url: given twice: also as mes.connection.base_url"):
        Settings.from_env({"OEE_CONFIG_FILE": str(config)})


def test_the_supported_system_types_are_the_connectors_that_exist() -> None:
    assert set(MES_SYSTEM_TYPES) == set(MES_CONNECTORS)
    assert set(ERP_SYSTEM_TYPES) == set(ERP_CONNECTORS)


def test_one_historian_can_be_written_as_the_seed_writes_a_source(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "historian_config.yml").write_text(
        "historian:\n  enabled: true\n  system_type: osisoft_pi\n"
        "  connection: {base_url: 'http://pi/piwebapi', auth_type: basic, username: u, password: p,"
        " timeout_seconds: 60}\n  data_server: PI1\n  counter_lookback_minutes: 30\n"
    )
    historian = HistorianResource(**historian_fields(folder_settings(folder).sources.historian))
    assert historian.configured_systems() == ["pi"]
    assert historian.pi is not None and (historian.pi.base_url, historian.pi.data_server) == (
        "http://pi/piwebapi",
        "PI1",
    )
    assert (historian.timeout_seconds, historian.counter_lookback_minutes) == (60, 30)

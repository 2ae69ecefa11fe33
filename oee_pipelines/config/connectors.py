"""The connector configuration (the seed's `config/*_config.yml`), read and checked once into typed values.

Two ways to give it, with the same content:

- `OEE_CONFIG_DIR`: a folder holding the seed's files `mes_config.yml`, `erp_config.yml`,
  `historian_config.yml`, `iot_config.yml` (each optional; each holds its own top-level section);
- `OEE_CONFIG_FILE`: one YAML file with the sections `mes`, `erp`, `historian`, `iot`.

A section is written as in the seed (`enabled`, `system_type`, `connection: {...}`, `sync: {...}`,
`field_mappings`); the older flat form (`base_url`, `auth_type`, `credentials` beside `system_type`)
is still read. `${NAME}` is replaced by the environment variable `NAME`; a credential written as
exactly `${NAME}` also remembers the name, so Dagster can bind it as `EnvVar("NAME")`. Every unknown
key, unsupported `system_type` or wrong value is a `ConnectorConfigError` naming the file and the
key's path and listing what is supported.

Nothing here imports the rest of the project: `settings.py` calls `load_connector_config`, and
resources, the API and the CLI take the typed values from `Settings.sources`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

SECTIONS = ("mes", "erp", "historian", "iot")
# The connectors that exist (`connectors/mes`, `connectors/erp`, `connectors/historian`); a test keeps
# these lists equal to the connector registries.
MES_SYSTEM_TYPES = ("custom_rest", "soap")
ERP_SYSTEM_TYPES = ("sap_odata", "oracle_ebs")
# The seed names the historians "OSIsoft PI" and "Wonderware" (today AVEVA Historian).
HISTORIAN_SYSTEM_TYPES = {"osisoft_pi": "pi", "pi": "pi", "aveva": "aveva", "wonderware": "aveva"}
HISTORIAN_SYSTEMS = ("pi", "aveva")
AUTH_TYPES = ("oauth2", "basic", "api_key", "none")
HISTORIAN_AUTH_TYPES = ("basic", "bearer", "none")

SOURCE_CREDENTIALS = ("client_id", "client_secret", "username", "password", "api_key")
HISTORIAN_CREDENTIALS = ("username", "password", "bearer_token")

_ENV_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)\}")
_WHOLE_ENV_REFERENCE = re.compile(r"^\$\{([A-Z0-9_]+)\}$")


class ConnectorConfigError(Exception):
    """The connector configuration is wrong; the message names the file and the key's path."""


@dataclass(frozen=True)
class Connection:
    """The seed's `connection:` block. `credentials` holds the values; `credential_env_vars` the
    variable each credential was written as (`client_secret: ${MES_CLIENT_SECRET}`)."""

    base_url: str = ""
    auth_type: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)
    credential_env_vars: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float | None = None
    token_path: str | None = None
    api_key_header: str | None = None
    verify_tls: bool | None = None


@dataclass(frozen=True)
class SyncConfig:
    """The seed's `sync:` block: how often the MES/ERP sync schedule runs and what it does."""

    schedule_sync_interval_minutes: int = 15
    auto_sync_enabled: bool = True
    bidirectional_updates: bool = True

    @property
    def cron(self) -> str:
        """The schedule's cron (UTC); the interval was checked to be expressible when read."""
        return interval_cron(self.schedule_sync_interval_minutes)


@dataclass(frozen=True)
class SourceSystemConfig:
    """One MES or ERP (`section` is `mes` or `erp`); `origin` is the file it was read from."""

    section: str
    origin: str
    enabled: bool = True
    system_type: str = ""
    connection: Connection = field(default_factory=Connection)
    sync: SyncConfig = field(default_factory=SyncConfig)
    field_mappings: Mapping[str, str] = field(default_factory=dict)
    # org_id, id_prefix, page_size, service_options, retry_attempts, backoff_*, parallel_requests
    options: Mapping[str, Any] = field(default_factory=dict)

    def resource_fields(self) -> dict[str, Any]:
        """The fields of `resources.mes.SourceSystemResource` this section sets (the rest keep defaults)."""
        connection = self.connection
        fields: dict[str, Any] = {
            "enabled": self.enabled,
            "config_origin": self.origin,
            "system_type": self.system_type,
            "base_url": connection.base_url,
            "field_mappings": dict(self.field_mappings),
            **connection.credentials,
            **self.options,
        }
        optional = {
            "auth_type": connection.auth_type,
            "timeout_seconds": connection.timeout_seconds,
            "token_path": connection.token_path,
            "api_key_header": connection.api_key_header,
        }
        fields.update({name: value for name, value in optional.items() if value is not None})
        return fields


@dataclass(frozen=True)
class HistorianServer:
    """One historian (`system`: `pi` or `aveva`)."""

    system: str
    enabled: bool = True
    connection: Connection = field(default_factory=Connection)
    options: Mapping[str, Any] = field(default_factory=dict)  # data_server, max_count, tags_per_request, ...

    def server_fields(self) -> dict[str, Any]:
        """The fields of `resources.historian.HistorianServerConfig`."""
        fields: dict[str, Any] = {
            "base_url": self.connection.base_url,
            **self.connection.credentials,
            **self.options,
        }
        if self.connection.verify_tls is not None:
            fields["verify_tls"] = self.connection.verify_tls
        return fields


@dataclass(frozen=True)
class HistorianConfig:
    origin: str
    enabled: bool = True
    servers: Mapping[str, HistorianServer] = field(default_factory=dict)
    # retry_attempts, backoff_*, timeout_seconds, counter_lookback_minutes
    options: Mapping[str, Any] = field(default_factory=dict)

    def enabled_servers(self) -> dict[str, HistorianServer]:
        if not self.enabled:
            return {}
        return {system: server for system, server in self.servers.items() if server.enabled}


@dataclass(frozen=True)
class MqttConfig:
    broker: str
    port: int = 1883
    client_id: str | None = None
    username: str | None = None
    password: str | None = None
    topics: tuple[str, ...] = ()
    share_group: str | None = None  # MQTT 5 shared subscription group: ingesters that split the topics


@dataclass(frozen=True)
class HttpEndpointConfig:
    url: str
    sensor_id: str
    interval_seconds: float | None = None
    machine_id: str | None = None


@dataclass(frozen=True)
class IotConfig:
    """The seed's `iot` section; `mqtt` is None and `http_endpoints` empty when switched off."""

    origin: str
    mqtt: MqttConfig | None = None
    http_endpoints: tuple[HttpEndpointConfig, ...] = ()


@dataclass(frozen=True)
class ConnectorsConfig:
    """Every source system's configuration; a section that was not given is None."""

    mes: SourceSystemConfig | None = None
    erp: SourceSystemConfig | None = None
    historian: HistorianConfig | None = None
    iot: IotConfig | None = None
    origin: str = ""  # `OEE_CONFIG_FILE=...` or `OEE_CONFIG_DIR=...`; empty when neither is set

    def source_enabled(self, section: str) -> bool:
        """Configured and not switched off (`enabled: false`)."""
        config = getattr(self, section)
        if config is None:
            return False
        if isinstance(config, SourceSystemConfig):
            return config.enabled
        if isinstance(config, HistorianConfig):
            return bool(config.enabled_servers())
        return config.mqtt is not None or bool(config.http_endpoints)


def interval_cron(minutes: int) -> str:
    """`*/15 * * * *` for 15 minutes, `0 */2 * * *` for 120; ValueError when cron cannot say it."""
    if 0 < minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    hours, rest = divmod(minutes, 60)
    if minutes > 0 and rest == 0 and 24 % hours == 0:
        return {1: "0 * * * *", 24: "0 0 * * *"}.get(hours, f"0 */{hours} * * *")
    raise ValueError(
        "must divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) or be whole hours dividing a day "
        f"(60, 120, 180, 240, 360, 480, 720, 1440), got {minutes}"
    )


# --- reading -------------------------------------------------------------------------------------


def load_connector_config(
    config_file: Path | None, config_dir: Path | None, environ: Mapping[str, str]
) -> tuple[dict[str, Any], ConnectorsConfig]:
    """(the sections as written with `${VAR}` replaced, the typed configuration) from a file or a folder."""
    if config_file is not None and config_dir is not None:
        raise ConnectorConfigError("OEE_CONFIG_FILE and OEE_CONFIG_DIR are both set: set one of them")
    if config_file is not None:
        raw = _read_yaml(config_file, "OEE_CONFIG_FILE")
        unknown = sorted(set(raw) - set(SECTIONS))
        if unknown:
            raise ConnectorConfigError(
                f"OEE_CONFIG_FILE: unknown section '{unknown[0]}' in {config_file} "
                f"(expected one of {', '.join(sorted(SECTIONS))})"
            )
        origins = {section: config_file.name for section in raw}
        origin = f"OEE_CONFIG_FILE={config_file}"
    elif config_dir is not None:
        raw, origins = _read_folder(config_dir)
        origin = f"OEE_CONFIG_DIR={config_dir}"
    else:
        return {}, ConnectorsConfig()
    # A switched-off section needs none of its secrets: an unset `${NAME}` in it stays as written.
    environs = {
        section: _KeepUnset(environ) if isinstance(value, dict) and value.get("enabled") is False else environ
        for section, value in raw.items()
    }
    interpolated = {
        section: _interpolate(value, environs[section], f"{origins[section]}: {section}")
        for section, value in raw.items()
    }
    parsers = {"mes": _source_system, "erp": _source_system, "historian": _historian, "iot": _iot}
    typed: dict[str, Any] = {
        section: parsers[section](_Reader(origins[section], environs[section]), section, value)
        for section, value in raw.items()
        if value is not None
    }
    return interpolated, ConnectorsConfig(**typed, origin=origin)


def _read_yaml(path: Path, setting: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConnectorConfigError(f"{setting}: no such file {path}") from None
    except yaml.YAMLError as exc:
        raise ConnectorConfigError(f"{setting}: {path} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise ConnectorConfigError(f"{setting}: {path} must hold a mapping at the top level")
    return raw


def _read_folder(folder: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The seed's `<section>_config.yml` files of `folder`; each holds its own section."""
    if not folder.is_dir():
        raise ConnectorConfigError(f"OEE_CONFIG_DIR: no such folder {folder}")
    expected = [f"{section}_config.yml" for section in SECTIONS]
    raw: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if not path.name.endswith(("_config.yml", "_config.yaml")):
            continue
        section = path.name.rsplit("_config.", 1)[0]
        if section not in SECTIONS:
            raise ConnectorConfigError(
                f"OEE_CONFIG_DIR: unknown file {path.name} in {folder} (expected {', '.join(expected)})"
            )
        if section in raw:
            raise ConnectorConfigError(f"OEE_CONFIG_DIR: {section} is configured twice in {folder}")
        content = _read_yaml(path, "OEE_CONFIG_DIR")
        if set(content) != {section}:
            others = ", ".join(sorted(set(content) - {section})) or "nothing"
            raise ConnectorConfigError(
                f"OEE_CONFIG_DIR: {path.name} must hold only the `{section}:` section, found {others}"
            )
        raw[section] = content[section]
        origins[section] = path.name
    return raw, origins


class _KeepUnset(dict[str, str]):
    """The environment, where an unset variable reads as its own `${NAME}` reference."""

    def __contains__(self, name: object) -> bool:
        return True

    def __missing__(self, name: str) -> str:
        return "${" + name + "}"


def _interpolate(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """Replace `${NAME}` in YAML strings with environment variables, so secrets stay out of files."""
    if isinstance(value, dict):
        return {key: _interpolate(item, environ, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, environ, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConnectorConfigError(f"{where}: environment variable {name} is referenced but not set")
            return environ[name]

        return _ENV_REFERENCE.sub(substitute, value)
    return value


class _Reader:
    """Typed reads of one file's values; every error names the file and the key's path."""

    def __init__(self, origin: str, environ: Mapping[str, str]) -> None:
        self.origin = origin
        self.environ = environ

    def fail(self, path: str, message: str) -> NoReturn:
        raise ConnectorConfigError(f"{self.origin}: {path}: {message}")

    def mapping(self, value: Any, path: str, allowed: Iterable[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {value!r}")
        supported = list(allowed)
        for key in value:
            if key not in supported:
                self.fail(f"{path}.{key}", f"unknown key (supported: {', '.join(supported)})")
        return value

    def text(self, value: Any, path: str) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.fail(path, f"expected text, got {value!r}")
        return str(_interpolate(str(value), self.environ, f"{self.origin}: {path}"))

    def choice(self, value: Any, path: str, supported: Iterable[str]) -> str:
        options = list(supported)
        text = self.text(value, path)
        if text not in options:
            self.fail(path, f"{text!r} is not supported (supported: {', '.join(options)})")
        return text

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {value!r}")
        return value

    def whole(self, value: Any, path: str, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(path, f"expected a whole number of at least {minimum}, got {value!r}")
        return value

    def positive(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.fail(path, f"expected a positive number, got {value!r}")
        return float(value)

    def texts(self, value: Any, path: str) -> dict[str, str]:
        mapping = self.mapping(value, path, value if isinstance(value, dict) else ())
        return {str(key): self.text(item, f"{path}.{key}") for key, item in mapping.items()}

    def credential(self, value: Any, path: str) -> tuple[str, str | None]:
        """(the value, the variable it was written as when it is exactly `${NAME}`)."""
        reference = _WHOLE_ENV_REFERENCE.match(value) if isinstance(value, str) else None
        return self.text(value, path), reference.group(1) if reference else None


# --- MES and ERP ---------------------------------------------------------------------------------

_CONNECTION_KEYS = (
    "base_url",
    "auth_type",
    *SOURCE_CREDENTIALS,
    "timeout_seconds",
    "token_path",
    "api_key_header",
)
_FLAT_CONNECTION_KEYS = (
    "base_url",
    "auth_type",
    "credentials",
    "timeout_seconds",
    "token_path",
    "api_key_header",
)
_SOURCE_OPTIONS = {
    "org_id": "text",
    "id_prefix": "text",
    "page_size": "whole",
    "service_options": "texts",
    "retry_attempts": "whole",
    "backoff_initial_seconds": "positive",
    "backoff_max_seconds": "positive",
    "parallel_requests": "whole",
}
_SYNC_KEYS = {
    "mes": ("schedule_sync_interval_minutes", "auto_sync_enabled", "bidirectional_updates"),
    "erp": ("auto_sync_enabled",),
}


def _source_system(reader: _Reader, section: str, value: Any) -> SourceSystemConfig:
    allowed = ("enabled", "system_type", "connection", "sync", "field_mappings", *_SOURCE_OPTIONS)
    values = reader.mapping(value, section, (*allowed, *_FLAT_CONNECTION_KEYS))
    enabled = reader.boolean(values.get("enabled", True), f"{section}.enabled")
    supported = MES_SYSTEM_TYPES if section == "mes" else ERP_SYSTEM_TYPES
    if "system_type" in values:
        system_type = reader.choice(values["system_type"], f"{section}.system_type", supported)
    elif enabled:
        reader.fail(f"{section}.system_type", f"missing (supported: {', '.join(supported)})")
    else:
        system_type = ""
    return SourceSystemConfig(
        section=section,
        origin=reader.origin,
        enabled=enabled,
        system_type=system_type,
        connection=_source_connection(reader, section, values),
        sync=_sync(reader, section, values.get("sync")),
        field_mappings=reader.texts(values.get("field_mappings"), f"{section}.field_mappings"),
        options={
            name: getattr(reader, kind)(values[name], f"{section}.{name}")
            for name, kind in _SOURCE_OPTIONS.items()
            if name in values
        },
    )


def _source_connection(reader: _Reader, section: str, values: Mapping[str, Any]) -> Connection:
    """The `connection:` block, or the flat form's keys beside `system_type` (never both for one key)."""
    nested = reader.mapping(values.get("connection"), f"{section}.connection", _CONNECTION_KEYS)
    flat: dict[str, Any] = {key: values[key] for key in _FLAT_CONNECTION_KEYS if key in values}
    credentials_path = f"{section}.credentials"
    flat.update(reader.mapping(flat.pop("credentials", None), credentials_path, SOURCE_CREDENTIALS))
    for key in set(flat) & set(nested):
        reader.fail(f"{section}.{key}", f"given twice: also as {section}.connection.{key}")
    merged = {**flat, **nested}
    paths = {key: f"{section}.connection.{key}" if key in nested else f"{section}.{key}" for key in merged}
    for key in set(flat) & set(SOURCE_CREDENTIALS):
        paths[key] = f"{credentials_path}.{key}"
    return _connection(reader, merged, paths, SOURCE_CREDENTIALS, AUTH_TYPES)


def _connection(
    reader: _Reader,
    values: Mapping[str, Any],
    paths: Mapping[str, str],
    credential_names: Iterable[str],
    auth_types: Iterable[str],
) -> Connection:
    credentials: dict[str, str] = {}
    env_vars: dict[str, str] = {}
    for name in credential_names:
        if values.get(name) is not None:
            credentials[name], env_var = reader.credential(values[name], paths[name])
            if env_var:
                env_vars[name] = env_var

    def optional(name: str, kind: str) -> Any:
        return getattr(reader, kind)(values[name], paths[name]) if values.get(name) is not None else None

    return Connection(
        base_url=optional("base_url", "text") or "",
        auth_type=reader.choice(values["auth_type"], paths["auth_type"], auth_types)
        if values.get("auth_type") is not None
        else None,
        credentials=credentials,
        credential_env_vars=env_vars,
        timeout_seconds=optional("timeout_seconds", "positive"),
        token_path=optional("token_path", "text"),
        api_key_header=optional("api_key_header", "text"),
        verify_tls=optional("verify_tls", "boolean"),
    )


def _sync(reader: _Reader, section: str, value: Any) -> SyncConfig:
    path = f"{section}.sync"
    values = reader.mapping(value, path, _SYNC_KEYS[section])
    interval = reader.whole(
        values.get("schedule_sync_interval_minutes", 15), f"{path}.schedule_sync_interval_minutes"
    )
    try:
        interval_cron(interval)
    except ValueError as exc:
        reader.fail(f"{path}.schedule_sync_interval_minutes", str(exc))
    return SyncConfig(
        schedule_sync_interval_minutes=interval,
        auto_sync_enabled=reader.boolean(values.get("auto_sync_enabled", True), f"{path}.auto_sync_enabled"),
        bidirectional_updates=reader.boolean(
            values.get("bidirectional_updates", True), f"{path}.bidirectional_updates"
        ),
    )


# --- historians ----------------------------------------------------------------------------------

_HISTORIAN_CONNECTION_KEYS = (
    "base_url",
    "auth_type",
    *HISTORIAN_CREDENTIALS,
    "timeout_seconds",
    "verify_tls",
)
_SERVER_OPTIONS = {
    "data_server": "text",
    "concurrency": "whole",
    "max_count": "whole",
    "tags_per_request": "whole",
}
_SERVER_KEYS = ("enabled", "system_type", "connection", *_SERVER_OPTIONS)
_FLAT_SERVER_KEYS = ("base_url", "credentials", "verify_tls")
_HISTORIAN_OPTIONS = {
    "retry_attempts": "whole",
    "backoff_initial_seconds": "positive",
    "backoff_max_seconds": "positive",
    "timeout_seconds": "positive",
    "counter_lookback_minutes": "whole",
}


def _historian(reader: _Reader, section: str, value: Any) -> HistorianConfig:
    """Either one historian (`system_type` + `connection` at the top, as the seed writes a source) or
    one sub-section per system (`pi:`, `aveva:`), each in that same shape."""
    single = isinstance(value, dict) and "system_type" in value
    server_keys = (*_SERVER_KEYS, *_FLAT_SERVER_KEYS) if single else HISTORIAN_SYSTEMS
    values = reader.mapping(value, section, ("enabled", *server_keys, *_HISTORIAN_OPTIONS))
    enabled = reader.boolean(values.get("enabled", True), f"{section}.enabled")
    if single:
        server_values = {
            key: item for key, item in values.items() if key in _SERVER_KEYS or key in _FLAT_SERVER_KEYS
        }
        server_values.pop("enabled", None)
        server = _historian_server(reader, section, None, server_values)
        servers = {server.system: server}
    else:
        servers = {
            system: _historian_server(reader, f"{section}.{system}", system, values[system])
            for system in HISTORIAN_SYSTEMS
            if values.get(system) is not None
        }
    options = {
        name: getattr(reader, kind)(values[name], f"{section}.{name}")
        for name, kind in _HISTORIAN_OPTIONS.items()
        if name in values
    }
    timeouts = [s.connection.timeout_seconds for s in servers.values() if s.connection.timeout_seconds]
    if timeouts and "timeout_seconds" not in options:
        options["timeout_seconds"] = max(timeouts)  # one client timeout for the resource: the longest
    return HistorianConfig(origin=reader.origin, enabled=enabled, servers=servers, options=options)


def _historian_server(reader: _Reader, path: str, system: str | None, value: Any) -> HistorianServer:
    values = reader.mapping(value, path, (*_SERVER_KEYS, *_FLAT_SERVER_KEYS))
    supported = list(HISTORIAN_SYSTEM_TYPES)
    if "system_type" in values:
        named = HISTORIAN_SYSTEM_TYPES[reader.choice(values["system_type"], f"{path}.system_type", supported)]
        if system is not None and named != system:
            reader.fail(f"{path}.system_type", f"{values['system_type']!r} is not a `{system}` historian")
        system = named
    if system is None:
        reader.fail(f"{path}.system_type", f"missing (supported: {', '.join(supported)})")
    nested = reader.mapping(values.get("connection"), f"{path}.connection", _HISTORIAN_CONNECTION_KEYS)
    flat: dict[str, Any] = {key: values[key] for key in ("base_url", "verify_tls") if key in values}
    flat.update(reader.mapping(values.get("credentials"), f"{path}.credentials", HISTORIAN_CREDENTIALS))
    for key in set(flat) & set(nested):
        reader.fail(f"{path}.{key}", f"given twice: also as {path}.connection.{key}")
    merged: dict[str, Any] = {**flat, **nested}
    paths = {key: f"{path}.connection.{key}" if key in nested else f"{path}.{key}" for key in merged}
    for key in set(flat) & set(HISTORIAN_CREDENTIALS):
        paths[key] = f"{path}.credentials.{key}"
    connection = _connection(reader, merged, paths, HISTORIAN_CREDENTIALS, HISTORIAN_AUTH_TYPES)
    return HistorianServer(
        system=system,
        enabled=reader.boolean(values.get("enabled", True), f"{path}.enabled"),
        connection=connection,
        options={
            name: getattr(reader, kind)(values[name], f"{path}.{name}")
            for name, kind in _SERVER_OPTIONS.items()
            if name in values
        },
    )


# --- IoT -----------------------------------------------------------------------------------------

_MQTT_KEYS = (
    "enabled", "broker", "port", "client_id", "credentials", "username", "password", "topics", "share_group",
)  # fmt: skip
_ENDPOINT_KEYS = ("url", "interval_seconds", "sensor_id", "machine_id")


def _iot(reader: _Reader, section: str, value: Any) -> IotConfig:
    values = reader.mapping(value, section, ("mqtt", "http_polling"))
    return IotConfig(
        origin=reader.origin,
        mqtt=_mqtt(reader, f"{section}.mqtt", values.get("mqtt")),
        http_endpoints=_http_endpoints(reader, f"{section}.http_polling", values.get("http_polling")),
    )


def _mqtt(reader: _Reader, path: str, value: Any) -> MqttConfig | None:
    values = reader.mapping(value, path, _MQTT_KEYS)
    if not values or not reader.boolean(values.get("enabled", True), f"{path}.enabled"):
        return None
    if not values.get("broker"):
        reader.fail(f"{path}.broker", "the broker's host name is missing")
    credentials = reader.mapping(values.get("credentials"), f"{path}.credentials", ("username", "password"))
    login: dict[str, Any] = {**credentials}
    login.update({key: values[key] for key in ("username", "password") if key in values})
    port = values.get("port", 1883)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        reader.fail(f"{path}.port", f"expected a TCP port, got {port!r}")
    topics = values.get("topics") or []
    if not isinstance(topics, list):
        reader.fail(f"{path}.topics", "expected a list of topic filters")
    filters: list[str] = []
    for index, entry in enumerate(topics):
        where = f"{path}.topics[{index}]"
        if isinstance(entry, dict):
            entry = reader.mapping(entry, where, ("pattern", "sensor_type")).get("pattern")
        if not entry:
            reader.fail(where, "every entry needs a topic filter (`pattern`)")
        filters.append(reader.text(entry, where))
    group_path = f"{path}.share_group"
    share_group = reader.text(values["share_group"], group_path) if values.get("share_group") else None
    if share_group is not None and any(character in share_group for character in "/+#"):
        reader.fail(group_path, "a share group name may not contain '/', '+' or '#'")
    return MqttConfig(
        broker=reader.text(values["broker"], f"{path}.broker"),
        port=port,
        client_id=reader.text(values["client_id"], f"{path}.client_id") if values.get("client_id") else None,
        username=reader.text(login["username"], f"{path}.username") if login.get("username") else None,
        password=reader.text(login["password"], f"{path}.password") if login.get("password") else None,
        topics=tuple(filters),
        share_group=share_group,
    )


def _http_endpoints(reader: _Reader, path: str, value: Any) -> tuple[HttpEndpointConfig, ...]:
    values = reader.mapping(value, path, ("enabled", "endpoints"))
    if not values or not reader.boolean(values.get("enabled", True), f"{path}.enabled"):
        return ()
    entries = values.get("endpoints") or []
    if not isinstance(entries, list):
        reader.fail(f"{path}.endpoints", "expected a list of endpoints")
    endpoints = []
    for index, entry in enumerate(entries):
        where = f"{path}.endpoints[{index}]"
        item = reader.mapping(entry, where, _ENDPOINT_KEYS)
        for required in ("url", "sensor_id"):
            if not item.get(required):
                reader.fail(f"{where}.{required}", "missing")
        endpoints.append(
            HttpEndpointConfig(
                url=reader.text(item["url"], f"{where}.url"),
                sensor_id=reader.text(item["sensor_id"], f"{where}.sensor_id"),
                interval_seconds=reader.positive(item["interval_seconds"], f"{where}.interval_seconds")
                if "interval_seconds" in item
                else None,
                machine_id=reader.text(item["machine_id"], f"{where}.machine_id")
                if item.get("machine_id")
                else None,
            )
        )
    return tuple(endpoints)

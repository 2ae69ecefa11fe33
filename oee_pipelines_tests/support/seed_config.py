"""The seed's connector configuration folder (`oee_pipelines_tests/config/seed_config/`) and the secrets
its files reference, as a deployment sets them (the connector-configuration tests)."""

from __future__ import annotations

from pathlib import Path

SEED_CONFIG = Path(__file__).resolve().parents[1] / "config" / "seed_config"
SEED_FILES = ("mes_config.yml", "erp_config.yml", "historian_config.yml", "iot_config.yml")
SECRETS = {
    "MES_CLIENT_ID": "oee-client",
    "MES_CLIENT_SECRET": "oee-secret",
    "SAP_USERNAME": "sap-user",
    "SAP_PASSWORD": "sap-password",
    "HISTORIAN_USERNAME": "historian-user",
    "HISTORIAN_PASSWORD": "historian-password",
}

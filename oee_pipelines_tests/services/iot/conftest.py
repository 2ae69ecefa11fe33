"""The IoT landing service's tests share a warehouse holding the sensor registry."""

import psycopg
import pytest

from oee_pipelines_tests.support.iot import REGISTRY_SQL


@pytest.fixture
def registry_database(clean_database: str) -> str:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        conn.execute(REGISTRY_SQL)
    return clean_database

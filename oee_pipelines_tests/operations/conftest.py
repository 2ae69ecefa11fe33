"""Fixtures for the operations tests: an S3-compatible server (moto) on loopback, credentials by env."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
import s3fs
from botocore.client import BaseClient
from moto.server import ThreadedMotoServer

from oee_pipelines.simulator.servers.runtime import free_port

S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "oee-test",
    "AWS_SECRET_ACCESS_KEY": "oee-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1, for this test module."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_lake_root(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`s3://<new bucket>/oee-lake`, with the endpoint and credentials set the way a deployment sets them."""
    for name, value in {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    yield f"s3://{bucket}/oee-lake"
    # fsspec caches filesystems by their arguments, not by the endpoint taken from the environment.
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_client(s3_lake_root: str) -> BaseClient:
    """A plain boto3 client on the same server: an independent view of what the lake wrote."""
    return boto3.client("s3")

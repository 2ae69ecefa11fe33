"""Monitoring fixtures: a webhook receiver on loopback that records what it was sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oee_pipelines_tests.support.webhook import WebhookReceiver, webhook_receiver


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver

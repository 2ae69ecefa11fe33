"""Launch Dagster runs and backfills from the API, and read their status, over Dagster's GraphQL API.

The API never runs pipeline code itself: an endpoint launches the same job the schedule runs, on the
Dagster webserver at `Settings.dagster_graphql_url` (`OEE_DAGSTER_GRAPHQL_URL`, default
`http://127.0.0.1:3000/graphql`; `create_app` builds one `DagsterRuns` from it), and answers with the
run id. Runs carry the caller's organization as the `oee/org_id` tag, so a status
request can be checked against the caller.

Job runs are submitted with `dagster_graphql.DagsterGraphQLClient`; reading a run with its tags and
launching an asset backfill use the GraphQL API directly (the client offers neither).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from dagster_graphql import DagsterGraphQLClient

from oee_pipelines.settings import DEFAULT_DAGSTER_GRAPHQL_URL

ORG_TAG = "oee/org_id"
REQUESTED_BY_TAG = "oee/requested_by"

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status jobName tags { key value } }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

RUNS_BY_TAG_QUERY = """
query RunsByTag($filter: RunsFilter) {
  runsOrError(filter: $filter, limit: 1) {
    __typename
    ... on Runs { results { runId status jobName tags { key value } } }
    ... on PythonError { message }
  }
}
"""

BACKFILL_MUTATION = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
  }
}
"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill { id status }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message }
  }
}
"""


class DagsterUnavailableError(Exception):
    """The Dagster webserver cannot be reached or refused the request; says which and why."""


class RunNotFoundError(Exception):
    """No run with this id."""


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    status: str  # DagsterRunStatus value: QUEUED, STARTING, STARTED, SUCCESS, FAILURE, CANCELED, ...
    job_name: str
    tags: dict[str, str]


@dataclass(frozen=True)
class DagsterRuns:
    graphql_url: str = DEFAULT_DAGSTER_GRAPHQL_URL
    timeout_seconds: float = 30.0

    def _client(self) -> DagsterGraphQLClient:
        parts = urlsplit(self.graphql_url)
        prefix = parts.path.removesuffix("/graphql").rstrip("/")
        return DagsterGraphQLClient(
            parts.hostname or "127.0.0.1",
            port_number=parts.port,
            use_https=parts.scheme == "https",
            path_prefix=prefix,
            timeout=int(self.timeout_seconds),
        )

    def launch_job(
        self, job_name: str, run_config: Mapping[str, Any], tags: Mapping[str, str] | None = None
    ) -> str:
        """Submit a run of `job_name`; returns its run id."""
        try:
            return self._client().submit_job_execution(
                job_name, run_config=dict(run_config), tags=dict(tags or {})
            )
        except Exception as exc:  # the client's own errors, and requests/gql transport errors
            reason = str(exc.__cause__ or exc).strip().splitlines()[0][:300]
            raise DagsterUnavailableError(
                f"Dagster at {self.graphql_url} did not launch {job_name}: {reason}"
            ) from None

    def run(self, run_id: str) -> RunInfo:
        data = self._graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        if data["__typename"] == "RunNotFoundError":
            raise RunNotFoundError(run_id)
        if data["__typename"] != "Run":
            raise DagsterUnavailableError(f"Dagster could not read run {run_id}: {data.get('message')}")
        tags = {tag["key"]: tag["value"] for tag in data["tags"]}
        return RunInfo(data["runId"], data["status"], data["jobName"], tags)

    def run_tagged(self, key: str, value: str) -> RunInfo | None:
        """The latest run carrying tag `key=value`, or None (e.g. a queued API request not started yet)."""
        variables = {"filter": {"tags": [{"key": key, "value": value}]}}
        data = self._graphql(RUNS_BY_TAG_QUERY, variables)["runsOrError"]
        if data["__typename"] != "Runs":
            raise DagsterUnavailableError(f"Dagster could not list runs tagged {key}: {data.get('message')}")
        if not data["results"]:
            return None
        run = data["results"][0]
        return RunInfo(
            run["runId"], run["status"], run["jobName"], {t["key"]: t["value"] for t in run["tags"]}
        )

    def launch_partition_backfill(
        self,
        asset_keys: Sequence[str],
        *,
        partition_keys: Sequence[str] | None = None,
        partition_range: tuple[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Backfill `asset_keys` (`a/b` paths) over partition keys or an inclusive key range; returns its id.

        With a range, each asset's backfill policy splits it into runs (the daily chain: one run per
        `OEE_BACKFILL_DAYS_PER_RUN` days).
        """
        if (partition_keys is None) == (partition_range is None):
            raise ValueError("give either partition_keys or partition_range")
        selection = [{"path": key.split("/")} for key in asset_keys]
        params: dict[str, Any] = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        if partition_keys is not None:
            params["assetSelection"] = selection
            params["partitionNames"] = list(partition_keys)
        else:
            assert partition_range is not None
            start, end = partition_range
            params["partitionsByAssets"] = [
                {"assetKey": key, "partitions": {"range": {"start": start, "end": end}}} for key in selection
            ]
        data = self._graphql(BACKFILL_MUTATION, {"params": params})["launchPartitionBackfill"]
        if data["__typename"] != "LaunchBackfillSuccess":
            raise DagsterUnavailableError(
                f"Dagster refused the backfill: {data.get('message', data['__typename'])}"
            )
        return str(data["backfillId"])

    def backfill_status(self, backfill_id: str) -> str:
        """The backfill's BulkActionStatus: REQUESTED, COMPLETED_SUCCESS, COMPLETED_FAILED, CANCELED, ..."""
        data = self._graphql(BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"]
        if data["__typename"] != "PartitionBackfill":
            raise DagsterUnavailableError(
                f"Dagster could not read backfill {backfill_id}: {data.get('message')}"
            )
        return str(data["status"])

    def _graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        try:
            response = httpx.post(
                self.graphql_url,
                json={"query": query, "variables": dict(variables)},
                timeout=self.timeout_seconds,
            )
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DagsterUnavailableError(f"Dagster at {self.graphql_url} is unreachable: {exc}") from None
        if body.get("errors"):
            raise DagsterUnavailableError(f"Dagster GraphQL error: {body['errors'][0].get('message')}")
        return body["data"]

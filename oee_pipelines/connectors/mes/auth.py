"""httpx authentication for MES/ERP systems: OAuth2 client credentials, basic, API key."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx

from oee_pipelines.connectors.errors import SourceDataError
from oee_pipelines.connectors.http import RetryingHttpClient
from oee_pipelines.connectors.mes.config import SourceConnectionConfig

# Ask for a new token a little before the old one expires, so a request never races its expiry.
TOKEN_EXPIRY_MARGIN_SECONDS = 30.0


@dataclass
class _CachedToken:
    value: str
    expires_at: float


class OAuth2ClientCredentials(httpx.Auth):
    """Bearer token from the client-credentials grant, cached until expiry, re-fetched once on 401."""

    def __init__(
        self,
        token_client: RetryingHttpClient,
        token_path: str,
        client_id: str,
        client_secret: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token_client = token_client
        self._token_path = token_path
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._cached: _CachedToken | None = None

    def close(self) -> None:
        self._token_client.close()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        response = yield request
        if response.status_code == 401:
            self._cached = None
            request.headers["Authorization"] = f"Bearer {self.token()}"
            yield request

    def token(self) -> str:
        if self._cached is None or self._clock() >= self._cached.expires_at:
            self._cached = self._fetch_token()
        return self._cached.value

    def _fetch_token(self) -> _CachedToken:
        call = "fetch OAuth2 token"
        response = self._token_client.post(
            self._token_path,
            call=call,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 0))
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceDataError(
                self._token_client.system, call, f"unreadable token answer: {exc!r}"
            ) from None
        return _CachedToken(token, self._clock() + lifetime - TOKEN_EXPIRY_MARGIN_SECONDS)


class ApiKeyAuth(httpx.Auth):
    def __init__(self, header: str, key: str) -> None:
        self._header = header
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._key
        yield request


def build_auth(config: SourceConnectionConfig, system: str) -> httpx.Auth | None:
    """The httpx auth for `config.auth_type`; the OAuth2 token endpoint shares the retry policy."""
    if config.auth_type == "basic":
        return httpx.BasicAuth(config.credential("username"), config.credential("password"))
    if config.auth_type == "api_key":
        return ApiKeyAuth(config.api_key_header, config.credential("api_key"))
    if config.auth_type == "oauth2":
        token_client = RetryingHttpClient(system, config.base_url, policy=config.retry_policy())
        return OAuth2ClientCredentials(
            token_client,
            config.token_path,
            config.credential("client_id"),
            config.credential("client_secret"),
        )
    return None


class AuthenticatedClient:
    """A RetryingHttpClient for `config` with its auth; closing it also closes the token client."""

    def __init__(self, config: SourceConnectionConfig, system: str, auth: httpx.Auth | None = None) -> None:
        self.auth = auth or build_auth(config, system)
        self.http = RetryingHttpClient(system, config.base_url, policy=config.retry_policy(), auth=self.auth)

    def close(self) -> None:
        self.http.close()
        for auth in (self.auth, getattr(self.auth, "inner", None)):
            if isinstance(auth, OAuth2ClientCredentials):
                auth.close()

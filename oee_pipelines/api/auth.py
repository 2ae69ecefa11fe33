"""API keys: created once and shown once, stored as a SHA-256 hash, revocable, optionally expiring, tied
to one organization, with a scope ('read' or 'admin')."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from psycopg import Connection, sql

from oee_pipelines.observability.metrics import API_KEY_REFUSALS

KEY_PREFIX_LENGTH = 12  # "oee_" and 8 random characters: enough to tell keys apart in a listing


class ApiKeyError(Exception):
    """A key operation that cannot be done (unknown organization, no such key); says why."""


SCOPES = ("read", "admin")  # 'admin' may also change the plant model (PUT /api/plant/model)


@dataclass(frozen=True)
class ApiIdentity:
    key_id: int
    org_id: str
    name: str
    scope: str = "admin"

    def has_scope(self, needed: str) -> bool:
        """An 'admin' key may do what a 'read' key may; a 'read' key only reads."""
        return self.scope == "admin" or self.scope == needed


def scope_refusal(identity: ApiIdentity, needed: str) -> str | None:
    """Why the key may not do what needs `needed` (None: it may)."""
    if identity.has_scope(needed):
        return None
    API_KEY_REFUSALS.labels(reason="scope", key_id=str(identity.key_id)).inc()
    return f"this API key has scope {identity.scope!r}; this action needs an {needed!r}-scoped key"


@dataclass(frozen=True)
class ApiKeyListing:
    key_id: int
    org_id: str
    name: str
    key_prefix: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        """'revoked', 'expired' or 'active' at `now`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


@dataclass(frozen=True)
class KeyRefused:
    """Why a sent key is not accepted; `message` is what the caller is told."""

    reason: Literal["invalid", "revoked", "expired"]
    key_id: int | None
    message: str


def hash_key(key: str) -> str:
    # The key is 32 random bytes, so a fast unsalted hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(
    conn: Connection, org_id: str, name: str, scope: str = "admin", expires_at: datetime | None = None
) -> tuple[int, str]:
    """A new key for `org_id`, valid until `expires_at` (None: until revoked): returns (id, the key
    itself). Only the hash is stored."""
    if scope not in SCOPES:
        raise ApiKeyError(f"--scope: {scope!r} is not one of {', '.join(SCOPES)}")
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= datetime.now(UTC)):
        raise ApiKeyError(f"--expires-in-days: the expiry {expires_at} must be a future, timezone-aware time")
    if conn.execute("SELECT 1 FROM organizations WHERE id = %s", (org_id,)).fetchone() is None:
        raise ApiKeyError(f"--org: no organization {org_id!r} in the warehouse (load the plant first)")
    key = "oee_" + secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO api_keys (org_id, name, key_prefix, key_hash, scope, expires_at) "
        "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (org_id, name, key[:KEY_PREFIX_LENGTH], hash_key(key), scope, expires_at),
    ).fetchone()
    assert row is not None
    return int(row[0]), key


def revoke_api_key(conn: Connection, id_or_prefix: str) -> int:
    """Revoke one key by id or by its shown prefix; returns its id."""
    column = "id" if id_or_prefix.isdigit() else "key_prefix"
    value: int | str = int(id_or_prefix) if id_or_prefix.isdigit() else id_or_prefix
    matches = conn.execute(
        sql.SQL("SELECT id, revoked_at FROM api_keys WHERE {} = %s").format(sql.Identifier(column)), (value,)
    ).fetchall()
    if not matches:
        raise ApiKeyError(f"no API key with id or prefix {id_or_prefix!r}")
    if len(matches) > 1:
        raise ApiKeyError(f"prefix {id_or_prefix!r} matches {len(matches)} keys; revoke by id")
    key_id = int(matches[0][0])
    conn.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,))
    return key_id


def list_api_keys(conn: Connection, org_id: str) -> list[ApiKeyListing]:
    rows = conn.execute(
        """SELECT id, org_id, name, key_prefix, scope, created_at, last_used_at, expires_at, revoked_at
           FROM api_keys WHERE org_id = %s ORDER BY id""",
        (org_id,),
    ).fetchall()
    return [ApiKeyListing(*row) for row in rows]


def check_key(conn: Connection, key: str) -> ApiIdentity | KeyRefused:
    """The identity of an active key, or why the key is refused (unknown, revoked, expired)."""
    row = conn.execute(
        "SELECT id, org_id, name, scope, revoked_at IS NOT NULL, expires_at, expires_at <= now(), "
        "last_used_at IS NULL OR last_used_at < now() - interval '1 minute' "
        "FROM api_keys WHERE key_hash = %s",
        (hash_key(key),),
    ).fetchone()
    if row is None:
        return KeyRefused("invalid", None, "unknown or revoked API key")
    key_id, org_id, name, scope, revoked, expires_at, expired, stale_last_use = row
    if revoked:
        return KeyRefused("revoked", int(key_id), "unknown or revoked API key")
    if expired:
        return KeyRefused(
            "expired",
            int(key_id),
            f"this API key expired at {expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC; "
            "ask for a new one (oee api-key create)",
        )
    if stale_last_use:
        # At most one write per key per minute, so a busy BI refresh does not serialize on this row.
        conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (key_id,))
    return ApiIdentity(key_id=int(key_id), org_id=str(org_id), name=str(name), scope=str(scope))


def identify(conn: Connection, key: str) -> ApiIdentity | None:
    """The organization an active key belongs to, or None for an unknown, revoked or expired key."""
    checked = check_key(conn, key)
    return checked if isinstance(checked, ApiIdentity) else None

"""API keys: created once and shown once, stored as a SHA-256 hash, revocable, tied to one organization."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection, sql

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
    return f"this API key has scope {identity.scope!r}; this action needs an {needed!r}-scoped key"


@dataclass(frozen=True)
class ApiKeyListing:
    key_id: int
    org_id: str
    name: str
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    # The key is 32 random bytes, so a fast unsalted hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(conn: Connection, org_id: str, name: str, scope: str = "admin") -> tuple[int, str]:
    """A new key for `org_id`: returns (id, the key itself). Only the hash is stored."""
    if scope not in SCOPES:
        raise ApiKeyError(f"--scope: {scope!r} is not one of {', '.join(SCOPES)}")
    if conn.execute("SELECT 1 FROM organizations WHERE id = %s", (org_id,)).fetchone() is None:
        raise ApiKeyError(f"--org: no organization {org_id!r} in the warehouse (load the plant first)")
    key = "oee_" + secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO api_keys (org_id, name, key_prefix, key_hash, scope) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (org_id, name, key[:KEY_PREFIX_LENGTH], hash_key(key), scope),
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
        """SELECT id, org_id, name, key_prefix, created_at, last_used_at, revoked_at
           FROM api_keys WHERE org_id = %s ORDER BY id""",
        (org_id,),
    ).fetchall()
    return [ApiKeyListing(*row) for row in rows]


def identify(conn: Connection, key: str) -> ApiIdentity | None:
    """The organization an active key belongs to, or None for an unknown or revoked key."""
    row = conn.execute(
        "SELECT id, org_id, name, last_used_at < now() - interval '1 minute' OR last_used_at IS NULL, "
        "scope FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL "
        "AND (expires_at IS NULL OR expires_at > now())",
        (hash_key(key),),
    ).fetchone()
    if row is None:
        return None
    if row[3]:
        # At most one write per key per minute, so a busy BI refresh does not serialize on this row.
        conn.execute("UPDATE api_keys SET last_used_at = now() WHERE id = %s", (row[0],))
    return ApiIdentity(key_id=int(row[0]), org_id=str(row[1]), name=str(row[2]), scope=str(row[4]))

"""Apply the ordered SQL migrations in `sql/`, recording each in `schema_migrations`.

Every migration is idempotent by contract, so a file whose checksum changed since it was applied is
applied again (and reported); unchanged files are skipped, which makes `oee db migrate` a no-op on re-run.

The migrations ship inside the package: `oee_pipelines/storage/sql` is a symlink to the repository's
top-level `sql/` folder, which setuptools follows when it builds the wheel, so a wheel install (no
repository anywhere) and an editable install both find them with `importlib.resources`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import psycopg

from oee_pipelines.storage.catalog import apply_comments

# A package on disk (a wheel or editable install, never a zip) gives a real folder.
SQL_DIR = Path(str(files("oee_pipelines.storage") / "sql"))
_MIGRATION_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# Any fixed number: serialises concurrent `migrate` calls (CLI, daemon, tests) across processes.
_ADVISORY_LOCK_ID = 4_202_511


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


class NoMigrationsError(RuntimeError):
    """No migration file where there must be some: a broken install, not an up-to-date warehouse."""


@dataclass(frozen=True)
class MigrationResult:
    applied: list[str]
    reapplied: list[str]
    skipped: list[str]


def discover(sql_dir: Path = SQL_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 001_name.sql: {path.name}")
        migrations.append(Migration(version=match.group(1), name=match.group(2), path=path))
    versions = [m.version for m in migrations]
    duplicates = sorted({v for v in versions if versions.count(v) > 1})
    if duplicates:
        raise ValueError(f"two migrations share version {duplicates[0]} in {sql_dir}")
    return migrations


def migrate(database_url: str, sql_dir: Path = SQL_DIR) -> MigrationResult:
    """Apply what is new or changed in `sql_dir`; raise `NoMigrationsError` when it holds none."""
    migrations = discover(sql_dir)
    if not migrations:
        # Reporting "up to date" here would be a silent success that created no table.
        raise NoMigrationsError(
            f"no migrations found in {sql_dir}: the package was built or installed without its "
            "sql/ files; reinstall it (the wheel must contain oee_pipelines/storage/sql/*.sql)"
        )
    applied: list[str] = []
    reapplied: list[str] = []
    skipped: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_ID,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version text PRIMARY KEY,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            known: dict[str, str] = dict(
                conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
            )
            for migration in migrations:
                checksum = migration.checksum
                if known.get(migration.version) == checksum:
                    skipped.append(migration.path.name)
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        """INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)
                           ON CONFLICT (version) DO UPDATE
                           SET name = EXCLUDED.name, checksum = EXCLUDED.checksum, applied_at = now()""",
                        (migration.version, migration.name, checksum),
                    )
                (reapplied if migration.version in known else applied).append(migration.path.name)
            # The catalog's column descriptions as comments, for BI tools (only what changed).
            apply_comments(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_ID,))
    return MigrationResult(applied=applied, reapplied=reapplied, skipped=skipped)

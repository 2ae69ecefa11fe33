"""The embedded PostgreSQL default: a real server from the `pgserver` wheel in a local data folder.

Used only when OEE_DATABASE_URL is unset. The server keeps running between commands (the CLI, the
Dagster daemon, the API and tests all share it) until `oee db stop` or the process that started
it asks to stop it.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import psycopg

DATABASE_NAME = "oee"

# Bulk loads and BI scans: more WAL before a checkpoint, more memory per sort/hash.
_SERVER_SETTINGS = {
    "max_wal_size": "4GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
}


def _quiet_pgserver_import() -> None:
    """Import pgserver without platformdirs' RuntimeDirWarning ("XDG_RUNTIME_DIR is not set ...").

    pgserver computes a runtime path when its module loads: on a server or in a container without a
    login session there is no XDG_RUNTIME_DIR, platformdirs falls back to /tmp/runtime-<uid> (which
    works) and warns on every `oee` command. The warning is about the user's session, not about
    anything they did, so it is filtered here, by its message, around that one import.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR ")
        import pgserver  # noqa: F401


class EmbeddedPostgres:
    def __init__(self, pgdata: Path) -> None:
        self.pgdata = Path(pgdata).resolve()

    def is_running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return False
        _quiet_pgserver_import()
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running()

    def start(self) -> str:
        """Start the server if needed; return the URL of the `oee` database."""
        _quiet_pgserver_import()
        import pgserver

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        admin_url = server.get_uri()
        self._ensure_settings_and_database(admin_url)
        return server.get_uri(DATABASE_NAME)

    def stop(self) -> bool:
        """Stop the server if it runs; True when it was running."""
        if not self.is_running():
            return False
        _quiet_pgserver_import()
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # made at import, one per binary

        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
        return True

    def _ensure_settings_and_database(self, admin_url: str) -> None:
        # Every warehouse connection of the default set-up resolves its URL here: change and reload the
        # server's settings only when they differ (ALTER SYSTEM rewrites postgresql.auto.conf each time).
        with psycopg.connect(admin_url, autocommit=True) as conn:
            stale = [
                name
                for name, value in _SERVER_SETTINGS.items()
                if conn.execute("SELECT current_setting(%s)", (name,)).fetchone() != (value,)
            ]
            for name in stale:
                conn.execute(f"ALTER SYSTEM SET {name} = '{_SERVER_SETTINGS[name]}'")
            if stale:
                conn.execute("SELECT pg_reload_conf()")
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {DATABASE_NAME}")

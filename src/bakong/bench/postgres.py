"""A throwaway PostgreSQL server for the central-database baseline of `bakong bench network`.

`PostgresServer` runs `initdb` in a fresh temporary directory, starts the server with
`pg_ctl`, hands out a DSN, and on `stop()` shuts it down (`pg_ctl stop -m fast`) and deletes
the directory. It is a context manager. Nothing is shared with any PostgreSQL the machine may
already run: its own data directory, its own port on 127.0.0.1, its own Unix socket directory.

Binaries: `initdb`, `pg_ctl` and `postgres` from PATH, else the newest
`/usr/lib/postgresql/*/bin` (Debian puts them there, off PATH). None found raises
`PostgresNotInstalled` with what to install. `initdb` and `pg_ctl` refuse to run as root, so
as root they run as the `postgres` user (`runuser -u postgres --`) on a directory it owns.

Settings, and why (the baseline must be durable like a validator, which fsyncs each block):
- `fsync=on`, `synchronous_commit=on`, `full_page_writes=on`: a transfer is answered only
  once its commit record is flushed to disk. These are PostgreSQL's defaults; they are
  written out so that nobody "tunes" the baseline into a non-durable one by accident.
  Only a server for tests passes `durable=False` (all three off): tests kill clients and
  services, never this server, and each creates a database that would otherwise be fsynced.
- `commit_delay=0`: PostgreSQL already groups the WAL flushes of concurrent commits; an
  artificial delay would only add latency.
- `max_connections=100`, `shared_buffers=256MB`: room for the service's pool (the default
  128MB is tight once 10^5 accounts, their signatories and the transfers table are loaded).
- `max_wal_size=4GB`: no checkpoint forced by WAL volume in the middle of a 30 s run.
- Authentication is `trust`, reachable only on 127.0.0.1 and a socket in a 0700 directory:
  this server holds nothing but benchmark data and lives for one run.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from bakong import limits
from bakong.errors import LocalError
from bakong.ports import loopback_port

__all__ = ["PostgresError", "PostgresNotInstalled", "PostgresServer", "find_postgres_bin"]

_BINARIES = ("initdb", "pg_ctl", "postgres")
_SUPERUSER = "bakong"
_DATABASE = "postgres"


class PostgresError(LocalError):
    """The throwaway PostgreSQL server could not be set up, started or stopped."""


class PostgresNotInstalled(PostgresError):
    """The PostgreSQL server binaries are not on this machine."""


def find_postgres_bin() -> Path:
    """The directory holding `initdb`, `pg_ctl` and `postgres`. Raises `PostgresNotInstalled`."""
    on_path = [shutil.which(name) for name in _BINARIES]
    if all(on_path):
        # Debian links them into PATH; the real directory keeps the three together.
        directory = Path(os.path.realpath(str(on_path[0]))).parent
        if all((directory / name).exists() for name in _BINARIES):
            return directory
        return Path(str(on_path[0])).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: int(Path(path).parent.name) if Path(path).parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        if all((Path(candidate) / name).exists() for name in _BINARIES):
            return Path(candidate)
    raise PostgresNotInstalled(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) are not on PATH nor in "
        "/usr/lib/postgresql/*/bin: install the Debian `postgresql` package "
        "(`make test` does so when run as root)"
    )


class PostgresServer:
    """One PostgreSQL server in a temporary directory under `parent` (default: the system's).

    `start()` (or entering the context) brings it up; `dsn` is then a libpq connection string
    over its Unix socket; `stop()` (or leaving the context) shuts it down and removes the
    directory. Stopping twice is harmless. `durable=False` is for tests only (see above).
    """

    def __init__(
        self,
        parent: Path | None = None,
        *,
        max_connections: int = 100,
        shared_buffers_mb: int = 256,
        durable: bool = True,
    ) -> None:
        assert 10 <= max_connections <= 10_000
        assert 16 <= shared_buffers_mb <= 65_536
        self.bin = find_postgres_bin()
        self.parent = parent
        self.max_connections = max_connections
        self.shared_buffers_mb = shared_buffers_mb
        self.durable = durable
        self.directory: Path | None = None
        self.port = 0
        self._running = False
        # `initdb` and `pg_ctl` refuse root; as root, run them as the `postgres` user.
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresNotInstalled(
                    "running as root needs the `postgres` system user (the Debian "
                    "`postgresql` package creates it)"
                ) from None
            self._as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def data_dir(self) -> Path:
        assert self.directory is not None, "start() first"
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.directory is not None, "start() first"
        return self.directory

    @property
    def log_path(self) -> Path:
        assert self.directory is not None, "start() first"
        return self.directory / "postgres.log"

    @property
    def dsn(self) -> str:
        """libpq connection string over the Unix socket (the fastest local transport)."""
        assert self._running, "start() first"
        return f"host={self.socket_dir} port={self.port} user={_SUPERUSER} dbname={_DATABASE}"

    @property
    def tcp_dsn(self) -> str:
        """The same server over TCP on 127.0.0.1."""
        assert self._running, "start() first"
        return f"host=127.0.0.1 port={self.port} user={_SUPERUSER} dbname={_DATABASE}"

    def _run(self, *arguments: str) -> None:
        command = [*self._as_user, *arguments]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresError(
                f"{Path(arguments[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-limits.postgres_log_tail_bytes:]}"
                f"{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        if self.directory is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace")[-limits.postgres_log_tail_bytes:]
        return f"\nserver log ({self.log_path}):\n{text}"

    def _make_directory(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="bakong-pg-", dir=self.parent))
        if self._as_user:
            # The server runs as `postgres`: it must own its directory (and the socket in it).
            owner = pwd.getpwnam("postgres")
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        return directory

    def _settings(self) -> str:
        durability = "on" if self.durable else "off"
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": durability,
            "synchronous_commit": durability,
            "full_page_writes": durability,
            "commit_delay": "0",
            "max_connections": str(self.max_connections),
            "shared_buffers": f"{self.shared_buffers_mb}MB",
            "max_wal_size": "4GB",
            "logging_collector": "off",
        }
        lines = [f"{name} = {value}" for name, value in settings.items()]
        return "\n# bakong bench: see bakong.bench.postgres\n" + "\n".join(lines) + "\n"

    def start(self) -> PostgresServer:
        """initdb, configure and start; waits until the server accepts connections."""
        assert not self._running, "already started"
        self.directory = self._make_directory()
        try:
            self.port = loopback_port()
            self._run(
                str(self.bin / "initdb"),
                "--pgdata", str(self.data_dir),
                "--username", _SUPERUSER,
                "--auth", "trust",
                "--encoding", "UTF8",
                "--locale", "C",
                "--no-sync",  # the empty cluster is thrown away anyway; the server fsyncs
            )  # fmt: skip
            with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
                conf.write(self._settings())
            self._run(
                str(self.bin / "pg_ctl"),
                "--pgdata", str(self.data_dir),
                "--log", str(self.log_path),
                "--wait",
                "--timeout", str(limits.postgres_start_timeout_s),
                "start",
            )  # fmt: skip
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
            raise
        self._running = True
        return self

    def stop(self) -> None:
        """Fast shutdown (open sessions are rolled back), then remove the directory."""
        if self.directory is None:
            return
        try:
            if self._running:
                self._run(
                    str(self.bin / "pg_ctl"), "--pgdata", str(self.data_dir),
                    "--wait", "--mode", "fast", "stop",
                )  # fmt: skip
        finally:
            self._running = False
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

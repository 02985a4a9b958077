"""Shared fixtures: the real bundled model (loaded once) and small real indexes built from fixture corpora."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests fire requests faster than any reader; rate limiting has its own tests (test_guards.py) with explicit limits.
os.environ.setdefault("SIFT_RATE_LIMIT_PER_MINUTE", "0")

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
TINY = FIXTURES / "tiny_corpus.jsonl"


@pytest.fixture(scope="session")
def embedder():
    """The model as Sift runs it by default: ONNX Runtime fp32, exported on first use into the cache folder (a fresh
    home folder exports it here; nothing relies on an earlier run's export)."""
    from search_api.settings import Settings

    return Settings().embedder()


@pytest.fixture(scope="session")
def torch_embedder():
    """The same model on PyTorch (sentence-transformers): the reference the ONNX runtime is measured against."""
    from models import Embedder

    return Embedder(backend="torch")


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory, embedder) -> Path:
    from indexer.pipeline import index_sources

    path = tmp_path_factory.mktemp("tiny") / "idx"
    report = index_sources([TINY], path, embedder, progress=False)
    assert report.added == 12 and report.skipped == 0
    return path


@pytest.fixture(scope="session")
def tiny_engine(tiny_index, embedder):
    from search_api.engine import Engine
    from search_api.related.policy import RelatedRules

    # The tiny corpus is twelve unrelated stories: with the similarity floor most related lists would be short.
    # Tests over it check order, paging and escaping; tests/search_api/test_related.py checks the floor.
    return Engine.open(tiny_index, embedder, related_rules=RelatedRules(min_similarity=-1.0))


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, embedder) -> Path:
    from indexer.pipeline import index_sources

    path = tmp_path_factory.mktemp("sample") / "idx"
    report = index_sources([SAMPLE], path, embedder, progress=False)
    assert report.skipped == 0, [str(e) for e in report.errors]
    return path


@pytest.fixture(scope="session")
def sample_engine(sample_index, embedder):
    from search_api.engine import Engine

    return Engine.open(sample_index, embedder)


@pytest.fixture(scope="session")
def late_sample_engine(tmp_path_factory, sample_index, embedder):
    """The sample corpus indexed with late interaction on (SIFT_LATE_INTERACTION): a copy of the sample index whose
    next `sift index` adds every passage's token codes (the passage vectors come from its cache)."""
    import shutil

    from indexer.pipeline import index_sources
    from search_api.engine import Engine

    path = tmp_path_factory.mktemp("sample-late") / "idx"
    shutil.copytree(sample_index, path)
    report = index_sources([SAMPLE], path, embedder, progress=False, late_interaction=True)
    assert report.embedded == 0 and report.published
    return Engine.open(path, embedder)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """`sift serve` running in its own process; its log (stdout and stderr) goes to `log_path`."""

    proc: subprocess.Popen
    base: str
    log_path: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def json_log(self) -> list[dict]:
        """Every log line as the JSON object it must be."""
        return [json.loads(line) for line in self.log_lines()]

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit status (raises if the server outlives `timeout`)."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL to the server and every process it started (a `--workers N` server's workers would outlive it)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own process group: see `launch`
        except (ProcessLookupError, PermissionError):
            pass

    def close(self, timeout: float = 15.0) -> None:
        """Stop it whatever state it is in: SIGTERM, SIGKILL after `timeout`."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="session")
def launch():
    """Start `sift serve` over an index on a free loopback port: `launch(index_dir, log_dir, env={...}, args=[...],
    preexec_fn=..., wait=True)`. Returns a Server once /health answers (or, with `wait=False`, at once). The caller
    closes it; any still running when the session ends are killed."""
    started: list[Server] = []

    def start(index_dir: Path, log_dir: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = (),
              preexec_fn=None, wait: bool = True, timeout: float = 120.0) -> Server:
        port = _free_port()
        full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "SIFT_INDEX_DIR": str(index_dir), "SIFT_PORT": str(port),
                    **(env or {})}
        log_path = Path(log_dir) / f"server-{port}.log"
        with open(log_path, "wb") as log:  # a file: a pipe nobody reads fills up and stalls the server
            proc = subprocess.Popen(
                [sys.executable, "-m", "search_api.cli", "serve", *args], env=full_env, cwd=REPO,
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec_fn,
                start_new_session=True,  # a group of its own, which `kill` ends with any workers it started
            )
        server = Server(proc, f"http://127.0.0.1:{port}", log_path)
        started.append(server)
        deadline = time.monotonic() + timeout
        while wait and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                if httpx.get(f"{server.base}/health", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.2)
        if wait:
            server.close()
            pytest.fail(f"the server did not answer /health within {timeout:.0f} s:\n{server.log_path.read_text(errors='replace')}")
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL 18 with pgvector (tests/postgres.py), started on first use in each test worker and stopped
    when its session ends."""
    from tests.postgres import PostgresServer

    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def postgres_url(postgres_server):
    """A fresh database of its own (pgvector installed), dropped after the test: postgresql://postgres@127.0.0.1:…"""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="module")
def module_postgres_url(postgres_server):
    """A fresh database (pgvector installed) for the module's tests to share, dropped after the last of them."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)

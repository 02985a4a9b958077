"""Fixtures of the reliability suite: private copies of the shared indexes (faults damage them, writes change
them), and `sift serve` started in its own process on a free loopback port."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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


@pytest.fixture()
def serve(launch, tmp_path):
    """Start `sift serve` over an index with this suite's API key and no rate limit: `serve(index_dir, env={...},
    args=[...], preexec_fn=..., wait=True)` (see `launch`). Servers still running at teardown are killed."""
    started: list = []

    def start(index_dir: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = (),
              preexec_fn=None, wait: bool = True):
        server = launch(index_dir, tmp_path, env={"SIFT_API_KEY": API_KEY, "SIFT_RATE_LIMIT_PER_MINUTE": "0",
                                                  **(env or {})}, args=args, preexec_fn=preexec_fn, wait=wait)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()

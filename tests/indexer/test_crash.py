"""Crash safety for real: `sift index` killed with SIGKILL at several points never costs the live version."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.publish import current_version
from indexer.store import Store
from search_api.engine import Engine

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def _sift_index(idx: Path, env_extra: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SIFT_INDEX_DIR": str(idx), **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "search_api.cli", "index", str(SAMPLE), "-q"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_after(proc: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL after `seconds`; False if the run had already finished."""
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def _assert_consistent(idx: Path, embedder, previous: str | None) -> str | None:
    with Store(idx / "store.sqlite") as store:  # opens cleanly, schema intact
        store.count_articles()
    live = current_version(idx)
    assert live == previous or live is not None and int(live) == int(previous or 0) + 1
    if live is not None:
        Engine.open(idx, embedder, verify=True).search("floods", k=3)  # complete, checksums match
    return live


@pytest.mark.slow
def test_sigkill_at_many_points_keeps_a_serving_version(tmp_path, embedder):
    idx = tmp_path / "idx"
    live = None
    kills = 0
    # A fresh run, killed while loading the model, reading, embedding and publishing, resumed each time.
    for delay in (2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0):
        killed = _kill_after(_sift_index(idx), delay)
        kills += killed
        live = _assert_consistent(idx, embedder, live)
    final = _sift_index(idx)
    assert final.wait(300) == 0
    live = _assert_consistent(idx, embedder, live)
    assert Engine.open(idx, embedder).stats().articles == 164

    # A publish-only run (new build parameter, nothing to embed), killed at finer steps through the publish.
    for delay in (2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0):
        previous = live
        killed = _kill_after(_sift_index(idx, {"SIFT_DUPLICATE_THRESHOLD": f"{0.81 + delay / 100:.3f}"}), delay)
        kills += killed
        live = _assert_consistent(idx, embedder, previous)
    assert kills >= 8, "the kill points should mostly land inside runs"
    # a run with yet another build parameter always publishes, and publishing clears the crashed staging folders
    assert _sift_index(idx, {"SIFT_DUPLICATE_THRESHOLD": "0.9"}).wait(300) == 0
    assert current_version(idx) != live
    assert not [p.name for p in (idx / "versions").iterdir() if p.name.startswith(".building")]

"""`sift serve --workers N`: N uvicorn processes built by the app factory, all mapping the same index files."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from indexer.publish import current_version_dir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two workers each load the model
def test_two_workers_answer_and_share_the_mapped_index(tiny_index):
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SIFT_RATE_LIMIT_PER_MINUTE": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "search_api.cli", "serve", "--index", str(tiny_index), "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")
            workers = [c for c in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
            mapped = [w for w in workers if "dense.faiss" in Path(f"/proc/{w.pid}/maps").read_text()]
            if len(mapped) == 2:
                break
            time.sleep(0.5)
        else:
            pytest.fail("two workers did not load the index within 180 s")
        # mapping the index is not being ready: a worker still builds its tables and starts listening after it
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("the server did not answer /health within 180 s")
        r = httpx.get(f"{base}/search", params={"q": "debt bondage on trawlers", "k": 3}, timeout=30)
        assert r.status_code == 200 and r.json()["hits"][0]["id"] == "t10"
        dense = str(current_version_dir(tiny_index).resolve() / "dense.faiss")
        for worker in workers:  # the file is mapped into each worker, not read into private memory
            assert dense in Path(f"/proc/{worker.pid}/maps").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

"""`sift serve --workers N`: N uvicorn processes built by the app factory, all mapping the same index files."""

import os
import signal
import time
from pathlib import Path

import httpx
import psutil
import pytest

from indexer.publish import current_version_dir


@pytest.mark.slow  # two workers each load the model
def test_two_workers_answer_and_share_the_mapped_index(tiny_index, launch, tmp_path):
    # `launch` gives it its own process group, so the workers go too whatever state the test leaves them in
    server = launch(tiny_index, tmp_path, env={"SIFT_RATE_LIMIT_PER_MINUTE": "0"}, args=("--workers", "2"),
                    timeout=180)
    try:
        deadline = time.monotonic() + 180
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline:  # /health answered by one worker; wait for both to map the index
            workers = [c for c in psutil.Process(server.proc.pid).children() if "spawn_main" in " ".join(c.cmdline())]
            mapped = [w for w in workers if "dense.faiss" in Path(f"/proc/{w.pid}/maps").read_text()]
            if len(mapped) == 2:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"two workers did not load the index within 180 s:\n{server.log_path.read_text(errors='replace')}")
        r = httpx.get(f"{server.base}/search", params={"q": "debt bondage on trawlers", "k": 3}, timeout=30)
        assert r.status_code == 200 and r.json()["hits"][0]["id"] == "t10"
        dense = str(current_version_dir(tiny_index).resolve() / "dense.faiss")
        for worker in workers:  # the file is mapped into each worker, not read into private memory
            assert dense in Path(f"/proc/{worker.pid}/maps").read_text()
    finally:
        os.killpg(server.proc.pid, signal.SIGTERM)
        server.close(timeout=30)

"""Load and soak: `sift serve` on a loopback port under N concurrent clients while writes arrive.

Starts a real server (its own process, uvicorn) over a copy of an index (the bundled sample corpus by default,
indexed into a temporary folder), then runs `--clients` async httpx clients for `--duration` seconds. Each client
loops over a mix of search (varied queries, filters, modes, pages), related posts, the widget (fragment, lookup by
URL, widget.js), article lookups and draft-related calls; a writer posts an article with the API key every
`--write-every` seconds, so the server embeds, publishes and swaps versions throughout. The server's RSS is sampled
every `--sample-every` seconds.

Reports requests served, throughput, p50/p95/p99 latency (overall and per kind), errors (anything but 2xx/304 or a
transport failure; must be 0), the status histogram, the versions published, and RSS with a least-squares slope in
MB/min (over the whole run and over its second half, after warm-up). Exits 1 on any error or an unclean shutdown.

    python bench/load.py --duration 20                      # a quick run
    python bench/load.py --duration 600 --clients 16        # the soak (`make soak`)
    python bench/load.py --index idx --json                 # over a copy of an existing index, JSON report
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
API_KEY = "load-test-key"

QUERIES = [
    "child trafficking funding in Africa", "water grants", "floods in Bangladesh", "cholera outbreak response",
    "school feeding programme", "climate resilience call for proposals", "refugees crossing the Mediterranean",
    "cash transfers for displaced families", "malaria bed nets", "drought in the Horn of Africa",
    "gender-based violence shelters", "mangrove restoration", "funding opportunities for NGOs",
    "child labour on cocoa farms", "earthquake relief", "famine early warning", "education for girls",
    "vaccination campaign", "migrant workers rights", "sanitation in refugee camps", "Sahel food insecurity",
    "land rights of indigenous people", "microfinance for women", "heatwave", "emergency shelter kits",
    "grants for youth employment", "Rohingya camps in Cox's Bazar", "debt bondage", "ebola", "locust swarms",
    # hostile or odd input a public search box receives
    "🌊 floods 💧", "вода и санитария", "eau potable au Sénégal", "水 援助", "x" * 300, "'; DROP TABLE articles;--",
    "<script>alert(1)</script>", "the of and a",
]
REGIONS = ["East Africa", "West Africa", "Sahel", "South Asia", "Middle East", "Latin America"]
COUNTRIES = ["Kenya", "Bangladesh", "Nigeria", "Ghana", "Syria", "Haiti"]
# kind → weight in each client's mix
MIX = {
    "search": 45, "related": 20, "widget_fragment": 10, "widget_by_url": 5, "widget_js": 5, "article": 8,
    "draft_related": 2, "stats": 5,
}


@dataclass
class Results:
    started: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)
    versions: set[str] = field(default_factory=set)

    def record(self, kind: str, status: int | None, seconds: float, detail: str = "") -> None:
        self.latencies[kind].append(seconds)
        self.statuses[status if status is not None else "transport"] += 1
        if status is None or not (200 <= status < 300 or status == 304):
            if len(self.errors) < 50:
                self.errors.append(f"{kind}: {status or 'transport error'} {detail[:200]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _slope_mb_per_min(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 3:
        return None
    t = np.array([p[0] for p in points]) / 60.0
    mb = np.array([p[1] for p in points])
    return float(np.polyfit(t, mb, 1)[0])


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ms = np.array(values) * 1000
    return {f"p{q}": round(float(np.percentile(ms, q)), 1) for q in (50, 95, 99)} | {"max": round(float(ms.max()), 1)}


def prepare_index(index: Path | None, workdir: Path) -> Path:
    """A private copy of `index` (writes change it), or the sample corpus indexed afresh."""
    target = workdir / "idx"
    if index is not None:
        shutil.copytree(index, target)
        return target
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    print(f"indexing {SAMPLE} into {target} …", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "search_api.cli", "index", str(SAMPLE), "--index", str(target), "-q"],
                   env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return target


def start_server(index_dir: Path, log_path: Path, extra_env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {
        **os.environ, "HF_HUB_OFFLINE": "1", "SIFT_INDEX_DIR": str(index_dir), "SIFT_PORT": str(port),
        "SIFT_API_KEY": API_KEY,
        # every client comes from 127.0.0.1: one address, one rate-limit bucket; this measures the server instead
        "SIFT_RATE_LIMIT_PER_MINUTE": "0", "SIFT_LOG_FORMAT": "json", **extra_env,
    }
    with open(log_path, "wb") as log:  # a file, not a pipe: one access line per request would fill a pipe and stall
        proc = subprocess.Popen([sys.executable, "-m", "search_api.cli", "serve"], env=env, cwd=REPO,
                                stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"the server did not get ready within 120 s; see {log_path}")


def _request(kind: str, articles: pd.DataFrame, rng: random.Random) -> tuple[str, str, dict]:
    """(method, path, httpx keyword arguments) for one request of `kind`."""
    row = articles.iloc[rng.randrange(len(articles))]
    if kind == "search":
        params: list[tuple[str, str]] = [("q", rng.choice(QUERIES)), ("k", str(rng.choice([5, 10, 20])))]
        roll = rng.random()
        if roll < 0.15:
            params.append(("region", rng.choice(REGIONS)))
        elif roll < 0.25:
            params.append(("country", rng.choice(COUNTRIES)))
        elif roll < 0.35:
            params += [("date_from", "2024-06-01"), ("date_to", "2025-12-31")]
        if rng.random() < 0.2:
            params.append(("mode", rng.choice(["semantic", "keyword"])))
        if rng.random() < 0.15:
            params.append(("offset", str(rng.choice([10, 20]))))
        return "GET", "/search", {"params": params}
    if kind == "related":
        return "GET", f"/articles/{row['id']}/related", {"params": {"k": rng.choice([3, 5, 10])}}
    if kind == "widget_fragment":
        return "GET", f"/widget/related/{row['id']}", {"params": {"k": 5, "layout": rng.choice(["list", "cards"])}}
    if kind == "widget_by_url":
        return "GET", "/widget/related", {"params": {"url": row["url"], "k": 5}}
    if kind == "widget_js":
        return "GET", "/widget.js", {}
    if kind == "article":
        return "GET", f"/articles/{row['id']}", {}
    if kind == "draft_related":
        return "POST", "/related", {"json": {"title": str(row["title"]), "body": str(row["summary"]), "k": 5}}
    return "GET", "/stats", {}


async def client_loop(base: str, until: float, articles: pd.DataFrame, seed: int, results: Results) -> None:
    rng = random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while time.monotonic() < until:
            kind = rng.choices(kinds, weights)[0]
            method, path, kwargs = _request(kind, articles, rng)
            started = time.perf_counter()
            try:
                r = await http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                results.record(kind, None, time.perf_counter() - started, repr(exc))
                continue
            results.record(kind, r.status_code, time.perf_counter() - started, r.text)
            if kind == "search" and r.status_code == 200:
                results.versions.add(r.json()["version"])


async def writer_loop(base: str, until: float, every: float, results: Results) -> None:
    """Upserts one of ten articles every `every` seconds with a new body: each write is a publish and a swap."""
    n = 0
    auth = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while time.monotonic() + every < until:
            await asyncio.sleep(every)
            n += 1
            article = {
                "id": f"load-{n % 10:02d}", "url": f"https://news.example.org/load/{n % 10:02d}",
                "title": f"Field report {n}: cooperative grants for beekeepers in Rwanda",
                "body": f"Update {n}. A cooperative near Huye used a small grant to buy hives and reach honey buyers "
                        f"abroad; {n * 7} families now sell to exporters, and the district plans a second round.",
                "categories": ["Livelihoods"], "published_at": "2026-03-01",
            }
            started = time.perf_counter()
            try:
                r = await http.post("/articles", json={"articles": [article]}, headers=auth)
            except httpx.HTTPError as exc:
                results.record("write", None, time.perf_counter() - started, repr(exc))
                continue
            results.record("write", r.status_code, time.perf_counter() - started, r.text)


async def rss_loop(pid: int, until: float, every: float, results: Results) -> None:
    while time.monotonic() < until:
        mb = _rss_mb(pid)
        if mb is not None:
            results.rss.append((time.monotonic() - results.started, mb))
        await asyncio.sleep(every)


async def run_load(base: str, pid: int, args: argparse.Namespace, articles: pd.DataFrame) -> Results:
    results = Results(started=time.monotonic())
    until = results.started + args.duration
    tasks = [client_loop(base, until, articles, seed, results) for seed in range(args.clients)]
    tasks.append(rss_loop(pid, until, args.sample_every, results))
    if args.write_every > 0:
        tasks.append(writer_loop(base, until, args.write_every, results))
    await asyncio.gather(*tasks)
    # --until-swap: on a loaded machine the writes' publish may land after --duration; the clients go on, a couple of
    # seconds at a time, until their searches have been answered by two versions
    cap = until + args.until_swap
    while args.write_every > 0 and len(results.versions) < 2 and time.monotonic() < cap:
        more = min(cap, time.monotonic() + 2.0)
        await asyncio.gather(*(client_loop(base, more, articles, seed, results) for seed in range(args.clients)),
                             rss_loop(pid, more, args.sample_every, results))
    return results


def report(results: Results, args: argparse.Namespace, elapsed: float, exit_code: int | None, final: dict,
           log_path: Path) -> dict:
    everything = [s for values in results.latencies.values() for s in values]
    server_errors = sum(n for status, n in results.statuses.items() if isinstance(status, int) and status >= 500)
    error_count = sum(n for status, n in results.statuses.items()
                      if not (isinstance(status, int) and (200 <= status < 300 or status == 304)))
    log_levels = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            log_levels[json.loads(line)["level"]] += 1
        except (ValueError, KeyError, TypeError):
            log_levels["not json"] += 1
    half = [p for p in results.rss if p[0] >= elapsed / 2]
    rss = [mb for _, mb in results.rss]
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "clients": args.clients,
        "server_env": args.server_env,
        "duration_s": round(elapsed, 1),
        "requests": len(everything),
        "throughput_rps": round(len(everything) / elapsed, 1),
        "latency_ms": _percentiles(everything),
        "by_kind": {kind: {"requests": len(v), **_percentiles(v)} for kind, v in sorted(results.latencies.items())},
        "errors": error_count,
        "server_errors": server_errors,
        "statuses": {str(k): v for k, v in sorted(results.statuses.items(), key=lambda kv: str(kv[0]))},
        "first_errors": results.errors[:10],
        "writes": len(results.latencies.get("write", [])),
        "versions_seen": len(results.versions),  # by the searches: swaps happened under load
        "final_version": final.get("version"),
        "final_articles": final.get("articles"),
        "rss_mb": {
            "samples": len(rss),
            "start": round(rss[0], 1) if rss else None,
            "end": round(rss[-1], 1) if rss else None,
            "max": round(max(rss), 1) if rss else None,
            "slope_mb_per_min": _round(_slope_mb_per_min(results.rss)),
            "slope_second_half_mb_per_min": _round(_slope_mb_per_min(half)),
            # about twenty points of the curve: (seconds, MB)
            "timeline": [(round(t), round(mb)) for t, mb in results.rss[:: max(1, len(results.rss) // 20)]],
        },
        "server_log_levels": dict(log_levels),
        "server_exit_code": exit_code,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _print(summary: dict) -> None:
    lat = summary["latency_ms"]
    print(f"{summary['requests']} requests in {summary['duration_s']} s from {summary['clients']} clients: "
          f"{summary['throughput_rps']} req/s; "
          f"p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms, p99 {lat.get('p99')} ms")
    print(f"errors {summary['errors']} (5xx {summary['server_errors']}); statuses {summary['statuses']}")
    for kind, facts in summary["by_kind"].items():
        print(f"  {kind:16s} {facts['requests']:7d}  p50 {facts.get('p50'):7.1f}  p95 {facts.get('p95'):7.1f}  "
              f"p99 {facts.get('p99'):7.1f} ms")
    rss = summary["rss_mb"]
    print(f"writes {summary['writes']}, versions seen {summary['versions_seen']}, final version "
          f"{summary['final_version']} ({summary['final_articles']} articles)")
    print(f"RSS {rss['start']} → {rss['end']} MB (max {rss['max']}), slope {rss['slope_mb_per_min']} MB/min, "
          f"second half {rss['slope_second_half_mb_per_min']} MB/min ({rss['samples']} samples)")
    print(f"server log levels {summary['server_log_levels']}; exit code {summary['server_exit_code']}")
    for line in summary["first_errors"]:
        print(f"  error: {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an index to copy and serve [default: index data/sample afresh]")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load [60]")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients [16]")
    parser.add_argument("--write-every", type=float, default=2.0, help="seconds between writes; 0 = none [2]")
    parser.add_argument("--until-swap", type=float, default=0.0, metavar="SECONDS",
                        help="with writes: go on past --duration until searches have seen a new version, at most "
                             "this long [0]")
    parser.add_argument("--sample-every", type=float, default=1.0, help="seconds between RSS samples [1]")
    parser.add_argument("--seed", type=int, default=0, help="offsets the clients' random seeds")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--keep", type=Path, help="keep the server log here")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server, e.g. SIFT_EMBED_BACKEND=onnx (repeatable)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="sift-load-") as tmp:
        workdir = Path(tmp)
        index_dir = prepare_index(args.index, workdir)
        live = index_dir / "versions" / (index_dir / "CURRENT").read_text().strip()
        articles = pd.read_parquet(live / "articles.parquet", columns=["id", "url", "title", "summary"])
        articles = articles[articles["url"].notna()].reset_index(drop=True)
        log_path = workdir / "server.log"
        proc, base = start_server(index_dir, log_path, dict(item.split("=", 1) for item in args.server_env))
        exit_code: int | None = None
        try:
            started = time.monotonic()
            results = asyncio.run(run_load(base, proc.pid, args, articles))
            elapsed = time.monotonic() - started
            final = httpx.get(f"{base}/health", timeout=10).json()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                exit_code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        summary = report(results, args, elapsed, exit_code, final, log_path)
        if args.keep:
            shutil.copy(log_path, args.keep)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print(summary)
    return 0 if summary["errors"] == 0 and exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

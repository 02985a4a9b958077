"""A backup of an index folder while it serves: the live version's files and a consistent copy of store.sqlite.

store.sqlite holds what nothing else does — the articles as ingested, the embedding cache, editors' pins and
excludes, click and search counts — and it is written while `sift serve` runs, in WAL mode: copying the file with
`cp` can catch it between a transaction and its checkpoint and give a database that is missing commits or will not
open. SQLite's online backup copies a committed state page by page, readers and writers carrying on. Versions never
change once published, so the live one is copied as files and checked against its manifest's checksums.

The backup is itself an index folder: `sift serve --index DEST` serves it, `sift index … --index DEST` continues it.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import SiftError
from indexer.publish import CURRENT_FILE, STORE_FILE, VERSIONS_DIR, current_version_dir, read_manifest, verify_files


class BackupFailed(SiftError):
    """The backup could not be written; whatever it had written was removed."""


@dataclass(frozen=True)
class BackupReport:
    destination: Path
    version: str
    articles: int
    store_bytes: int
    version_bytes: int
    seconds: float
    vectors_elsewhere: bool  # the version's passage vectors live in PostgreSQL (pgvector): pg_dump backs them up


def backup_index(index_dir: Path, destination: Path) -> BackupReport:
    """Copy the live version of `index_dir` and a consistent snapshot of its store into `destination` (a new or
    empty folder). The store is copied after the version, so it is at least as new: a later `sift index` on the
    backup publishes whatever the store holds beyond it, as it would on the original."""
    started = time.perf_counter()
    source_version = current_version_dir(index_dir)  # IndexNotFound when nothing was published
    if not (index_dir / STORE_FILE).is_file():
        raise BackupFailed(f"{index_dir} has no {STORE_FILE}: not an index folder")
    if destination.resolve() == index_dir.resolve() or destination.resolve().is_relative_to(index_dir.resolve()):
        raise BackupFailed(f"back up to a folder outside the index: {destination} is inside {index_dir}")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupFailed(f"{destination} already exists and is not an empty folder; name a new one")
    manifest = read_manifest(source_version)
    created = not destination.exists()
    try:
        destination.mkdir(parents=True, exist_ok=True)
        target_version = destination / VERSIONS_DIR / source_version.name
        shutil.copytree(source_version, target_version)
        verify_files(target_version, manifest.get("files") or {}, checksums=True)
        _copy_store(index_dir / STORE_FILE, destination / STORE_FILE)
        staged = destination / f".{CURRENT_FILE}.tmp"
        staged.write_text(source_version.name + "\n")
        staged.replace(destination / CURRENT_FILE)  # last: a backup cut short has no CURRENT, and says so
    except (OSError, sqlite3.Error, SiftError) as exc:
        _remove(destination, created)
        raise BackupFailed(f"backup to {destination} failed, nothing kept: {exc}") from exc
    return BackupReport(
        destination=destination,
        version=source_version.name,
        articles=int((manifest.get("counts") or {}).get("articles", 0)),
        store_bytes=(destination / STORE_FILE).stat().st_size,
        version_bytes=sum(f.stat().st_size for f in target_version.rglob("*") if f.is_file()),
        seconds=time.perf_counter() - started,
        vectors_elsewhere=(manifest.get("vectors") or {}).get("store") == "pgvector",
    )


def _copy_store(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # one step, under a read transaction: writers carry on (WAL), the copy is one committed state
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupFailed(f"the copy of {source.name} failed SQLite's check: {check}")
    finally:
        dst.close()
        src.close()


def _remove(destination: Path, created: bool) -> None:
    if created:
        shutil.rmtree(destination, ignore_errors=True)
        return
    for child in destination.iterdir():  # the folder was empty when we started: empty it again
        shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)

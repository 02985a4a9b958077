"""What the `sift` commands share: the Typer app, common options, settings, exit codes and loading the model, the engine
and the editorial store, each failure a one-line error."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from indexer.errors import SiftError
from models import Embedder, ModelLoadError
from models.embedder import backend_is_prepared
from models.multilingual import MODELS
from search_api.settings import Settings

app = typer.Typer(
    name="sift",
    help="Semantic search and related posts for news and grant sites.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


EXIT_ERROR = 1
EXIT_SKIPPED = 3  # indexing finished, but some records were bad and skipped
IndexOpt = Annotated[Optional[Path], typer.Option("--index", "-i", help="Index folder [env SIFT_INDEX_DIR, default ./idx]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]
DATA_SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
# French and Spanish sample articles: the multilingual demo indexes them beside the English ones
DATA_SAMPLE_MULTILINGUAL = DATA_SAMPLE.parent / "sample-multilingual"


ModelOpt = Annotated[
    Optional[str],
    typer.Option("--model", help="english (all-MiniLM-L6-v2) or multilingual (multilingual-e5-small: ~100 languages, "
                                 "one vector space) [env SIFT_MODEL; default: the index's model, else english]"),
]


DatabaseOpt = Annotated[
    Optional[str],
    typer.Option("--database", help="PostgreSQL database holding the index, shared by any number of servers "
                                    "(postgresql://user:password@host/name); --index is then this machine's copy of "
                                    "the live version [env SIFT_DATABASE_URL]"),
]


def settings_for(index: Path | None, model: str | None = None, database: str | None = None) -> Settings:
    settings = Settings()
    if model is not None and model not in MODELS:
        raise fail(f"unknown model {model!r}; use {' or '.join(MODELS)}")
    update: dict[str, object] = {"index_dir": index} if index else {}
    if model:
        update["model"] = model
    if database:
        from pydantic import SecretStr

        from indexer.stores import is_database_url

        if not is_database_url(database):
            raise fail(f"--database takes a postgresql:// URL, not {database!r}")
        update["database_url"] = SecretStr(database)
    return settings.model_copy(update=update) if update else settings


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(EXIT_ERROR)


def load_embedder(settings: Settings, *, serving: bool = False) -> Embedder:
    backend = settings.serving_backend() if serving else settings.embed_backend
    try:
        if settings.model_choice() == "multilingual":
            from models.multilingual import backend_is_prepared as multilingual_is_prepared

            if not multilingual_is_prepared(settings.multilingual_runtime(), settings.cache_dir):
                typer.echo("preparing the multilingual model for ONNX Runtime: once on this machine, about a minute",
                           err=True)
            return settings.embedder(serving=serving)
        prepared = backend_is_prepared(settings.model_path, backend, settings.cache_dir)
        if backend == "torch" or not prepared:  # torch loads the model (~2 s to import transformers: only then)
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the CLI shows its own progress; the weight-loading bar is noise
        if not prepared:
            typer.echo(f"preparing the model for ONNX Runtime ({backend}): once on this machine, about 20 s", err=True)
        return settings.embedder(serving=serving)
    except (ModelLoadError, SiftError) as exc:  # SiftError: the database naming the model cannot be reached
        raise fail(str(exc)) from None


def load_engine(settings: Settings, *, serving: bool = True):
    """The live version, for answering queries (so the embedder runs single-threaded, see Settings.embedder)."""
    try:
        return settings.open_engine(load_embedder(settings, serving=serving))
    except SiftError as exc:
        raise fail(str(exc)) from None


def print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def day(value: datetime | None) -> str:
    return value.date().isoformat() if value else "undated"


def editorial_store(settings: Settings):
    home = settings.home()
    if not home.has_store():
        raise fail(f"no index at {settings.index_dir}: run `sift index SOURCE --index {settings.index_dir}` first")
    try:
        return home.open_editorial()
    except SiftError as exc:
        raise fail(str(exc)) from None

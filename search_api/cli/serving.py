"""`sift serve` and `sift demo`: the HTTP API on one process or several sharing the memory-mapped index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from indexer.errors import SiftError
from search_api.cli.common import DATA_SAMPLE, DATA_SAMPLE_MULTILINGUAL, DatabaseOpt, IndexOpt, ModelOpt, app, fail, load_engine, settings_for
from search_api.cli.indexing import run_index
from search_api.settings import Settings


def worker_app():
    """The app of one `sift serve --workers N` process: uvicorn imports and calls this in each worker."""
    from search_api.http.app import create_app
    from search_api.http.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format)
    return create_app(settings)


def _serve_workers(settings: Settings, host: str, port: int, log_format: str | None, workers: int) -> None:
    """Several uvicorn worker processes, each loading the live version itself. FAISS files are memory-mapped, so
    the workers share one copy of the index pages; each holds its own model and metadata."""
    import logging
    import os
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from indexer.publish import current_version_dir, read_manifest
    from models.embedder import prepare_backend

    try:  # check the index here, so a missing one is one clear line rather than N workers that 503
        registry = settings.home().registry()
        if registry is not None:  # the database's live version, copied here once for the workers to share
            try:
                registry.sync(settings.index_dir, keep=settings.keep_versions)
            finally:
                registry.close()
        manifest = read_manifest(current_version_dir(settings.index_dir))
    except SiftError as exc:
        raise fail(str(exc)) from None
    logging.getLogger("sift.serve").info(
        "serving %s articles (version %s) on http://%s:%s with %s workers",
        manifest["counts"]["articles"], manifest["version"], host, port, workers,
    )
    try:  # the query runtime's ONNX export, built here once rather than by every worker on a first start
        if settings.model_choice() == "english":
            prepare_backend(settings.model_path, settings.serving_backend(), settings.cache_dir)
    except Exception as exc:  # noqa: BLE001 - each worker then falls back to torch and says so (Settings.embedder)
        logging.getLogger("sift.serve").warning("could not prepare the %s query runtime: %s", settings.serving_backend(), exc)
    # the workers are new processes that read their settings from the environment, as this one did
    os.environ["SIFT_INDEX_DIR"] = str(Path(settings.index_dir).resolve())
    if settings.database_url is not None:
        os.environ["SIFT_DATABASE_URL"] = settings.database_url.get_secret_value()
    if log_format:
        os.environ["SIFT_LOG_FORMAT"] = log_format
    config = uvicorn.Config(
        "search_api.cli.serving:worker_app", factory=True, workers=workers, host=host, port=port,
        log_config=None, access_log=False, timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    # uvicorn binds the shared socket with protocol 0, and asyncio sets TCP_NODELAY only on TCP-protocol sockets:
    # every response then waited for a delayed ACK (/health took 44 ms with 2 workers, 1.4 ms with one). Rebinding
    # it as IPPROTO_TCP is what `uvicorn.run` would do otherwise (Multiprocess with the one socket).
    bound = config.bind_socket()
    sock = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    Multiprocess(config, sockets=[sock]).run()


def _serve(
    settings: Settings, host: str | None, port: int | None, log_format: str | None = None, workers: int | None = None
) -> None:
    import logging
    import signal

    import uvicorn

    from search_api.http.app import create_app
    from search_api.http.logs import configure_logging

    configure_logging(log_format or settings.log_format)
    host, port = host or settings.host, port or settings.port
    if (workers or settings.workers) > 1:
        _serve_workers(settings, host, port, log_format, workers or settings.workers)
        return
    engine = load_engine(settings)  # load first, so a missing index is one clear line rather than a server that 503s
    logging.getLogger("sift.serve").info(
        "serving %s articles (version %s) on http://%s:%s", engine.stats().articles, engine.version, host, port
    )

    def stopped(signum: int, frame: object) -> None:
        raise SystemExit(0)

    # uvicorn catches SIGTERM/SIGINT, finishes requests in flight (up to shutdown_timeout), runs the app's shutdown
    # (which publishes pending writes), then re-raises the signal to this handler: a clean stop exits with 0.
    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    asgi = create_app(settings, engine=engine)
    del engine  # the app holds it until a newer version is swapped in
    uvicorn.run(
        asgi, host=host, port=port,
        log_config=None, access_log=False,  # logging is configured above; RequestLog writes the access lines
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


LogFormatOpt = Annotated[
    Optional[str], typer.Option(
        "--log-format",
        help="json (one object per line) or text [env SIFT_LOG_FORMAT; default text on a terminal, json otherwise]",
    )
]


def _log_format(value: str | None) -> str | None:
    if value not in (None, "json", "text"):
        raise fail(f"unknown log format {value!r}; use json or text")
    return value


@app.command()
def serve(
    index: IndexOpt = None,
    host: Annotated[Optional[str], typer.Option(help="[env SIFT_HOST, default 127.0.0.1]")] = None,
    port: Annotated[Optional[int], typer.Option(help="[env SIFT_PORT, default 8000]")] = None,
    log_format: LogFormatOpt = None,
    workers: Annotated[
        Optional[int],
        typer.Option(min=1, max=64, help="Server processes sharing the memory-mapped index [env SIFT_WORKERS, default 1]"),
    ] = None,
    database: DatabaseOpt = None,
) -> None:
    """Serve the HTTP API and the search page. SIGTERM stops it gracefully: requests in flight finish. With a
    database, any number of servers on any machines share it: a write through one is searchable through all."""
    _serve(settings_for(index, database=database), host, port, _log_format(log_format), workers)


@app.command()
def demo(
    index: Annotated[Path, typer.Option("--index", "-i", help="Where to build the demo index")] = Path("idx-demo"),
    host: Annotated[Optional[str], typer.Option()] = None,
    port: Annotated[Optional[int], typer.Option()] = None,
    log_format: LogFormatOpt = None,
    model: ModelOpt = None,
) -> None:
    """Index the bundled sample corpus and serve it (with the multilingual model, its French and Spanish articles
    too)."""
    log_format = _log_format(log_format)
    if not DATA_SAMPLE.is_dir():
        raise fail(f"the sample corpus is not at {DATA_SAMPLE}; run from a source checkout")
    settings = settings_for(index, model)
    sources = [str(DATA_SAMPLE)]
    if settings.model_choice() == "multilingual" and DATA_SAMPLE_MULTILINGUAL.is_dir():
        sources.append(str(DATA_SAMPLE_MULTILINGUAL))
    report = run_index(settings, sources, progress=True)
    typer.echo(f"indexed {report.read} sample articles ({report.embedded} passages embedded), {report.skipped} skipped")
    _serve(settings, host, port, log_format)

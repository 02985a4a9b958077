"""The `sift` command line: a thin shell over the indexer and the engine, with --json on every report. One module
per group of commands (indexing, migrating, querying, editorial, evaluation, serving) registers its commands on the
one Typer app in `common`."""

from __future__ import annotations

# each registers its commands; imported in the order `sift --help` lists them
from search_api.cli import indexing  # noqa: F401,I001
from search_api.cli import migrating  # noqa: F401
from search_api.cli import querying  # noqa: F401
from search_api.cli import editorial  # noqa: F401
from search_api.cli import evaluation  # noqa: F401
from search_api.cli import serving  # noqa: F401
from search_api.cli.common import EXIT_ERROR, EXIT_SKIPPED, app

__all__ = ["EXIT_ERROR", "EXIT_SKIPPED", "app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    app(prog_name="sift")

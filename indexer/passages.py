"""A version's passage texts as one uncompressed Arrow IPC file, memory-mapped by every server worker.

Parsing a parquet file into Python strings gave each worker its own copy of every passage (~90 MB per worker at
100k articles); the pages of a mapped Arrow file are the operating system's, shared by all the processes that map
them, and a passage becomes a Python string only when a snippet or a caption asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

PASSAGES_FILE = "passages.arrow"
LEGACY_FILE = "chunks.parquet"  # versions published before passages.arrow


def write_passages(path: Path, article: np.ndarray, ordinal: np.ndarray, text: Sequence[str]) -> None:
    """Write a version's passages: their article row, their position in it and their text."""
    table = pa.table(
        {
            "article": pa.array(np.asarray(article, dtype=np.int32)),
            "ordinal": pa.array(np.asarray(ordinal, dtype=np.int32)),
            "text": pa.array(list(text), type=pa.large_string()),
        }
    )
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


class PassageTexts(Sequence[str]):
    """Passage texts by position, read from the mapped file on access (a slice gives a list)."""

    def __init__(self, column: pa.ChunkedArray | pa.Array) -> None:
        if isinstance(column, pa.ChunkedArray):  # one record batch per file: take it as is, without a copy
            column = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        self._column = column

    def __len__(self) -> int:
        return len(self._column)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self._column[i].as_py() for i in range(start, stop, step)]
            return self._column.slice(start, max(0, stop - start)).to_pylist()
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"passage {index} out of range ({len(self)} passages)")
        return self._column[index].as_py()


def open_passages(version_dir: Path, files: dict, *, mmap: bool = True) -> tuple[np.ndarray, Sequence[str]]:
    """(article row per passage, the texts) of a version; from passages.arrow, mapped when `mmap`, or from an older
    version's chunks.parquet."""
    if PASSAGES_FILE not in files:
        chunks = pd.read_parquet(version_dir / LEGACY_FILE)
        return chunks["article"].to_numpy(dtype=np.int64), chunks["text"].tolist()
    path = str(version_dir / PASSAGES_FILE)
    source = pa.memory_map(path, "r") if mmap else pa.OSFile(path, "rb")
    table = pa.ipc.open_file(source).read_all()  # zero-copy over the mapping: nothing is parsed
    return table.column("article").to_numpy().astype(np.int64), PassageTexts(table.column("text"))

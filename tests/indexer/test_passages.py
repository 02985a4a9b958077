"""Passage texts are written once per version as an Arrow file and read back, memory-mapped, by position."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from indexer.passages import LEGACY_FILE, PASSAGES_FILE, open_passages, write_passages

TEXTS = ["Floods in Kenya.", "Ünïcode — “quotes” and 中文", "", "Last passage."]


@pytest.mark.parametrize("mmap", [True, False])
def test_texts_come_back_by_position_and_slice(tmp_path, mmap):
    write_passages(tmp_path / PASSAGES_FILE, np.array([0, 0, 1, 2]), np.array([0, 1, 0, 0]), TEXTS)
    before = pa.total_allocated_bytes()
    article, texts = open_passages(tmp_path, {PASSAGES_FILE: "listed"}, mmap=mmap)
    if mmap:
        assert pa.total_allocated_bytes() == before  # nothing copied out of the mapping
    assert article.tolist() == [0, 0, 1, 2] and article.dtype == np.int64
    assert len(texts) == 4 and [texts[i] for i in range(4)] == TEXTS
    assert texts[-1] == "Last passage." and texts[1:3] == TEXTS[1:3] and texts[3:9] == TEXTS[3:] and texts[2:2] == []
    assert texts[::2] == TEXTS[::2]
    with pytest.raises(IndexError, match="passage 4 out of range"):
        texts[4]


def test_a_version_from_before_passages_arrow_reads_its_parquet(tmp_path):
    pd.DataFrame({"article": [0, 1], "ordinal": [0, 0], "text": ["one", "two"]}).to_parquet(tmp_path / LEGACY_FILE)
    article, texts = open_passages(tmp_path, {LEGACY_FILE: "listed"})
    assert article.tolist() == [0, 1] and list(texts) == ["one", "two"]

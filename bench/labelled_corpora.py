"""Write the labelled corpora of ../shared/data in the shape `sift eval-related` reads (id, category, title, text).

BBC News is already in that shape. The Disaster Response validation split becomes one record per `news` message
that carries at least one specific topic label (food, water, shelter, medical_help, floods, earthquake …); the broad
labels (related, aid_related, weather_related, infrastructure_related, other_*) and the message-type flags
(request, offer, direct_report) are dropped, because nearly every message has them. The upstream file repeats a few ids; the first row is kept.
Usage: `python bench/labelled_corpora.py OUT_DIR` → OUT_DIR/disaster_news.jsonl and OUT_DIR/disaster_direct.jsonl (the
direct messages, held out: nothing was tuned on them)
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BROAD = {
    "related", "PII", "request", "offer", "direct_report", "aid_related", "weather_related", "infrastructure_related",
    "other_aid", "other_infrastructure", "other_weather",
}
NOT_LABELS = {"id", "split", "message", "original", "genre", "event", "actionable_haiti", "date_haiti"}


def disaster_news(
    target: Path, source: Path = SHARED / "disaster_response_messages" / "disaster_response_validation.csv.gz",
    genre: str = "news",
) -> int:
    """`genre` "news" is the tuning corpus; "direct" (messages people sent) is held out: nothing was tuned on it."""
    n, seen = 0, set()
    with gzip.open(source, "rt", encoding="utf-8") as fin, open(target, "w", encoding="utf-8") as fout:
        for row in csv.DictReader(fin):
            if row["genre"] != genre or row["id"] in seen:  # the upstream file repeats a few ids
                continue
            seen.add(row["id"])
            labels = [c for c, v in row.items() if c not in BROAD | NOT_LABELS and v == "1"]
            if labels:
                text = row["message"].strip()
                fout.write(json.dumps({"id": f"dr-{row['id']}", "category": labels, "title": text[:120], "text": text}) + "\n")
                n += 1
    return n


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    print(disaster_news(out / "disaster_news.jsonl"), "records →", out / "disaster_news.jsonl")
    print(disaster_news(out / "disaster_direct.jsonl", genre="direct"), "records →", out / "disaster_direct.jsonl")

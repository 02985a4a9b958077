"""Evaluation: `sift eval` on BEIR collections (beir.py) and `sift eval-related` on topic-labelled corpora
(related.py), with bootstrap confidence intervals and paired tests."""

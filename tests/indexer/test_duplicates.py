import numpy as np

from indexer.duplicates import group_near_duplicates


def test_pairs_above_threshold_join_transitively():
    ids = np.array([[1, 2], [0, 2], [1, 0], [0, 1]])
    scores = np.array([[0.95, 0.5], [0.95, 0.9], [0.9, 0.5], [0.3, 0.2]], dtype=np.float32)
    assert group_near_duplicates(ids, scores, 0.8).tolist() == [0, 0, 0, 3]


def test_padding_is_ignored():
    ids = np.array([[-1], [-1]])
    scores = np.array([[-np.inf], [-np.inf]], dtype=np.float32)
    assert group_near_duplicates(ids, scores, 0.8).tolist() == [0, 1]

"""Shared helpers of the retrieval tests."""

import pytest


def _levenshtein(a, b):
    """Plain O(len(a) * len(b)) edit distance, the reference for the kernels."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


@pytest.fixture
def levenshtein_reference():
    return _levenshtein


def _weighted_levenshtein(a, b, costs):
    """Plain edit distance with unit insert / delete and ``costs[x, y]`` substitutions, the weighted reference."""
    row = [float(j) for j in range(len(b) + 1)]
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], float(i)
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + float(costs[x][y]))
    return row[-1]


@pytest.fixture
def weighted_levenshtein_reference():
    return _weighted_levenshtein

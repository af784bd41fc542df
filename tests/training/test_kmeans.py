"""Spherical K-means of the E-step and the codebook-usage statistics."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from wav2tok_hf.training.kmeans import codebook_usage, kmeans_plus_plus, spherical_kmeans


def planted(k: int = 4, d: int = 8, per: int = 50, noise: float = 0.05, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    centers = F.normalize(torch.randn(k, d, generator=g), dim=-1)
    x = centers.repeat_interleave(per, 0) + noise * torch.randn(k * per, d, generator=g)
    return F.normalize(x, dim=-1), centers, torch.arange(k).repeat_interleave(per)


def test_finds_planted_clusters():
    x, centers, labels = planted()
    result = spherical_kmeans(x, 4, generator=torch.Generator().manual_seed(0))
    assignment = (x @ result.centroids.T).argmax(1)
    for c in range(4):  # each planted cluster is one K-means cluster, and vice versa
        assert len(set(assignment[labels == c].tolist())) == 1
    assert len(set(assignment.tolist())) == 4
    match = (result.centroids @ centers.T).max(1).values
    assert torch.all(match > 0.99)
    assert torch.allclose(result.centroids.norm(dim=-1), torch.ones(4), atol=1e-5)
    assert result.counts.tolist() == [50] * 4
    assert result.inertia < 0.01


def test_seeded_runs_are_reproducible():
    x, _, _ = planted(seed=3)
    a = spherical_kmeans(x, 6, generator=torch.Generator().manual_seed(5))
    b = spherical_kmeans(x, 6, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.centroids, b.centroids)


def test_warm_start_keeps_code_identities():
    x, centers, _ = planted()
    order = torch.tensor([2, 0, 3, 1])
    init = F.normalize(centers[order] + 0.1 * torch.randn(4, 8, generator=torch.Generator().manual_seed(1)), dim=-1)
    result = spherical_kmeans(x, 4, init=init, iterations=10)
    # code i stays the cluster it started nearest to: tokens keep their meaning across E-steps
    assert torch.all((result.centroids * centers[order]).sum(-1) > 0.99)
    assert result.reseeded == 0
    # a converged codebook is a fixed point
    again = spherical_kmeans(x, 4, init=result.centroids, iterations=5)
    assert torch.allclose(again.centroids, result.centroids, atol=1e-6)


def test_dead_codes_are_reseeded():
    x, _, _ = planted(k=3)
    x = x.abs()  # every point in the positive orthant
    init = torch.cat([F.normalize(x[:2] + 0.0, dim=-1), -F.normalize(torch.ones(1, 8), dim=-1)])
    result = spherical_kmeans(x, 3, init=init, iterations=10)  # code 2 starts far from every point
    assert result.reseeded >= 1
    assert torch.all(result.counts > 0)


def test_kmeans_plus_plus_picks_data_points_in_different_clusters():
    x, _, labels = planted()
    seeds = kmeans_plus_plus(x, 4, torch.Generator().manual_seed(0))
    picked = [int(torch.nonzero(torch.all(x == s, dim=1))[0]) for s in seeds]
    assert len({int(labels[i]) for i in picked}) == 4  # noise is tiny next to the cluster spread


def test_kmeans_rejects_too_few_points():
    with pytest.raises(ValueError, match="at least k=5"):
        spherical_kmeans(torch.randn(3, 4), 5)
    with pytest.raises(ValueError):
        spherical_kmeans(torch.randn(10), 2)


def test_codebook_usage():
    k = 8
    uniform = codebook_usage(torch.arange(k).repeat(10), k)
    assert uniform["perplexity"] == pytest.approx(k) and uniform["dead_codes"] == 0
    collapsed = codebook_usage(torch.full((40,), 3), k)
    assert collapsed["perplexity"] == pytest.approx(1.0) and collapsed["dead_codes"] == k - 1
    half = codebook_usage(torch.tensor([0, 1, 2, 3] * 5), k)
    assert half["perplexity"] == pytest.approx(4.0) and half["dead_codes"] == 4
    skewed = codebook_usage(torch.tensor([0] * 3 + [1]), 2)
    p = torch.tensor([0.75, 0.25])
    assert skewed["perplexity"] == pytest.approx(math.exp(-(p * p.log()).sum().item()))

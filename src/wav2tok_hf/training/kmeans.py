"""Spherical K-means in torch for the E-step: K-means++ seeding, warm starts, dead-code re-seeding."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class KMeansResult:
    centroids: torch.Tensor  # K x D, unit norm
    counts: torch.Tensor  # K, points per centroid at the last assignment
    reseeded: int  # dead codes re-seeded on the way
    inertia: float  # mean (1 - cos) to the assigned centroid


def kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """K-means++ seeding on unit vectors with the cosine distance ``1 - cos``."""
    first = torch.randint(len(x), (1,), generator=generator)
    centroids = [x[first]]
    closest = (1 - x @ centroids[0].T).clamp(min=0).squeeze(1)
    for _ in range(1, k):
        weights = closest if closest.sum() > 0 else torch.ones_like(closest)
        pick = torch.multinomial(weights, 1, generator=generator)
        centroids.append(x[pick])
        closest = torch.minimum(closest, (1 - x @ x[pick].T).clamp(min=0).squeeze(1))
    return torch.cat(centroids)


def spherical_kmeans(
    x: torch.Tensor,
    k: int,
    init: torch.Tensor | None = None,
    iterations: int = 20,
    generator: torch.Generator | None = None,
) -> KMeansResult:
    """Cluster unit vectors ``x`` (N x D) into ``k`` unit centroids.

    Starts from ``init`` (a warm start, e.g. the current codebook) or K-means++. After every assignment, a centroid
    that lost all its points is re-seeded at the point farthest from its own centroid, so no code stays dead.

    Example:
        >>> import torch
        >>> x = torch.nn.functional.normalize(torch.randn(500, 8), dim=-1)
        >>> result = spherical_kmeans(x, 10, generator=torch.Generator().manual_seed(0))
        >>> result.centroids.shape, int(result.counts.sum())
        (torch.Size([10, 8]), 500)
    """
    if x.ndim != 2 or len(x) < k:
        raise ValueError(f"K-means needs at least k={k} points of shape (N, D); got {tuple(x.shape)}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    x = F.normalize(x.float(), dim=-1)
    centroids = F.normalize(init.float().clone(), dim=-1) if init is not None else kmeans_plus_plus(x, k, generator)
    reseeded = 0
    for _ in range(iterations):
        similarity = x @ centroids.T
        assignment = similarity.argmax(1)
        counts = torch.bincount(assignment, minlength=k)
        dead = torch.nonzero(counts == 0).flatten()
        if len(dead):
            own = similarity.gather(1, assignment[:, None]).squeeze(1)
            far = torch.topk(-own, len(dead)).indices
            assignment[far] = dead
            reseeded += len(dead)
            counts = torch.bincount(assignment, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, x)
        centroids = F.normalize(sums, dim=-1)
    similarity = x @ centroids.T
    best, assignment = similarity.max(1)
    return KMeansResult(centroids, torch.bincount(assignment, minlength=k), reseeded, float((1 - best).mean()))


def codebook_usage(tokens: torch.Tensor, k: int) -> dict[str, float]:
    """Perplexity of the token distribution (K when uniform, 1 when collapsed) and the number of unused codes."""
    counts = torch.bincount(tokens.flatten(), minlength=k).float()
    p = counts / counts.sum().clamp(min=1)
    entropy = -(p[p > 0] * p[p > 0].log()).sum().item()
    return {"perplexity": math.exp(entropy), "dead_codes": int((counts == 0).sum())}

"""The wav2tok M-step losses, batched over padded sequences (no Python loop over pairs)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

_NO_PATH = -1e4  # log-probability of the unused blank column in the no-blank CTC


def pad_targets(sequences: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad target id lists into (B, S) with their lengths."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long, device=device)
    padded = torch.zeros(len(sequences), max([1, *map(len, sequences)]), dtype=torch.long, device=device)
    for i, s in enumerate(sequences):
        if s:
            padded[i, : len(s)] = torch.tensor(s, dtype=torch.long, device=device)
    return padded, lengths


def ctc_loss(
    logits: torch.Tensor,
    lengths: torch.Tensor,
    targets: list[list[int]],
    blank_logit: torch.Tensor | None = None,
    normalize: str = "frame",
) -> torch.Tensor:
    """CTC of frame logits (B, T, K) against compressed token strings.

    Without ``blank_logit`` this is the paper's **no-blank CTC**: every frame stays on the current symbol or advances
    to the next and each symbol takes at least one frame; it is computed by appending a blank column at index K
    whose log-probability is ~-inf (no off-by-one: the targets keep their ids 0..K-1). With ``blank_logit`` (a
    scalar tensor) the blank column is that learned logit: standard CTC (the paper's "CTC" ablation).
    Items whose target is longer than their frame count are skipped. ``normalize``: ``"frame"`` divides each
    item's negative log-likelihood by its frame count, ``"none"`` keeps the sum (the reference code).
    """
    batch, frames, k = logits.shape
    if blank_logit is None:
        log_probs = torch.cat([logits.log_softmax(-1), logits.new_full((batch, frames, 1), _NO_PATH)], dim=-1)
    else:
        log_probs = torch.cat([logits, blank_logit.expand(batch, frames, 1)], dim=-1).log_softmax(-1)
    padded, target_lengths = pad_targets(targets, logits.device)
    feasible = (target_lengths > 0) & (target_lengths <= lengths)
    if not feasible.any():
        return logits.sum() * 0.0
    nll = F.ctc_loss(
        log_probs.transpose(0, 1).float(), padded, lengths, target_lengths, blank=k, reduction="none", zero_infinity=True
    )
    if normalize == "frame":
        nll = nll / lengths.clamp(min=1)
    elif normalize != "none":
        raise ValueError(f"normalize={normalize!r}; accepted: 'frame', 'none'")
    return nll[feasible].mean()


def matching_loss(
    z: torch.Tensor,
    z_prime: torch.Tensor,
    tokens: torch.Tensor,
    tokens_prime: torch.Tensor,
    codebook: torch.Tensor,
    temperature: float,
    similarity_head: torch.nn.Linear | None = None,
) -> torch.Tensor:
    """Prototype matching loss L_m.

    For every token present in either view of a pair, the prototype is the normalised mean of the frames of both
    views assigned to it; it is classified among all K codewords (stop-gradient) with the learned similarity
    ``w . |p - e_k| + b`` (or cosine when ``similarity_head`` is None), divided by the temperature; cross-entropy
    with the token itself, averaged over all (pair, token) prototypes of the batch.

    ``tokens`` / ``tokens_prime`` are per-frame ids with ``-1`` on padding.
    """
    k = codebook.shape[0]
    sums = _token_sums(z, tokens, k) + _token_sums(z_prime, tokens_prime, k)  # B, K, D
    counts = _token_counts(tokens, k) + _token_counts(tokens_prime, k)  # B, K
    present = counts > 0
    prototypes = F.normalize(sums[present], dim=-1)  # P, D
    target = torch.nonzero(present)[:, 1]
    codewords = codebook.detach()
    if similarity_head is None:
        scores = prototypes @ codewords.T
    else:
        scores = similarity_head((prototypes[:, None, :] - codewords[None, :, :]).abs()).squeeze(-1)
    return F.cross_entropy(scores / temperature, target)


def diversity_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1 - H(mean_t p_t) / log K`` over the valid frames of the batch (wav2vec 2.0-style codebook diversity):
    0 when every token is used equally, 1 when all frames pick one token."""
    probs = logits.softmax(-1)[mask]
    mean = probs.mean(0)
    entropy = -(mean * (mean + 1e-9).log()).sum()
    return 1 - entropy / math.log(logits.shape[-1])


def smoothness_loss(z: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean ``1 - cos(z_t, z_{t+1})`` over consecutive valid frames: favours piecewise-constant embeddings, so a
    token holds for a whole note or phone instead of flickering."""
    mask = torch.arange(1, z.shape[1], device=z.device)[None, :] < lengths[:, None]
    change = 1 - (z[:, 1:] * z[:, :-1]).sum(-1)
    return (change * mask).sum() / mask.sum().clamp(min=1)


def dtw_alignment(features: torch.Tensor, features_prime: torch.Tensor) -> torch.Tensor:
    """For each frame of ``features`` (T x F), the index of its DTW-aligned frame in ``features_prime`` (T' x F),
    aligning on cosine distance (librosa's DTW, a numba kernel)."""
    import librosa

    a = torch.nn.functional.normalize(features.float(), dim=-1)
    b = torch.nn.functional.normalize(features_prime.float(), dim=-1)
    cost = (1 - a @ b.T).clamp(min=0).numpy().astype(np.float64)
    _, path = librosa.sequence.dtw(C=cost, backtrack=True)
    aligned = np.zeros(len(a), dtype=np.int64)
    aligned[path[::-1, 0]] = path[::-1, 1]  # the last match of each frame along the path
    return torch.from_numpy(aligned)


def alignment_loss(
    z: torch.Tensor, z_prime: torch.Tensor, aligned: torch.Tensor, temperature: float, frames_per_pair: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Frame-level InfoNCE between the two views of each pair.

    ``aligned[b, t]`` is the frame of view 2 aligned with frame ``t`` of view 1 (-1 on padding). Up to
    ``frames_per_pair`` aligned frames are drawn per pair; each anchor must pick its own partner among all drawn
    partners of the batch (other positions and other pairs are the negatives). Unlike the CTC and matching terms,
    a constant tokenisation cannot minimise it, so it keeps the encoder from collapsing.
    """
    anchors, positives = [], []
    for b in range(z.shape[0]):
        valid = torch.nonzero(aligned[b] >= 0).flatten()
        if len(valid) == 0:
            continue
        pick = valid[torch.randperm(len(valid), generator=generator)[:frames_per_pair]]
        anchors.append(z[b, pick])
        positives.append(z_prime[b, aligned[b, pick]])
    anchors, positives = torch.cat(anchors), torch.cat(positives)
    logits = anchors @ positives.T / temperature
    target = torch.arange(len(anchors), device=z.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def consistency_loss(logits: torch.Tensor, logits_prime: torch.Tensor, aligned: torch.Tensor) -> torch.Tensor:
    """Token agreement between the DTW-aligned frames of the two views of each pair.

    ``aligned[b, t]`` is the frame of view 2 aligned with frame ``t`` of view 1 (-1 on padding). Each aligned frame
    is trained (cross-entropy over the codebook logits) towards the token its partner picks, in both directions, so
    the two views of a pair are pushed towards the same frame tokens, which is what edit-distance retrieval compares.
    The alignment term only asks partners to be closer than other frames; this one asks them to land in the same cell.

    Example:
        >>> logits = torch.tensor([[[4.0, 0.0], [0.0, 4.0]]])
        >>> aligned = torch.tensor([[0, 1]])
        >>> consistency_loss(logits, logits, aligned).item() < consistency_loss(logits, logits.flip(-1), aligned).item()
        True
    """
    valid = aligned >= 0
    if not valid.any():
        return logits.sum() * 0
    b, t = torch.nonzero(valid, as_tuple=True)
    a = logits[b, t]
    partner = logits_prime[b, aligned[b, t]]
    return 0.5 * (F.cross_entropy(a, partner.argmax(-1)) + F.cross_entropy(partner, a.argmax(-1)))


def context_loss(model: Any, batch: dict[str, torch.Tensor], logits: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Token agreement (:func:`consistency_loss`) between each first view's sub-crop, encoded on its own
    (``batch["context_features"]``, from ``PairCollator(context_crop_s=...)``), and the same frames inside the whole
    view (``logits`` / ``lengths`` of the first views): a word's tokens should not depend on the words around it.

    Example:
        >>> from wav2tok_hf import Wav2TokConfig, Wav2TokModel
        >>> model = Wav2TokModel(Wav2TokConfig(codebook_size=8, hidden_size=16, embedding_dim=8)).eval()
        >>> view = torch.randn(1, 20, model.config.feature_size)
        >>> full = model(view, torch.ones(1, 20, dtype=torch.long), return_dict=True)
        >>> batch = {"context_features": view[:, 5:12], "context_mask": torch.ones(1, 7, dtype=torch.long),
        ...          "context_offset": torch.tensor([5])}
        >>> bool(context_loss(model, batch, full.logits, full.lengths) > 0)
        True
    """
    out = model(batch["context_features"], batch["context_mask"], return_dict=True)
    frames = torch.arange(out.logits.shape[1], device=lengths.device)[None, :]
    aligned = batch["context_offset"].to(lengths.device)[:, None] + frames
    valid = (frames < out.lengths[:, None]) & (aligned < lengths[:, None])
    return consistency_loss(out.logits, logits, torch.where(valid, aligned, torch.full_like(aligned, -1)))


class LossTerm(NamedTuple):
    """One row of the M-step loss table: ``weight * compute()`` joins the total and is logged as ``loss/<name>``.

    ``compute`` is called only when the term is used (an ``optional`` term with weight 0 is neither computed nor
    logged), so a switched-off term costs nothing and draws nothing from the random number generators."""

    weight: float
    name: str
    compute: Callable[[], torch.Tensor]
    optional: bool = True


def weighted_total(terms: Sequence[LossTerm]) -> tuple[torch.Tensor, dict[str, float]]:
    """The total loss ``w_1 * L_1 + w_2 * L_2 + ...`` (added left to right, in the table's order) and the logged
    value of each used term and of the total.

    Example:
        >>> terms = [LossTerm(0.5, "a", lambda: torch.tensor(2.0), optional=False),
        ...          LossTerm(0.0, "b", lambda: torch.tensor(float("nan"))),  # switched off: never computed
        ...          LossTerm(2.0, "c", lambda: torch.tensor(3.0))]
        >>> total, logs = weighted_total(terms)
        >>> total.item(), logs
        (7.0, {'loss/a': 2.0, 'loss/c': 3.0, 'loss/total': 7.0})
    """
    total: torch.Tensor | None = None
    logs: dict[str, float] = {}
    for term in terms:
        if term.optional and not term.weight > 0:
            continue
        value = term.compute()
        total = term.weight * value if total is None else total + term.weight * value
        logs[f"loss/{term.name}"] = value.item()
    if total is None:
        raise ValueError("the loss table has no term in use; at least one term must be required or weighted > 0")
    logs["loss/total"] = total.item()
    return total, logs


def _token_sums(z: torch.Tensor, tokens: torch.Tensor, k: int) -> torch.Tensor:
    one_hot = F.one_hot(tokens.clamp(min=0), k).to(z.dtype) * (tokens >= 0)[..., None]
    return one_hot.transpose(1, 2) @ z


def _token_counts(tokens: torch.Tensor, k: int) -> torch.Tensor:
    one_hot = F.one_hot(tokens.clamp(min=0), k) * (tokens >= 0)[..., None]
    return one_hot.sum(1)

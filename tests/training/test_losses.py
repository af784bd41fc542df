"""The M-step losses against brute-force / Python-loop references on tiny cases."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from wav2tok_hf.modeling_wav2tok import collapse_runs
from wav2tok_hf.training.losses import (
    alignment_loss,
    consistency_loss,
    ctc_loss,
    diversity_loss,
    dtw_alignment,
    matching_loss,
    smoothness_loss,
)


def brute_force_nll(logits: torch.Tensor, target: list[int], blank_logit: float | None = None) -> float:
    """-log of the summed probability of every frame path that maps to ``target``.

    Without a blank: frame labels in 0..K-1 whose collapsed runs equal the target (each frame stays on the current
    symbol or advances to the next, every symbol >= 1 frame). With a blank (index K): standard CTC, collapse runs
    then drop blanks.
    """
    t, k = logits.shape
    if blank_logit is None:
        log_probs, symbols = logits.double().log_softmax(-1), range(k)
    else:
        log_probs = torch.cat([logits.double(), torch.full((t, 1), float(blank_logit), dtype=torch.float64)], -1)
        log_probs, symbols = log_probs.log_softmax(-1), range(k + 1)
    total = 0.0
    for path in itertools.product(symbols, repeat=t):
        collapsed = [s for s in collapse_runs(list(path))[0] if s != k]
        if collapsed == target:
            total += math.exp(sum(log_probs[i, s].item() for i, s in enumerate(path)))
    return -math.log(total)


def count_monotonic_alignments(frames: int, symbols: int) -> int:
    return math.comb(frames - 1, symbols - 1)  # where the symbol boundaries fall


@pytest.fixture
def logits():
    return torch.randn(1, 4, 3, generator=torch.Generator().manual_seed(0)) * 2  # B=1, T=4, K=3


@pytest.mark.parametrize("target", [[0, 2], [2, 1], [1, 0]])
def test_no_blank_ctc_equals_brute_force(logits, target):
    loss = ctc_loss(logits, torch.tensor([4]), [target], normalize="none")
    assert loss.item() == pytest.approx(brute_force_nll(logits[0], target), rel=1e-5)
    # symbol 0 is an ordinary token (the blank sits at index K; the reference code's off-by-one would break [0, 2])


def test_no_blank_ctc_sums_over_monotonic_alignments_only():
    # with uniform frame distributions every path has probability K^-T: the loss counts the alignments
    t, k = 4, 3
    loss = ctc_loss(torch.zeros(1, t, k), torch.tensor([t]), [[0, 2]], normalize="none")
    expected = -math.log(count_monotonic_alignments(t, 2)) + t * math.log(k)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_blank_ctc_is_standard_ctc_and_differs(logits):
    blank = torch.tensor(0.5)
    with_blank = ctc_loss(logits, torch.tensor([4]), [[0, 2]], blank_logit=blank, normalize="none")
    no_blank = ctc_loss(logits, torch.tensor([4]), [[0, 2]], normalize="none")
    assert with_blank.item() == pytest.approx(brute_force_nll(logits[0], [0, 2], blank_logit=0.5), rel=1e-5)
    assert abs(with_blank.item() - no_blank.item()) > 1e-3


def test_blank_logit_receives_gradient(logits):
    blank = torch.zeros(1, requires_grad=True)
    ctc_loss(logits, torch.tensor([4]), [[0, 2]], blank_logit=blank).backward()
    assert blank.grad is not None and blank.grad.abs().item() > 0


def test_infeasible_targets_are_skipped():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 3)
    lengths = torch.tensor([4, 2, 4])
    targets = [[0, 2], [0, 1, 2], []]  # item 1: longer than its 2 frames; item 2: empty
    loss = ctc_loss(logits, lengths, targets, normalize="none")
    alone = ctc_loss(logits[:1], lengths[:1], targets[:1], normalize="none")
    assert loss.item() == pytest.approx(alone.item(), rel=1e-6)
    assert math.isfinite(loss.item())


def test_all_infeasible_gives_zero_with_a_graph():
    logits = torch.randn(2, 2, 3, requires_grad=True)
    loss = ctc_loss(logits, torch.tensor([2, 1]), [[0, 1, 2], [1, 2]])
    assert loss.item() == 0.0
    loss.backward()  # still part of the graph: the training step does not special-case it
    assert torch.count_nonzero(logits.grad) == 0


def test_padding_frames_do_not_matter(logits):
    padded = torch.cat([logits, torch.randn(1, 3, 3)], dim=1)  # 3 padded frames with garbage
    a = ctc_loss(logits, torch.tensor([4]), [[1, 2]], normalize="none")
    b = ctc_loss(padded, torch.tensor([4]), [[1, 2]], normalize="none")
    assert a.item() == pytest.approx(b.item(), rel=1e-6)


def test_frame_normalisation():
    torch.manual_seed(1)
    logits = torch.randn(2, 6, 3)
    lengths = torch.tensor([6, 3])
    targets = [[0, 1, 2], [2, 0]]
    summed = [ctc_loss(logits[i : i + 1], lengths[i : i + 1], targets[i : i + 1], normalize="none").item() for i in range(2)]
    per_frame = ctc_loss(logits, lengths, targets, normalize="frame").item()
    assert per_frame == pytest.approx((summed[0] / 6 + summed[1] / 3) / 2, rel=1e-5)
    with pytest.raises(ValueError, match="normalize"):
        ctc_loss(logits, lengths, targets, normalize="target")


def matching_reference(z, z_prime, tokens, tokens_prime, codebook, temperature, head):
    """L_m with Python loops over pairs and tokens."""
    losses = []
    for b in range(z.shape[0]):
        present = sorted(set(tokens[b][tokens[b] >= 0].tolist()) | set(tokens_prime[b][tokens_prime[b] >= 0].tolist()))
        for tau in present:
            total = z[b][tokens[b] == tau].sum(0) + z_prime[b][tokens_prime[b] == tau].sum(0)
            p = total / total.norm()
            if head is None:
                scores = torch.stack([p @ e for e in codebook])
            else:
                scores = torch.stack([(head.weight[0] * (p - e).abs()).sum() + head.bias[0] for e in codebook])
            losses.append(-F.log_softmax(scores / temperature, 0)[tau])
    return torch.stack(losses).mean()


@pytest.mark.parametrize("learned", [True, False])
def test_matching_loss_matches_loop_reference(learned):
    g = torch.Generator().manual_seed(0)
    b, t, k, d = 3, 7, 5, 4
    z = F.normalize(torch.randn(b, t, d, generator=g), dim=-1)
    zp = F.normalize(torch.randn(b, t, d, generator=g), dim=-1)
    codebook = F.normalize(torch.randn(k, d, generator=g), dim=-1)
    tokens = (z @ codebook.T).argmax(-1)
    tokens_p = (zp @ codebook.T).argmax(-1)
    tokens[1, 5:] = -1  # padding
    tokens_p[2, 3:] = -1
    z[1, 5:] = 0
    zp[2, 3:] = 0
    head = torch.nn.Linear(d, 1) if learned else None
    loss = matching_loss(z, zp, tokens, tokens_p, codebook, 0.1, head)
    reference = matching_reference(z, zp, tokens, tokens_p, codebook, 0.1, head)
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)


def test_matching_loss_stops_gradient_to_codebook():
    g = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(2, 5, 4, generator=g), dim=-1).requires_grad_()
    codebook = F.normalize(torch.randn(3, 4, generator=g), dim=-1).requires_grad_()
    tokens = torch.randint(0, 3, (2, 5), generator=g)
    matching_loss(z, z, tokens, tokens, codebook, 0.1, torch.nn.Linear(4, 1)).backward()
    assert codebook.grad is None and z.grad is not None


def test_diversity_loss_uniform_and_collapsed():
    mask = torch.ones(2, 5, dtype=torch.bool)
    assert diversity_loss(torch.zeros(2, 5, 8), mask).item() == pytest.approx(0.0, abs=1e-6)
    collapsed = torch.zeros(2, 5, 8)
    collapsed[..., 3] = 100.0
    assert diversity_loss(collapsed, mask).item() == pytest.approx(1.0, abs=1e-4)
    # every frame peaked, but on different tokens: the batch-mean distribution is uniform again
    spread = torch.full((1, 8, 8), -100.0)
    spread[0, torch.arange(8), torch.arange(8)] = 100.0
    assert diversity_loss(spread, torch.ones(1, 8, dtype=torch.bool)).item() == pytest.approx(0.0, abs=1e-4)
    # masked (padded) frames are ignored
    partly = collapsed.clone()
    partly[:, 2:] = 0.0
    partly_mask = torch.zeros(2, 5, dtype=torch.bool)
    partly_mask[:, :2] = True
    assert diversity_loss(partly, partly_mask).item() == pytest.approx(1.0, abs=1e-4)


def test_smoothness_loss():
    z = F.normalize(torch.ones(1, 6, 4), dim=-1)
    assert smoothness_loss(z, torch.tensor([6])).item() == pytest.approx(0.0, abs=1e-6)
    flip = z.clone()
    flip[0, 1::2] *= -1  # alternating: 1 - cos = 2 at every step
    assert smoothness_loss(flip, torch.tensor([6])).item() == pytest.approx(2.0, abs=1e-5)
    flip[0, 4:] = 0  # padded frames beyond length 4 are not counted
    assert smoothness_loss(flip, torch.tensor([4])).item() == pytest.approx(2.0, abs=1e-5)


def test_consistency_loss_rewards_agreeing_aligned_tokens():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 4, generator=g) * 3
    aligned = torch.tensor([[0, 1, 2, 3, 4], [0, 0, 1, 2, -1]])
    # Reference: per aligned frame, symmetric cross-entropy towards the partner's argmax token.
    terms = []
    for b in range(2):
        for t in range(5):
            a = int(aligned[b, t])
            if a < 0:
                continue
            x, y = logits[b, t], logits[b, a]
            terms.append(0.5 * (F.cross_entropy(x[None], y.argmax()[None]) + F.cross_entropy(y[None], x.argmax()[None])))
    expected = torch.stack(terms).mean()
    assert consistency_loss(logits, logits, aligned).item() == pytest.approx(expected.item(), rel=1e-5)
    # Disagreeing partners cost more than agreeing ones; padding (-1 everywhere) gives a zero loss with a gradient.
    assert consistency_loss(logits, logits, aligned) < consistency_loss(logits, -logits, aligned)
    empty = consistency_loss(logits.requires_grad_(), logits, torch.full((2, 5), -1))
    assert empty.item() == 0.0 and empty.requires_grad


def test_dtw_alignment_identity_and_stretch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 6, generator=g)
    assert dtw_alignment(x, x).tolist() == list(range(12))
    stretched = x.repeat_interleave(2, dim=0)  # x' is x at half speed
    aligned = dtw_alignment(x, stretched)
    assert aligned.shape == (12,)
    assert all(a // 2 == i for i, a in enumerate(aligned.tolist()))
    assert torch.all(aligned[1:] >= aligned[:-1])


def test_alignment_loss_prefers_true_partners():
    g = torch.Generator().manual_seed(0)
    b, t, d = 2, 16, 32
    z = F.normalize(torch.randn(b, t, d, generator=g), dim=-1)
    z_prime = F.normalize(z + 0.05 * torch.randn(b, t, d, generator=g), dim=-1)
    identity = torch.arange(t).repeat(b, 1)
    identity[1, 10:] = -1  # padding
    good = alignment_loss(z, z_prime, identity, 0.1, 8, generator=torch.Generator().manual_seed(0))
    shuffled = torch.stack([torch.randperm(t, generator=g) for _ in range(b)])
    bad = alignment_loss(z, z_prime, shuffled, 0.1, 8, generator=torch.Generator().manual_seed(0))
    assert good.item() < 0.1 < bad.item()
    assert math.log(16) * 0.5 < bad.item()  # 16 anchors: chance-level cross-entropy is log 16
    # seeded draws are reproducible
    again = alignment_loss(z, z_prime, identity, 0.1, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(good, again)

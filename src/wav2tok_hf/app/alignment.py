"""Align a query's tokens with a match's tokens and show the alignment (and token strings) as HTML.

The alignment is one optimal unit-cost edit script from :mod:`rapidfuzz` (``Levenshtein.opcodes``, the library the
index's edit distances run in), so the page shows *which* tokens matched, not only how many edits there were.
"""

from __future__ import annotations

import colorsys
import html
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from ..retrieval.kernels import tokens_to_str

OPERATIONS = ("match", "substitution", "insertion", "deletion")
OP_STYLE = {  # colour, mark between the two rows, legend text
    "match": ("#2e7d32", "|", "match"),
    "substitution": ("#ef6c00", "×", "substitution"),
    "insertion": ("#1565c0", "+", "insertion (only in the query)"),
    "deletion": ("#c62828", "−", "deletion (only in the match)"),
}


@dataclass(frozen=True)
class AlignedPair:
    """One column of an alignment: ``query`` / ``match`` token (``None`` for a gap) and its operation."""

    query: int | None
    match: int | None
    operation: str


@dataclass(frozen=True)
class TokenAlignment:
    """An optimal unit-cost alignment of two token sequences.

    Example:
        >>> a = align_tokens([1, 2, 3, 4], [1, 5, 3])
        >>> [p.operation for p in a.pairs]
        ['match', 'substitution', 'match', 'insertion']
        >>> a.counts()
        {'match': 2, 'substitution': 1, 'insertion': 1, 'deletion': 0}
    """

    pairs: tuple[AlignedPair, ...]

    def counts(self) -> dict[str, int]:
        """Number of columns of each operation."""
        return {op: sum(p.operation == op for p in self.pairs) for op in OPERATIONS}

    @property
    def distance(self) -> int:
        """The unit-cost edit distance (every column that is not a match)."""
        return sum(p.operation != "match" for p in self.pairs)


def align_tokens(query: Sequence[int], match: Sequence[int]) -> TokenAlignment:
    """Align ``query`` with ``match`` (whole sequences; pass ``match[start:end]`` for a subsequence hit)."""
    query, match = [int(t) for t in query], [int(t) for t in match]
    pairs: list[AlignedPair] = []
    for tag, q0, q1, m0, m1 in Levenshtein.opcodes(tokens_to_str(query), tokens_to_str(match)):
        if tag == "equal":
            pairs += [AlignedPair(query[q], match[m], "match") for q, m in zip(range(q0, q1), range(m0, m1))]
        elif tag == "replace":
            pairs += [AlignedPair(query[q], match[m], "substitution") for q, m in zip(range(q0, q1), range(m0, m1))]
        elif tag == "delete":  # rapidfuzz deletes from the source (the query): a query-only token
            pairs += [AlignedPair(query[q], None, "insertion") for q in range(q0, q1)]
        else:  # "insert": a token of the match that the query lacks
            pairs += [AlignedPair(None, match[m], "deletion") for m in range(m0, m1)]
    return TokenAlignment(tuple(pairs))


def token_colour(token: int) -> str:
    """A stable, well-spread colour per token id (golden-ratio hues), shared by the plots and the HTML.

    Example:
        >>> token_colour(0), token_colour(1) != token_colour(0)
        ('#e6554c', True)
    """
    hue = (0.01 + 0.618033988749895 * int(token)) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.67, 0.9)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _chip(token: int | None, border: str | None = None) -> str:
    if token is None:
        return '<span class="w2t-tok w2t-gap">&ndash;</span>'
    edge = f"border-color:{border};" if border else ""
    return f'<span class="w2t-tok" style="background:{token_colour(token)};{edge}">{int(token)}</span>'


def tokens_html(tokens: Sequence[int], label: str = "tokens") -> str:
    """A token string as coloured chips (the colours of the token plot)."""
    chips = "".join(_chip(t) for t in tokens)
    return (f'<div class="w2t-row"><span class="w2t-label">{html.escape(label)} ({len(tokens)})</span>'
            f'<span class="w2t-chips">{chips}</span></div>')


def alignment_html(alignment: TokenAlignment, query_label: str = "query", match_label: str = "best match") -> str:
    """Two aligned rows of chips (query above, match below) with the operation's mark between them, each column
    framed in the operation's colour, wrapping like text; then a legend with the counts."""
    columns = []
    for p in alignment.pairs:
        colour, mark, _ = OP_STYLE[p.operation]
        columns.append(f'<span class="w2t-col w2t-{p.operation}" title="{p.operation}">{_chip(p.query, colour)}'
                       f'<span class="w2t-mark" style="color:{colour}">{mark}</span>{_chip(p.match, colour)}</span>')
    counts = alignment.counts()
    legend = " · ".join(f'<span style="color:{colour};font-weight:600">{mark} {counts[op]} {text}</span>'
                        for op, (colour, mark, text) in OP_STYLE.items())
    return (f'<div class="w2t-legend">rows: {html.escape(query_label)} (top) / {html.escape(match_label)} (bottom)'
            f'</div><div class="w2t-columns">{"".join(columns)}</div><div class="w2t-legend">{legend}</div>')


ALIGNMENT_CSS = """
.w2t-tok{display:inline-block;min-width:1.9em;padding:1px 3px;margin:1px;border:3px solid transparent;
  border-radius:4px;text-align:center;font:12px monospace;color:#111}
.w2t-gap{background:#eee;color:#888}
.w2t-col{display:inline-flex;flex-direction:column;align-items:center;margin-bottom:6px}
.w2t-mark{font:bold 12px monospace;line-height:12px}
.w2t-columns{display:flex;flex-wrap:wrap}
.w2t-row{margin:4px 0}.w2t-label{font-size:12px;margin-right:6px}
.w2t-legend{font-size:12px;margin-top:4px}
"""

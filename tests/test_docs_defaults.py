"""Where the docs state a default, it is the code's default (docs that drift from the code mislead users)."""

import inspect
import re
from pathlib import Path

import pytest

from wav2tok_hf import Wav2TokConfig
from wav2tok_hf.retrieval import Wav2TokIndex
from wav2tok_hf.retrieval import graph as graph_module
from wav2tok_hf.retrieval import index as index_module

ROOT = Path(__file__).resolve().parents[1]
GRAPH = inspect.signature(Wav2TokIndex.build_graph).parameters


def number(text: str) -> float:
    return float(text.replace(",", ""))


CLAIMS = [  # (file, pattern with one group per stated value, the code's values)
    ("README.md", r"above ([\d,]+) items a\s+bigram filter", [index_module.FAST_SEARCH_MIN_ITEMS]),
    ("docs/CONTRACTS.md", r"bigram filter-and-refine \(`retrieval/qgram.py`\) above ([\d,]+) items",
     [index_module.FAST_SEARCH_MIN_ITEMS]),
    ("docs/RETRIEVAL.md", r"`index.fast_search_min_items` items \(default ([\d,]+)\)", [index_module.FAST_SEARCH_MIN_ITEMS]),
    ("docs/RETRIEVAL.md", r"`index.fast_search_candidates` \(default ([\d,]+)\)", [index_module.FAST_SEARCH_CANDIDATES]),
    ("docs/RETRIEVAL.md", r"`FAST_SEARCH_PATIENCE` \((\d+)\)", [index_module.FAST_SEARCH_PATIENCE]),
    ("docs/RETRIEVAL.md",  # expansion_search=None: the model's width (below), else the library's
     r"`index.build_graph\(connectivity=(\d+), expansion_add=(\d+), expansion_search=None, threads=(\d+)\)`",
     [GRAPH[name].default for name in ("connectivity", "expansion_add", "threads")]),
    ("docs/RETRIEVAL.md", r"an index\s+not made from a model uses ([\d,]+)", [graph_module.EXPANSION_SEARCH]),
    ("README.md", r"`Wav2TokConfig.substitution_temperature` τ = ([\d.]+) and `substitution_cost_cap` ([\d.]+) by\s+default",
     [Wav2TokConfig().substitution_temperature, Wav2TokConfig().substitution_cost_cap]),
]


@pytest.mark.parametrize(("path", "pattern", "values"), CLAIMS, ids=[f"{c[0]}:{c[1][:30]}" for c in CLAIMS])
def test_documented_defaults_match_the_code(path, pattern, values):
    text = (ROOT / path).read_text(encoding="utf-8")
    found = re.findall(pattern, text)
    assert found, f"{path} no longer states this default ({pattern!r}): update the claim or this test"
    for stated in found:
        stated = stated if isinstance(stated, tuple) else (stated,)
        assert [number(s) for s in stated] == [float(v) for v in values], (path, stated, values)

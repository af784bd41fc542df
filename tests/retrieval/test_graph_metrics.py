"""The graph's compiled metrics are cached on disk: a fresh process loads them instead of compiling them."""

import json
import subprocess
import sys

import pytest
from numba.core import caching

from wav2tok_hf.retrieval import graph_metrics

LOAD = """
import json
from wav2tok_hf.retrieval import graph_metrics
functions = {f"{kind} {id_bytes}": graph_metrics.compiled(kind, id_bytes)
             for kind in ("build", "plain", "weighted") for id_bytes in (1, 2)}
print(json.dumps({name: function.cache_hits for name, function in functions.items()}))
"""


def test_a_fresh_process_loads_every_metric_from_numba_s_cache():
    """Nothing a metric needs is baked into its code (buffers and costs come through its state pointer), so numba can
    cache it: once compiled here, a new process finds all six (three kinds, two id widths) in the cache."""
    for kind in ("build", "plain", "weighted"):
        for id_bytes in (1, 2):
            assert graph_metrics.compiled(kind, id_bytes).address
    run = subprocess.run([sys.executable, "-c", LOAD], capture_output=True, text=True, check=True, timeout=600)
    hits = json.loads(run.stdout.strip().splitlines()[-1])
    assert hits == {f"{kind} {id_bytes}": 1 for kind in ("build", "plain", "weighted") for id_bytes in (1, 2)}


def test_without_a_writable_cache_folder_the_metrics_still_compile(monkeypatch):
    """A read-only install with no writable home: numba finds no cache folder; the metric is compiled in the process
    (with a warning saying how to give it one) instead of graph search failing."""
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):
        function = graph_metrics.compiled.__wrapped__("build", 1)
    assert function.address and function.cache_hits == 0

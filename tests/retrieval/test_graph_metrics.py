"""The graph's compiled metrics are cached on disk: a fresh process loads them instead of compiling them."""

import json
import os
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


WITHOUT_AVX512 = """
import json
import numpy as np
from wav2tok_hf.retrieval import Wav2TokIndex, graph_metrics
rng = np.random.default_rng(0)
costs = rng.uniform(0.2, 2.0, (30, 30))
np.fill_diagonal(costs, 0.0)
items = [rng.integers(0, 30, n) for n in rng.integers(1, 50, 300)]
index = Wav2TokIndex(vocab_size=30, substitution_costs=costs)
index.add(items)
index.build_graph(threads=1)
same = all(index.search(q, distance="normalized_weighted_levenshtein", top_k=10, candidates=300).ids
           == index.search(q, distance="normalized_weighted_levenshtein", top_k=10, exhaustive=True).ids
           for q in items[:20])
metric = index._graph._walk_metric(index.substitution_costs)
print(json.dumps({"lookup": graph_metrics.vector_lookup(), "lanes": int(metric.keep[2][-1]), "same": same}))
"""


@pytest.mark.skipif(not graph_metrics.vector_lookup(), reason="this CPU has no AVX-512BW: the fallback is all it runs")
def test_a_cpu_without_avx512_walks_with_the_query_in_lanes_dp(tmp_path):
    """Compiled for a CPU without AVX-512BW (numba's NUMBA_CPU_FEATURES, this CPU's features with AVX-512 switched
    off), the weighted walk never takes the items-in-lanes kernel (its permute does not exist there) and still finds
    what the exhaustive scan finds."""
    from llvmlite import binding
    from numba.core import config

    features = (config.CPU_FEATURES or binding.get_host_cpu_features().flatten()).replace("+avx512", "-avx512")
    env = {**os.environ, "NUMBA_CPU_NAME": binding.get_host_cpu_name(), "NUMBA_CPU_FEATURES": features,
           "NUMBA_CACHE_DIR": str(tmp_path)}  # apart from the host's cache
    run = subprocess.run([sys.executable, "-c", WITHOUT_AVX512], capture_output=True, text=True, check=True,
                         timeout=600, env=env)
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"lookup": False, "lanes": 0, "same": True}

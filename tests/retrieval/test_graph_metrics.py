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
from wav2tok_hf.retrieval.graph import _compiled_metric, pack
from wav2tok_hf.retrieval.graph_walk import _METRIC

def scores(metric, packed, nodes):
    nodes, out = np.asarray(nodes, np.int32), np.zeros(len(nodes), np.float32)
    _METRIC(metric.address)(packed.ctypes.data, packed.ctypes.data, packed.strides[0], nodes.ctypes.data, len(nodes),
                            out.ctypes.data, metric.state)
    return out

rng = np.random.default_rng(0)
costs = rng.uniform(0.2, 2.0, (64, 64))
np.fill_diagonal(costs, 0.0)
costs[0, 1] = 300.0
metric = _compiled_metric(1, costs.astype(np.float32), walk=True)
same_batches = True
for la in (64, 5, 40):
    strings = [rng.integers(0, 64, la)] + [rng.integers(0, 64, n) for n in rng.integers(1, 65, 70)]
    packed = pack(np.concatenate(strings), np.concatenate([[0], np.cumsum([len(t) for t in strings])]), 1)
    one_by_one = np.array([scores(metric, packed, [k])[0] for k in range(1, 71)])
    for count in (3, 8, 9, 32, 70):
        nodes = rng.permutation(np.arange(1, 71))[:count]
        same_batches &= bool((scores(metric, packed, nodes) == one_by_one[nodes - 1]).all())
items = [rng.integers(0, 64, n) for n in rng.integers(1, 50, 300)]
index = Wav2TokIndex(vocab_size=64, substitution_costs=costs)
index.add(items)
index.build_graph(threads=1)
same = all(index.search(q, distance="normalized_weighted_levenshtein", top_k=10, candidates=300).ids
           == index.search(q, distance="normalized_weighted_levenshtein", top_k=10, exhaustive=True).ids
           for q in items[:20])
print(json.dumps({"lookup": graph_metrics.vector_lookup(), "lanes": int(metric.keep[2][-1]), "batches": same_batches,
                  "same": same}))
"""


@pytest.mark.skipif(graph_metrics.vector_lookup() != graph_metrics.AVX512,
                    reason="this CPU has no AVX-512BW: the kernels it lacks cannot be switched off here")
@pytest.mark.parametrize(("switched_off", "kind"), [(("+avx512",), graph_metrics.AVX2),
                                                    (("+avx512", "+avx2"), 0)])
def test_cpus_without_avx512_walk_with_the_kernel_they_have(tmp_path, switched_off, kind):
    """Compiled for this CPU with AVX-512 switched off (numba's NUMBA_CPU_FEATURES), the weighted walk takes the AVX2
    items-in-lanes kernel (byte shuffles instead of the word permute), and with AVX2 off too the query-in-lanes DP
    alone; either way a batch scores as one by one (to the bit, 3-70 items, a saturating cost) and the walk finds what
    the exhaustive scan finds."""
    from llvmlite import binding
    from numba.core import config

    features = config.CPU_FEATURES or binding.get_host_cpu_features().flatten()
    for feature in switched_off:
        features = features.replace(feature, "-" + feature[1:])
    env = {**os.environ, "NUMBA_CPU_NAME": binding.get_host_cpu_name(), "NUMBA_CPU_FEATURES": features,
           "NUMBA_CACHE_DIR": str(tmp_path)}  # apart from the host's cache
    run = subprocess.run([sys.executable, "-c", WITHOUT_AVX512], capture_output=True, text=True, check=True,
                         timeout=600, env=env)
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"lookup": kind, "lanes": kind, "batches": True,
                                                               "same": True}

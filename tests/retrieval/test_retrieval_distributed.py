"""The sharded index on a real local Ray cluster (loopback, several worker processes)."""

import numpy as np
import pytest

from wav2tok_hf.retrieval import Wav2TokIndex

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_sharded_search_equals_one_index(tmp_path, cluster):
    from wav2tok_hf.retrieval.distributed import ShardedIndex, save_shards

    rng = np.random.default_rng(0)
    items = [rng.integers(0, 12, rng.integers(4, 15)) for _ in range(60)]
    costs = rng.uniform(0.2, 1.5, (12, 12))
    np.fill_diagonal(costs, 0)
    index = Wav2TokIndex(vocab_size=12, vocab_name="shards", substitution_costs=costs)
    index.add(items, labels=[str(i % 7) for i in range(60)])
    folders = save_shards(index, tmp_path, num_shards=2)
    empty = save_shards(Wav2TokIndex(vocab_size=12, vocab_name="shards"), tmp_path / "empty", 1)
    sharded = ShardedIndex(folders + empty)  # an empty shard is skipped
    assert len(sharded) == 60 and sharded.sizes[-1] == 0
    queries = [items[5], items[17][:5], rng.integers(0, 12, 9)]
    for distance in ("levenshtein", "normalized_weighted_levenshtein"):
        merged = sharded.search(queries, distance=distance, top_k=8)
        for q, got in zip(queries, merged):
            want = index.search(q, distance=distance, top_k=8, exhaustive=True)
            assert got.ids == want.ids and got.labels == want.labels
            np.testing.assert_allclose(got.scores, want.scores.astype(np.float64), rtol=1e-6)
    one = sharded.search(items[5], top_k=3)
    assert one.ids[0] == "5" and one.to_list()[0]["shard"] == 0
    sharded.shutdown()
    with pytest.raises(TimeoutError, match="use fewer shards"):  # an actor of 4 CPUs on a 3-CPU cluster
        ShardedIndex(folders[:1], num_cpus=4, timeout_s=2)
    with pytest.raises(ValueError, match="every shard is empty"):
        ShardedIndex(empty)
    with pytest.raises(FileNotFoundError, match="no index.json"):
        ShardedIndex([str(tmp_path / "missing")])
    other = Wav2TokIndex(vocab_size=12, vocab_name="another")
    other.add([[1, 2]])
    other.save(tmp_path / "other")
    with pytest.raises(ValueError, match="different vocabularies"):
        ShardedIndex([folders[0], str(tmp_path / "other")])

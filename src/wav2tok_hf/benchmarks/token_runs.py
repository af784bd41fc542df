"""Choose ``Wav2TokConfig.max_token_run`` (tokens that keep durations) on a corpus's VALIDATION split
(``scripts/tune_token_runs.py``).

For each model: DTW over its frame embeddings (the upper reference), then its tokens with runs collapsed (``0``)
or split into one token per at most N frames, ranked by ``normalized_levenshtein`` and
``normalized_weighted_levenshtein`` (at the model's substitution temperature and cost cap, and each extra
temperature x cost cap); each key search adds every token row searched at those query pitch shifts. Frames are
computed once per clip and every N derives its tokens from them, exactly as ``model.encode`` with that
``max_token_run``.

Usage (``models`` ``[(folder, Wav2TokModel)]``, ``split`` a corpus validation split at 8 kHz)::

    report = token_runs(models, load_from_disk(corpus_dir)["validation"], runs=(0, 2, 4), progress=print_row)

Example:
    >>> format_row({"model": "m N=2", "distance": "normalized_levenshtein", "V": 0.5, "TS": 0.25, "PS": 0.75,
    ...             "mean": 0.5}).split()
    ['m', 'N=2', 'normalized_levenshtein', 'V', '0.500', 'TS', '0.250', 'PS', '0.750', 'mean', '0.500']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

SAMPLING_RATE = 8000


def format_row(row: dict) -> str:
    """The printed line of one row: model, distance, MRR per condition and their mean."""
    return (f"{row['model']:60s} {row['distance']:32s} V {row['V']:.3f} TS {row['TS']:.3f} "
            f"PS {row['PS']:.3f} mean {row['mean']:.3f}")


def _encoders(path: str, model: Any, runs: Sequence[int], temperatures: Sequence[float],
              cost_caps: Sequence[float], key_search: Sequence[Sequence[float]]) -> list:
    """The embedding-DTW encoder, then one token encoder per N x ranking (x key search) of one model."""
    from ..modeling_wav2tok import codebook_substitution_costs, collapse_runs, split_long_runs
    from ..retrieval.encoders import Encoder, with_key_search

    cache: dict[int, tuple] = {}

    def frames(waves, sr):
        todo = [w for w in waves if id(w) not in cache]
        for w, out in zip(todo, model.frame_outputs(todo, sampling_rate=sr, batch_size=32) if todo else []):
            cache[id(w)] = (w, out)  # the wave is kept so that its id stays unique
        return [cache[id(w)][1] for w in waves]

    encoders = [Encoder(f"{path} embeddings", lambda w, sr: [e for _, e in frames(w, sr)], "dtw")]
    own = (model.config.substitution_temperature, model.config.substitution_cost_cap)
    costs = {own: model.substitution_costs()}
    for tau in sorted({own[0], *temperatures}):
        for cap in sorted({own[1], *cost_caps}):
            costs.setdefault((tau, cap), codebook_substitution_costs(model.codebook.numpy(), tau, cap))
    for run in runs:
        def encode(w, sr, run=run):
            return [split_long_runs(*collapse_runs(tokens), run)[0] for tokens, _ in frames(w, sr)]
        encoders.append(Encoder(f"{path} N={run}", encode, "normalized_levenshtein", model.config.codebook_size))
        for (tau, cap), matrix in costs.items():
            encoders.append(Encoder(f"{path} N={run} tau={tau:g} cap={cap:g}", encode,
                                    "normalized_weighted_levenshtein",
                                    model.config.codebook_size, substitution_costs=matrix))
    tokens = encoders[1:]
    for shifts in key_search:
        encoders += with_key_search(tokens, shifts)[1::2]
    return encoders


def token_runs(models: Sequence[tuple[str, Any]], split: Any, *, runs: Sequence[int] = (0, 2, 3, 4, 6, 8),
               temperatures: Sequence[float] = (), cost_caps: Sequence[float] = (),
               key_search: Sequence[Sequence[float]] = (), references_per_label: int | None = None,
               max_queries: int = 200, seed: int = 0,
               progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Rank every model (``[(name, model)]``) at every ``max_token_run`` in ``runs`` on ``split`` (validation).

    ``progress`` receives each row as it is scored. Returns ``{"split": "validation", "references_per_label",
    "num_queries", "rows"}``: a row has MRR per condition (V, TS, PS) and their ``mean``.
    """
    from ..retrieval.evaluation import condition_sets, retrieval_set_from_split, run_benchmark

    retrieval = retrieval_set_from_split(split, SAMPLING_RATE, max_queries=max_queries, seed=seed,
                                         max_references_per_label=references_per_label)
    sets = condition_sets(retrieval, seed=seed)
    rows = []
    for path, model in models:
        for row in run_benchmark(_encoders(path, model, runs, temperatures, cost_caps, key_search), sets):
            row["mean"] = (row["V"] + row["TS"] + row["PS"]) / 3
            rows.append(row)
            if progress:
                progress(row)
    return {"split": "validation", "references_per_label": references_per_label,
            "num_queries": len(retrieval.queries), "rows": rows}

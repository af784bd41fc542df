"""Cross-corpus VALIDATION of speech models, for choosing between them (``scripts/validate_speech.py``; never reads
a test split).

Word retrieval across speakers on the validation splits of Speech Commands (``sc``) and speechocean762 word clips
(``so``): half of each split's speakers form the database, the others query it (``retrieval_set_from_split``, seed
0). Conditions (:func:`condition_data`): ``V`` as recorded; ``TS`` / ``PS`` the benchmark's time-stretched /
pitch-shifted queries; ``8k`` queries AND database through 8 kHz; ``trim8k`` the same after cutting every clip to its
non-silent span; and any query condition of ``wav2tok_hf.data.degrade`` (``noise`` from the TRAINING half of a noise
bank at 10 dB SNR, ``reverb`` rooms of seed 500). Models are ranked by the normalised codebook-weighted edit distance,
optionally also by DTW over their frame embeddings, with a key search, re-ranked at other substitution temperatures
or with a re-fit codebook (:func:`refit_codebook`, :func:`save_refit`), or through the product path: tokens, then
DTW over the frame embeddings on each query's shortlist (``rerank``; :mod:`.reranked`).

Usage (``corpora`` ``{"sc": DatasetDict, "so": DatasetDict}``, ``models`` ``[(folder, Wav2TokModel)]``)::

    report = validate_speech(corpora, models, conditions=["V", "8k"], logmel=True,
                             progress=lambda d: print(json.dumps(d)))

Example:
    >>> import numpy as np
    >>> from wav2tok_hf.retrieval.evaluation import RetrievalSet
    >>> clip = np.zeros(1600, np.float32)
    >>> queries, database = condition_data(RetrievalSet([clip], ["a"], [clip], ["a"], SAMPLING_RATE), "8k", {})
    >>> len(queries[0]), len(database)
    (1600, 1)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .reranked import rerank_rows

SAMPLING_RATE = 16000
TOKEN_DISTANCE = "normalized_weighted_levenshtein"


def _through_8k(wave: np.ndarray) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(resample_poly(wave, 1, 2), 2, 1).astype(np.float32)


def _trimmed(wave: np.ndarray) -> np.ndarray:
    from ..audio_utils import trim_silence

    return trim_silence(wave, SAMPLING_RATE, top_db=30, frame_length=2048)  # librosa.effects.trim's default frames


def condition_data(retrieval, name: str, resources: dict) -> tuple[list, list]:
    """(queries, database) of a validation retrieval set under one condition."""
    from ..data import degrade

    if name == "V":
        return retrieval.queries, retrieval.database
    if name in ("TS", "PS"):  # the benchmark's time-stretched / pitch-shifted queries
        from ..retrieval.evaluation import condition_sets

        return condition_sets(retrieval, seed=0, conditions=(name,))[name].queries, retrieval.database
    if name == "8k":
        return [_through_8k(w) for w in retrieval.queries], [_through_8k(w) for w in retrieval.database]
    if name == "trim8k":
        return ([_through_8k(_trimmed(w)) for w in retrieval.queries],
                [_through_8k(_trimmed(w)) for w in retrieval.database])
    return ([degrade(name, w, SAMPLING_RATE, seed=i, **resources.get(name, {})) for i, w in enumerate(retrieval.queries)],
            retrieval.database)


REFIT_CLIPS = 150
"""Seeded training clips per corpus whose frame embeddings a re-fit codebook is fitted on (the releases' re-fits)."""


def refit_codebook(model, k: int, train_splits: list, clips: int = REFIT_CLIPS) -> object:
    """A copy of ``model`` whose codebook is a K-means fit (K=``k``) of frame embeddings of ``clips`` seeded training
    clips of each split."""
    import torch

    from .. import Wav2TokConfig
    from ..audio_utils import load_audio
    from ..modeling_wav2tok import Wav2TokModel
    from ..training.kmeans import spherical_kmeans

    waves = []
    for split in train_splits:
        audio = split.select_columns(["audio"])
        for row in np.random.default_rng(0).permutation(len(split))[:clips]:
            waves.append(load_audio(audio[int(row)]["audio"], target_sampling_rate=SAMPLING_RATE)[0])
    frames = torch.cat([torch.as_tensor(e) for e in model.embed(waves, sampling_rate=SAMPLING_RATE, batch_size=32)])
    centroids = spherical_kmeans(frames, k, iterations=30, generator=torch.Generator().manual_seed(0)).centroids
    refit = Wav2TokModel(Wav2TokConfig(**{**model.config.to_dict(), "codebook_size": k}))
    refit.load_state_dict({n: t for n, t in model.state_dict().items() if n != "codebook"}, strict=False)
    refit.set_codebook(centroids)
    return refit.eval()


def save_refit(model, directory: str, source: str, k: int, clips: int = REFIT_CLIPS) -> None:
    """Save a re-fit model with its processor and a note of how it was made (``refit_config.json``)."""
    from .. import Wav2TokProcessor

    model.save_pretrained(directory)
    Wav2TokProcessor.from_model_config(model.config).save_pretrained(directory)
    with open(os.path.join(directory, "refit_config.json"), "w", encoding="utf-8") as handle:
        json.dump({"encoder_from": source, "codebook_size": k, "kmeans": "spherical, 30 iterations, seed 0",
                   "frames_from": f"{clips} seeded training clips of each corpus (sc, so)"}, handle, indent=1)


def condition_resources(conditions: Sequence[str], noise_source: str) -> dict:
    """The banks the ``noise`` (training half of ``noise_source``, 10 dB SNR) and ``reverb`` (seed 500) conditions
    degrade with; ``{}`` for conditions that need none."""
    resources: dict = {}
    if "noise" in conditions:
        from ..data import load_noise_bank

        resources["noise"] = {"noise_bank": load_noise_bank(noise_source, part="train",
                                                            sampling_rate=SAMPLING_RATE), "snr_db": 10.0}
    if "reverb" in conditions:
        from ..data import room_impulse_responses

        resources["reverb"] = {"rir_bank": room_impulse_responses(8, SAMPLING_RATE, seed=500)}
    return resources


def validate_speech(corpora: Mapping[str, Any], models: Sequence[tuple[str, Any]], *,
                    conditions: Sequence[str] = ("V", "8k"), max_queries: int = 300, noise_source: str = "",
                    dtw: bool = False, logmel: bool = False, refit_k: Sequence[int] = (), refit_clips: int = REFIT_CLIPS,
                    substitution_temperature: Sequence[float] = (), save_refit_dir: str | None = None,
                    key_search: Sequence[float] | None = None, rerank: Sequence[int] = (), rerank_pool: int = 1,
                    progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Rank ``models`` (``[(name, model)]``) on the validation splits of ``corpora`` (``{key: DatasetDict}``).

    ``progress`` receives the split sizes, then each row as it is scored. Returns ``{"sizes", "conditions",
    "rows"}``: a row is ``{"model", "distance", "<corpus>/<condition>": MRR, ..., "mean"}``.
    """
    from ..modeling_wav2tok import codebook_substitution_costs
    from ..retrieval.evaluation import retrieval_set_from_split
    from ..retrieval.encoders import key_search_name
    from ..retrieval.metrics import evaluate_retrieval

    report = progress or (lambda _: None)
    sets = {name: retrieval_set_from_split(c["validation"], SAMPLING_RATE, max_queries=max_queries, seed=0,
                                           name=f"{name}/validation") for name, c in corpora.items()}
    resources = condition_resources(conditions, noise_source)
    data = {(c, k): condition_data(rs, c, resources) for k, rs in sets.items() for c in conditions}
    sizes = {k: {"queries": len(v.queries), "database": len(v.database), "words": len(set(v.database_labels))}
             for k, v in sets.items()}
    report(sizes)
    rows = []

    def finish(row: dict) -> None:
        row["mean"] = round(float(np.mean([v for key, v in row.items() if "/" in key])), 4)
        report(row)
        rows.append(row)

    def score(name: str, encode, distance: str, encode_queries=None, **options) -> None:
        row = {"model": name, "distance": distance}
        for (condition, corpus), (queries, database) in data.items():
            rs = sets[corpus]
            query_seqs = encode_queries(queries) if encode_queries else [np.asarray(s) for s in encode(queries)]
            result = evaluate_retrieval(query_seqs, rs.query_labels,
                                        [np.asarray(s) for s in encode(database)], rs.database_labels,
                                        distance=distance, query_versions=encode_queries is not None, **options)
            row[f"{corpus}/{condition}"] = round(float(result["mrr"]), 4)
        finish(row)

    def reranked(path: str, model: Any, shortlist: int) -> None:
        # one index per database: the query-only conditions share their corpus's, 8k / trim8k change it
        by_database: dict[tuple[str, int], dict[str, Any]] = {}
        for (condition, corpus), (queries, database) in data.items():
            by_database.setdefault((corpus, id(database)), {})[condition] = dataclasses.replace(
                sets[corpus], queries=list(queries), database=list(database))
        cells = {}
        for (corpus, _), conditions in by_database.items():
            measured = rerank_rows([(path, model, path)], conditions, shortlist, ("embeddings",), rerank_pool)[0]
            cells.update({(condition, corpus): round(float(measured[condition]), 4) for condition in conditions})
        finish({"model": measured["model"], "distance": measured["distance"],
                **{f"{corpus}/{condition}": cells[condition, corpus] for condition, corpus in data}})

    if logmel:
        from ..retrieval import create_baseline

        baseline = create_baseline("logmel-dtw", sampling_rate=SAMPLING_RATE)
        score("logmel-dtw", lambda w: baseline.encode(list(w), sampling_rate=SAMPLING_RATE), "dtw")
    for path, model in models:
        def tokens(w, m=model):
            return m.encode(list(w), sampling_rate=SAMPLING_RATE, batch_size=32)

        score(path, tokens, TOKEN_DISTANCE, substitution_costs=model.substitution_costs())
        if key_search:
            from ..data.augment import pitch_shift_versions

            def versions(w, m=model):
                return [[np.asarray(s) for s in m.encode(pitch_shift_versions(q, key_search, SAMPLING_RATE)[0],
                                                         sampling_rate=SAMPLING_RATE, batch_size=32)] for q in w]

            score(key_search_name(path, key_search), tokens, TOKEN_DISTANCE,
                  encode_queries=versions, substitution_costs=model.substitution_costs())
        for shortlist in rerank:
            reranked(path, model, shortlist)
        for t in substitution_temperature:
            costs = codebook_substitution_costs(model.codebook.detach().numpy(), t)
            score(f"{path} (substitution temperature {t})", tokens, TOKEN_DISTANCE, substitution_costs=costs)
        if dtw:
            score(f"{path} (frame embeddings)",
                  lambda w, m=model: m.embed(list(w), sampling_rate=SAMPLING_RATE, batch_size=32), "dtw")
        for k in refit_k:
            refit = refit_codebook(model, k, [c["train"] for c in corpora.values()], clips=refit_clips)
            if save_refit_dir:
                save_refit(refit, save_refit_dir, path, k, clips=refit_clips)
            score(f"{path} (codebook re-fit, K={k})",
                  lambda w, m=refit: m.encode(list(w), sampling_rate=SAMPLING_RATE, batch_size=32),
                  TOKEN_DISTANCE, substitution_costs=refit.substitution_costs())
    return {"sizes": sizes, "conditions": list(conditions), "rows": rows}

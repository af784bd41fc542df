#!/usr/bin/env python
"""Cross-corpus VALIDATION of speech models, for choosing between them (never reads a test split).

Word retrieval across speakers on the validation splits of Speech Commands (``sc``) and speechocean762 word clips
(``so``): half of each split's speakers form the database, the others query it (``retrieval_set_from_split``, seed
0). Conditions (``--conditions``): ``V`` as recorded; ``TS`` / ``PS`` the benchmark's time-stretched / pitch-shifted
queries; ``8k`` queries AND database through 8 kHz (an 8 kHz corpus);
``trim8k`` the same after cutting every clip to its non-silent span (``librosa.effects.trim``, 30 dB), as a
spoken-digits corpus stores its words; and any query condition of ``wav2tok_hf.data.degrade`` (``noise`` uses the
TRAINING half of the Speech Commands ``_silence_`` clips at 10 dB SNR, ``reverb`` rooms of seed 500: the benchmark's
test halves and rooms stay unseen). Models are ranked by the normalised codebook-weighted edit distance; ``--dtw``
adds DTW over their frame embeddings, ``--logmel`` the log-mel DTW baseline, ``--key-search S ...`` each model with
its queries searched at those pitch shifts (``Wav2TokConfig.query_pitch_shifts``); ``--refit-k K`` re-fits a K-word
codebook by spherical K-means on frame embeddings of 150 training clips of each corpus (a discretisation probe
without training) and ``--substitution-temperature T`` re-ranks with other substitution costs.

Usage:
    python scripts/validate_speech.py --models checkpoints/wav2tok-speech --logmel \
        --sc-dir data_cache/speech-commands-35w --so-dir data_cache/speechocean762 \
        --noise-source ../shared/data/speech_commands_test_v0.02 --conditions V 8k trim8k noise \
        --output results/speech-validation/release.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

SAMPLING_RATE = 16000
CORPORA = {"sc": "sc_dir", "so": "so_dir"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=[], metavar="DIR", help="saved wav2tok model folders")
    parser.add_argument("--sc-dir", default="data_cache/speech-commands-35w", help="built Speech Commands corpus")
    parser.add_argument("--so-dir", default="data_cache/speechocean762", help="built speechocean762 corpus")
    parser.add_argument("--noise-source", default="../shared/data/speech_commands_test_v0.02",
                        help="Speech Commands folder whose _silence_ clips (training half) make the noise condition")
    parser.add_argument("--conditions", nargs="+", default=["V", "8k"])
    parser.add_argument("--max-queries", type=int, default=300)
    parser.add_argument("--dtw", action="store_true", help="also DTW over each model's frame embeddings")
    parser.add_argument("--logmel", action="store_true", help="also the logmel-dtw baseline")
    parser.add_argument("--refit-k", nargs="*", type=int, default=[], metavar="K")
    parser.add_argument("--substitution-temperature", nargs="*", type=float, default=[], metavar="T")
    parser.add_argument("--save-refit", metavar="DIR", help="with one --refit-k: save that re-fit model here")
    parser.add_argument("--key-search", type=float, nargs="+", metavar="SEMITONES",
                        help="also rank each model with queries searched at these pitch shifts (query_pitch_shifts)")
    parser.add_argument("--output", help="JSON file for the rows")
    return parser


def _through_8k(wave: np.ndarray) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(resample_poly(wave, 1, 2), 2, 1).astype(np.float32)


def _trimmed(wave: np.ndarray) -> np.ndarray:
    from wav2tok_hf.audio_utils import trim_silence

    return trim_silence(wave, SAMPLING_RATE, top_db=30, frame_length=2048)  # librosa.effects.trim's default frames


def condition_data(retrieval, name: str, resources: dict) -> tuple[list, list]:
    """(queries, database) of a validation retrieval set under one condition."""
    from wav2tok_hf.data import degrade

    if name == "V":
        return retrieval.queries, retrieval.database
    if name in ("TS", "PS"):  # the benchmark's time-stretched / pitch-shifted queries
        from wav2tok_hf.retrieval.evaluation import condition_sets

        return condition_sets(retrieval, seed=0, conditions=(name,))[name].queries, retrieval.database
    if name == "8k":
        return [_through_8k(w) for w in retrieval.queries], [_through_8k(w) for w in retrieval.database]
    if name == "trim8k":
        return ([_through_8k(_trimmed(w)) for w in retrieval.queries],
                [_through_8k(_trimmed(w)) for w in retrieval.database])
    return ([degrade(name, w, SAMPLING_RATE, seed=i, **resources.get(name, {})) for i, w in enumerate(retrieval.queries)],
            retrieval.database)


def refit_codebook(model, k: int, train_splits: list) -> object:
    """A copy of ``model`` whose codebook is a K-means fit (K=``k``) of frame embeddings of training clips."""
    import torch

    from wav2tok_hf import Wav2TokConfig
    from wav2tok_hf.audio_utils import load_audio
    from wav2tok_hf.modeling_wav2tok import Wav2TokModel
    from wav2tok_hf.training.kmeans import spherical_kmeans

    waves = []
    for split in train_splits:
        audio = split.select_columns(["audio"])
        for row in np.random.default_rng(0).permutation(len(split))[:150]:
            waves.append(load_audio(audio[int(row)]["audio"], target_sampling_rate=SAMPLING_RATE)[0])
    frames = torch.cat([torch.as_tensor(e) for e in model.embed(waves, sampling_rate=SAMPLING_RATE, batch_size=32)])
    centroids = spherical_kmeans(frames, k, iterations=30, generator=torch.Generator().manual_seed(0)).centroids
    refit = Wav2TokModel(Wav2TokConfig(**{**model.config.to_dict(), "codebook_size": k}))
    refit.load_state_dict({n: t for n, t in model.state_dict().items() if n != "codebook"}, strict=False)
    refit.set_codebook(centroids)
    return refit.eval()


def save_refit(model, directory: str, source: str, k: int) -> None:
    """Save a re-fit model with its processor and a note of how it was made (``refit_config.json``)."""
    from wav2tok_hf import Wav2TokProcessor

    model.save_pretrained(directory)
    Wav2TokProcessor.from_model_config(model.config).save_pretrained(directory)
    with open(os.path.join(directory, "refit_config.json"), "w", encoding="utf-8") as handle:
        json.dump({"encoder_from": source, "codebook_size": k, "kmeans": "spherical, 30 iterations, seed 0",
                   "frames_from": "150 seeded training clips of each corpus (sc, so)"}, handle, indent=1)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import datasets
    import torch

    from _common import load_model_dir
    from wav2tok_hf.retrieval.evaluation import retrieval_set_from_split
    from wav2tok_hf.modeling_wav2tok import codebook_substitution_costs
    from wav2tok_hf.retrieval.metrics import evaluate_retrieval

    torch.set_num_threads(1)
    corpora = {name: datasets.load_from_disk(getattr(args, attr)) for name, attr in CORPORA.items()}
    sets = {name: retrieval_set_from_split(c["validation"], SAMPLING_RATE, max_queries=args.max_queries, seed=0,
                                           name=f"{name}/validation") for name, c in corpora.items()}
    resources: dict = {}
    if "noise" in args.conditions:
        from wav2tok_hf.data import load_noise_bank

        resources["noise"] = {"noise_bank": load_noise_bank(args.noise_source, part="train",
                                                            sampling_rate=SAMPLING_RATE), "snr_db": 10.0}
    if "reverb" in args.conditions:
        from wav2tok_hf.data import room_impulse_responses

        resources["reverb"] = {"rir_bank": room_impulse_responses(8, SAMPLING_RATE, seed=500)}
    data = {(c, k): condition_data(rs, c, resources) for k, rs in sets.items() for c in args.conditions}
    sizes = {k: {"queries": len(v.queries), "database": len(v.database), "words": len(set(v.database_labels))}
             for k, v in sets.items()}
    print(json.dumps(sizes), flush=True)
    rows = []

    def score(name: str, encode, distance: str, encode_queries=None, **options) -> None:
        row = {"model": name, "distance": distance}
        for (condition, corpus), (queries, database) in data.items():
            rs = sets[corpus]
            query_seqs = encode_queries(queries) if encode_queries else [np.asarray(s) for s in encode(queries)]
            result = evaluate_retrieval(query_seqs, rs.query_labels,
                                        [np.asarray(s) for s in encode(database)], rs.database_labels,
                                        distance=distance, query_versions=encode_queries is not None, **options)
            row[f"{corpus}/{condition}"] = round(float(result["mrr"]), 4)
        row["mean"] = round(float(np.mean([v for key, v in row.items() if "/" in key])), 4)
        print(json.dumps(row), flush=True)
        rows.append(row)

    if args.logmel:
        from wav2tok_hf.retrieval import create_baseline

        baseline = create_baseline("logmel-dtw", sampling_rate=SAMPLING_RATE)
        score("logmel-dtw", lambda w: baseline.encode(list(w), sampling_rate=SAMPLING_RATE), "dtw")
    for path in args.models:
        model = load_model_dir(path).eval()

        def tokens(w, m=model):
            return m.encode(list(w), sampling_rate=SAMPLING_RATE, batch_size=32)

        score(path, tokens, "normalized_weighted_levenshtein", substitution_costs=model.substitution_costs())
        if args.key_search:
            from wav2tok_hf.data.augment import pitch_shift_versions

            def versions(w, m=model):
                return [[np.asarray(s) for s in m.encode(pitch_shift_versions(q, args.key_search, SAMPLING_RATE)[0],
                                                         sampling_rate=SAMPLING_RATE, batch_size=32)] for q in w]

            shifts = ", ".join(f"{k:+g}" for k in args.key_search)
            score(f"{path} + key search ({shifts} st)", tokens, "normalized_weighted_levenshtein",
                  encode_queries=versions, substitution_costs=model.substitution_costs())
        for t in args.substitution_temperature:
            costs = codebook_substitution_costs(model.codebook.detach().numpy(), t)
            score(f"{path} (substitution temperature {t})", tokens, "normalized_weighted_levenshtein",
                  substitution_costs=costs)
        if args.dtw:
            score(f"{path} (frame embeddings)",
                  lambda w, m=model: m.embed(list(w), sampling_rate=SAMPLING_RATE, batch_size=32), "dtw")
        for k in args.refit_k:
            refit = refit_codebook(model, k, [c["train"] for c in corpora.values()])
            if args.save_refit:
                save_refit(refit, args.save_refit, path, k)
            score(f"{path} (codebook re-fit, K={k})",
                  lambda w, m=refit: m.encode(list(w), sampling_rate=SAMPLING_RATE, batch_size=32),
                  "normalized_weighted_levenshtein", substitution_costs=refit.substitution_costs())
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump({"sizes": sizes, "conditions": args.conditions, "rows": rows}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

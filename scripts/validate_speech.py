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
without training), ``--substitution-temperature T`` re-ranks with other substitution costs and ``--rerank N`` adds
the product path (tokens, then DTW over the model's frame embeddings on the best N; ``--rerank-pool P``).

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

# the script's helpers, kept importable from it (its tests use them)
from wav2tok_hf.benchmarks.speech_validation import (  # noqa: F401
    REFIT_CLIPS, SAMPLING_RATE, condition_data, refit_codebook, save_refit)

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
    parser.add_argument("--refit-clips", type=int, default=REFIT_CLIPS, metavar="N",
                        help=f"training clips per corpus the re-fit K-means sees (default {REFIT_CLIPS})")
    parser.add_argument("--substitution-temperature", nargs="*", type=float, default=[], metavar="T")
    parser.add_argument("--save-refit", metavar="DIR", help="with one --refit-k: save that re-fit model here")
    parser.add_argument("--key-search", type=float, nargs="+", metavar="SEMITONES",
                        help="also rank each model with queries searched at these pitch shifts (query_pitch_shifts)")
    parser.add_argument("--rerank", nargs="*", type=int, default=[], metavar="N",
                        help="also each model's tokens-then-re-rank row: the best N items by tokens re-scored by DTW "
                             "over its frame embeddings (Wav2TokIndex's re-rank stage), one row per N")
    parser.add_argument("--rerank-pool", type=int, default=1, metavar="P",
                        help="average every P re-rank frames into one (default 1)")
    parser.add_argument("--output", help="JSON file for the rows")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from _common import check_positive, load_model_dir

    for value, flag in [*((n, "--rerank") for n in args.rerank), (args.rerank_pool, "--rerank-pool"),
                        (args.refit_clips, "--refit-clips")]:
        check_positive(parser, value, flag)
    import datasets
    import torch

    from wav2tok_hf.benchmarks.speech_validation import validate_speech

    torch.set_num_threads(1)
    corpora = {name: datasets.load_from_disk(getattr(args, attr)) for name, attr in CORPORA.items()}
    models = [(path, load_model_dir(path).eval()) for path in args.models]
    report = validate_speech(corpora, models, conditions=args.conditions, max_queries=args.max_queries,
                             noise_source=args.noise_source, dtw=args.dtw, logmel=args.logmel, refit_k=args.refit_k,
                             refit_clips=args.refit_clips,
                             substitution_temperature=args.substitution_temperature, save_refit_dir=args.save_refit,
                             key_search=args.key_search, rerank=args.rerank, rerank_pool=args.rerank_pool,
                             progress=lambda line: print(json.dumps(line), flush=True))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

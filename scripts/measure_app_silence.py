"""How the silence around a recording affects hum search, and what the app's trimming recovers.

N Essen songs (the app's cached catalog, `build_essen_catalog`), one simulated hum each (`prepare_essen`, the same
seed: the same songs); each hum searched plain and padded with 0.5 s of near-silence on both sides (digital zeros plus
-60 dBFS noise), with and without the app's trimming (`Searcher(trim_db=...)`). SYNTHETIC hums, CLOSED-SET: the
songs and hum renditions of seed 0 are in the training split of `wav2tok-qbsh` (configs/released/qbsh-intervals.yaml).

    python scripts/measure_app_silence.py --songs 100 --cache-dir data_cache/app
"""

from __future__ import annotations

import argparse

import numpy as np

from wav2tok_hf import Wav2TokModel
from wav2tok_hf.app.catalog import build_essen_catalog
from wav2tok_hf.app.search import Searcher
from wav2tok_hf.audio_utils import load_audio
from wav2tok_hf.data import prepare_essen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=100)
    parser.add_argument("--model", default="checkpoints/wav2tok-qbsh")
    parser.add_argument("--cache-dir", default="data_cache/app")
    args = parser.parse_args()
    model = Wav2TokModel.from_pretrained(args.model).eval()
    catalog = build_essen_catalog(model, args.cache_dir, num_songs=args.songs)
    rows = prepare_essen(num_songs=(args.songs, 0, 0), queries_per_song=1, seed=0)["train"]
    queries = [(r["song_id"], load_audio(r["audio"])[0]) for r in rows if r["kind"] == "query"]
    rng = np.random.default_rng(0)
    print(f"| trimming | silence around the hum | top-1 | top-10 | MRR |  ({len(queries)} SYNTHETIC hums, {args.songs} songs)")
    print("|---|---|---|---|---|")
    for trim in (None, 40.0):
        searcher = Searcher(model, catalog, trim_db=trim, top_k=args.songs)
        for pad in (0.0, 0.5):
            ranks = []
            for song, wave in queries:
                silence = np.zeros(int(pad * 8000), np.float32)
                query = np.concatenate([silence, wave, silence])
                query = query + 1e-3 * rng.standard_normal(len(query)).astype(np.float32) * (pad > 0)
                ids = [hit.item_id for hit in searcher.search(query, sampling_rate=8000).hits]
                ranks.append(ids.index(song) + 1)
            ranks = np.array(ranks)
            print(f"| {'off' if trim is None else f'{trim:g} dB'} | {pad} s | {np.mean(ranks == 1):.3f} | "
                  f"{np.mean(ranks <= 10):.3f} | {np.mean(1 / ranks):.3f} |", flush=True)


if __name__ == "__main__":
    main()

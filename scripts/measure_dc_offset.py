"""How much a DC offset changes a model's tokens, with and without the front end's ``remove_dc`` option.

    python scripts/measure_dc_offset.py --model checkpoints/wav2tok-speech \
        --audio-dir ../shared/data/speech_commands_test_v0.02 --clips 200 --offset 0.01

Real audio (the clips named), the released model's weights. Prints one JSON line: the fraction of frames whose
token changes, and the edit distance between the collapsed token strings per token, when ``offset`` is added to
every sample, with ``remove_dc`` off (the model as released) and on; and the same two numbers for ``remove_dc`` itself
on the unshifted clips (the price of turning it on without retraining).
"""

from __future__ import annotations

import argparse
import glob
import json
import os

import numpy as np


def frame_tokens(model, waves, rate):
    return [tokens for tokens, _ in model.frame_outputs(waves, sampling_rate=rate)]


def changed(a, b) -> float:
    """Fraction of frames whose token differs."""
    return float(sum(int((x != y).sum()) for x, y in zip(a, b)) / sum(len(x) for x in a))


def edit_rate(a, b) -> float:
    """Edit distance between the collapsed token strings, per token of ``a``'s strings."""
    from rapidfuzz.distance import Levenshtein

    from wav2tok_hf.modeling_wav2tok import collapse_runs

    strings = [(collapse_runs(x)[0], collapse_runs(y)[0]) for x, y in zip(a, b)]
    return float(sum(Levenshtein.distance(x, y) for x, y in strings) / sum(len(x) for x, _ in strings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--audio-dir", required=True)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--offset", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from wav2tok_hf import Wav2TokModel
    from wav2tok_hf.audio_utils import load_audio

    torch.set_num_threads(1)
    files = sorted(f for pattern in ("*.flac", "*.wav") for f in glob.glob(os.path.join(args.audio_dir, "*", pattern))
                   if "_silence_" not in f)
    chosen = np.random.default_rng(args.seed).permutation(len(files))[: args.clips]
    model = Wav2TokModel.from_pretrained(args.model).eval()
    rate = model.config.sampling_rate
    waves = [load_audio(files[i], target_sampling_rate=rate)[0] for i in chosen]
    shifted = [w + np.float32(args.offset) for w in waves]
    result = {"model": args.model, "clips": len(waves), "offset": args.offset}
    tokens = {}
    for remove_dc in (False, True):
        model.config.remove_dc = remove_dc  # the feature extractor follows the config
        tokens[remove_dc] = frame_tokens(model, waves, rate)
        moved = frame_tokens(model, shifted, rate)
        flag = str(remove_dc).lower()
        result[f"frames_changed_by_offset_remove_dc_{flag}"] = round(changed(tokens[remove_dc], moved), 4)
        result[f"token_edits_by_offset_remove_dc_{flag}"] = round(edit_rate(tokens[remove_dc], moved), 4)
    result["frames_changed_by_remove_dc_itself"] = round(changed(tokens[False], tokens[True]), 4)
    result["token_edits_by_remove_dc_itself"] = round(edit_rate(tokens[False], tokens[True]), 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

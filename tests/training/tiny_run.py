"""A tiny, deterministic wav2tok training run used by the trainer tests (also run as a subprocess).

    python tiny_run.py OUTPUT_DIR [key=value ...]

``key=value`` pairs override `Wav2TokTrainingArguments` fields (values parsed as YAML); ``slow=SECONDS`` makes every
pair item sleep, so a test can kill the process in the middle of a run.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import yaml

TINY_MODEL = dict(sampling_rate=8000, n_fft=256, hop_length=128, n_mels=24, hidden_size=16, embedding_dim=8,
                  codebook_size=6)


def tiny_pairs(n: int = 6, seconds: float = 1.0, seed: int = 0) -> list[dict]:
    """``n`` pairs of harmonic tones (the second view a little detuned, louder and noisier), deterministic."""
    rng = np.random.default_rng(seed)
    sr = TINY_MODEL["sampling_rate"]
    pairs = []
    for i in range(n):
        length = int(sr * seconds * (1 - 0.1 * (i % 3)))  # unequal lengths: padding must not matter
        t = np.arange(length) / sr
        f0 = 110 * 2 ** (i / 4)
        melody = f0 * 2 ** (np.floor(t * 4) % 3 / 6)  # a 3-note figure
        phase = 2 * np.pi * np.cumsum(melody) / sr
        x = sum(np.sin(h * phase) / h for h in (1, 2, 3))
        first = 0.3 * x + 0.01 * rng.standard_normal(length)
        second = 0.5 * np.roll(x, 200) + 0.03 * rng.standard_normal(length)
        pairs.append({"input_values": first.astype(np.float32), "input_values_prime": second.astype(np.float32),
                      "label": str(i)})
    return pairs


class SlowPairs:
    """A list of pairs whose items take ``delay`` seconds each (to kill a run at an arbitrary point)."""

    def __init__(self, pairs: list[dict], delay: float):
        self.pairs, self.delay = pairs, delay

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict:
        time.sleep(self.delay)
        return self.pairs[index]


def build(output_dir: str, model_overrides: dict | None = None, pairs: int = 6, slow: float = 0.0, **training):
    import torch

    from wav2tok_hf import Wav2TokConfig, Wav2TokModel
    from wav2tok_hf.training import Wav2TokTrainer, Wav2TokTrainingArguments

    settings = dict(output_dir=output_dir, max_steps=4, batch_size=2, e_step_interval=3, e_step_clips=4,
                    kmeans_iterations=5, save_interval=100, eval_interval=100, logging_interval=1, report_to="none",
                    progress_bar=False)
    settings.update(training)
    torch.manual_seed(0)
    model = Wav2TokModel(Wav2TokConfig(**{**TINY_MODEL, **(model_overrides or {})}))
    data = tiny_pairs(pairs)
    dataset = SlowPairs(data, slow) if slow else data
    return Wav2TokTrainer(model, Wav2TokTrainingArguments(**settings), dataset)


def main(argv: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    options = {}
    for item in argv[1:]:
        key, _, value = item.partition("=")
        options[key] = yaml.safe_load(value)
    model_overrides = {k[len("model."):]: options.pop(k) for k in list(options) if k.startswith("model.")}
    result = build(argv[0], model_overrides, **options).train()
    print(f"steps={result.steps}")


if __name__ == "__main__":
    main(sys.argv[1:])

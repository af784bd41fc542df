"""GPU check: on a CUDA machine, the released models and a tiny EM training run on the GPU, against the CPU.

    python scripts/check_gpu.py [--output results/gpu/check_gpu.json]

Checks: each release (``checkpoints/wav2tok-qbsh``, ``checkpoints/wav2tok-speech``) tokenises 8 clips (tones at the
model's rate) to the same ids on the GPU as on the CPU, batched as one by one; the share of tokens kept in bf16 and
fp16 (reported, not required); ``pipeline("audio-tokenization", device=0)``; a tiny training run of
``tests/training/tiny_run.py`` on the GPU (Accelerate's device), saved, loaded and resumed. Prints one line per check,
writes them as JSON, and exits 1 if any check raised. CI has no GPU: run it where one is lent (the device machine).
"""
import argparse
import json
import os
import sys
import tempfile
import time
import traceback

import numpy as np
import torch
import transformers

from wav2tok_hf import Wav2TokModel  # also registers the "audio-tokenization" task

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "training"))
report = {"torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.cuda.is_available()}


def check(name, fn):
    t = time.time()
    try:
        report[name] = fn()
    except Exception as error:  # report every failure, keep going
        report[name] = {"error": repr(error), "trace": traceback.format_exc()[-1500:]}
    report[name + "_s"] = round(time.time() - t, 2)
    print(name, json.dumps(report[name])[:800], flush=True)


def tones(sr, count=8, seed=0):
    """``count`` clips of 1-3.6 s: a five-note figure of harmonic tones with a little noise."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        t = np.arange(int(sr * (1.0 + 0.37 * i))) / sr
        f0 = 220 * 2 ** (np.floor(t * 3) % 5 / 12)
        clips.append((0.3 * np.sin(2 * np.pi * np.cumsum(f0) / sr) + 0.01 * rng.standard_normal(len(t)))
                     .astype(np.float32))
    return clips


def agreement(a, b):
    """Mean share of equal tokens over the common prefix of each pair of id lists."""
    return float(np.mean([np.mean(np.array(x[:min(len(x), len(y))]) == np.array(y[:min(len(x), len(y))]))
                          for x, y in zip(a, b)]))


def released(path):
    def run():
        model = Wav2TokModel.from_pretrained(path).eval()
        sr = model.config.sampling_rate
        clips = tones(sr)
        cpu = model.encode(clips, sampling_rate=sr)
        model.to("cuda")
        gpu = model.encode(clips, sampling_rate=sr)
        one_by_one = [model.encode(c, sampling_rate=sr) for c in clips]
        batch1 = model.encode(clips, sampling_rate=sr, batch_size=1)
        same = [a == b for a, b in zip(cpu, gpu)]
        out = {"cpu_eq_gpu": sum(same), "of": len(same), "gpu_batched_eq_unbatched": gpu == one_by_one == batch1,
               "device": str(next(model.parameters()).device), "costs_shape": list(model.substitution_costs().shape)}
        if not all(same):  # where float32 kernels of the CPU and the GPU round differently
            out["token_agreement"] = agreement(cpu, gpu)
        for dtype in (torch.bfloat16, torch.float16):
            half = Wav2TokModel.from_pretrained(path, dtype=dtype).to("cuda").eval()
            out[f"{dtype}_token_agreement"] = agreement(cpu, half.encode(clips, sampling_rate=sr))
        return out
    return run


def pipeline_cuda():
    pipe = transformers.pipeline("audio-tokenization", model="checkpoints/wav2tok-qbsh", device=0)
    clip = tones(8000, 1)[0]
    out = pipe({"raw": clip, "sampling_rate": 8000})
    return {"device": str(pipe.device), "keys": sorted(out) if isinstance(out, dict) else str(type(out))}


def training():
    from tiny_run import build

    with tempfile.TemporaryDirectory() as tmp:
        trainer = build(os.path.join(tmp, "m"), max_steps=6, e_step_interval=3, save_interval=2)
        result = trainer.train()
        device = str(next(trainer.model.parameters()).device)
        loaded = Wav2TokModel.from_pretrained(os.path.join(tmp, "m"))
        ids = loaded.encode(tones(8000, 2), sampling_rate=8000)
        resumed = build(os.path.join(tmp, "m"), max_steps=8, e_step_interval=3, save_interval=2,
                        resume_from_checkpoint="latest").train()
        finite = all(bool(torch.isfinite(p).all()) for p in trainer.model.parameters())
        return {"steps": result.steps, "device": device, "weights_finite": finite,
                "saved_model_encodes": [len(i) for i in ids], "resumed_steps": resumed.steps}


parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--output", default="results/gpu/check_gpu.json")
args = parser.parse_args()
if not torch.cuda.is_available():
    sys.exit("no CUDA GPU here: this check runs where one is (the device machine)")
check("qbsh", released("checkpoints/wav2tok-qbsh"))
check("speech", released("checkpoints/wav2tok-speech"))
check("pipeline", pipeline_cuda)
check("training", training)
os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
with open(args.output, "w") as f:
    json.dump(report, f, indent=1)
sys.exit(any(isinstance(v, dict) and "error" in v for v in report.values()))

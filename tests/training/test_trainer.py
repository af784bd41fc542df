"""The EM trainer end to end on tiny data: E-steps, saving/loading, ablations, exact resume, early errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_tiny, subprocess_env, tiny_experiment, tiny_run_command
from safetensors.torch import load_file
from tiny_run import TINY_MODEL, build, tiny_pairs

from wav2tok_hf import Wav2TokConfig, Wav2TokFeatureExtractor, Wav2TokModel
from wav2tok_hf.cli import main as cli_main
from wav2tok_hf.training import Wav2TokTrainer, Wav2TokTrainingArguments, load_experiment
from wav2tok_hf.training.experiment import prepare_training


def checkpoint(run_dir: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoints" / f"step_{step}" / "model.safetensors"))


# ---------------------------------------------------------------------------------------------- training runs
def test_training_runs_and_codebook_changes_only_at_e_steps(tmp_path):
    trainer = build(str(tmp_path / "m"), max_steps=4, e_step_interval=3, save_interval=1)
    initial = trainer.model.codebook.clone()
    result = trainer.train()
    assert result.steps == 4 and result.pairs_per_second > 0
    run = tmp_path / "m-run"
    books = {s: checkpoint(run, s)["codebook"] for s in range(1, 5)}
    # E-steps at step 0 and 3: the codebook is K-means' from step 0 on, then frozen until the next E-step
    assert not torch.allclose(books[1], initial)
    assert torch.equal(books[1], books[2]) and torch.equal(books[2], books[3])
    assert not torch.equal(books[3], books[4])
    assert torch.allclose(books[4].norm(dim=-1), torch.ones(TINY_MODEL["codebook_size"]), atol=1e-5)
    # the encoder moved at every step
    assert not torch.equal(checkpoint(run, 1)["projection.weight"], checkpoint(run, 2)["projection.weight"])


def test_output_dir_loads_with_auto_classes(tmp_path):
    from transformers import AutoModel, AutoProcessor

    trainer = build(str(tmp_path / "m"), max_steps=2, e_step_interval=1)
    trainer.train()
    out = tmp_path / "m"
    model = AutoModel.from_pretrained(str(out))
    assert isinstance(model, Wav2TokModel)
    assert torch.equal(model.codebook, trainer.model.codebook)
    assert torch.equal(model.projection.weight, trainer.model.projection.weight)
    processor = AutoProcessor.from_pretrained(str(out))
    assert processor.feature_extractor.sampling_rate == 8000
    ids = model.encode(tiny_pairs(1)[0]["input_values"], sampling_rate=8000)
    assert ids and all(0 <= i < TINY_MODEL["codebook_size"] for i in ids)
    saved = json.loads((out / "training_config.json").read_text())
    assert saved["training_arguments"]["max_steps"] == 2
    assert saved["trainer_state"]["step"] == 2


@pytest.mark.parametrize("ablation", [
    {"matching_loss": False},                 # NoSim
    {"model.similarity": "cosine"},           # Cos
    {"ctc_blank": True},                      # CTC with a blank
    {"kmeans_init": "new"},                   # NewInit
])
def test_paper_ablations_run(tmp_path, ablation):
    model_overrides = {k[len("model."):]: v for k, v in ablation.items() if k.startswith("model.")}
    training = {k: v for k, v in ablation.items() if not k.startswith("model.")}
    trainer = build(str(tmp_path / "m"), model_overrides, max_steps=3, e_step_interval=2, save_interval=3, **training)
    loader = torch.utils.data.DataLoader(trainer.train_dataset, batch_size=2, collate_fn=trainer.pair_collator())
    batch = next(iter(loader))
    blank = torch.zeros(1, requires_grad=True) if training.get("ctc_blank") else None
    _, logs = trainer.compute_loss(trainer.model, batch, blank)
    assert ("loss/matching" in logs) == training.get("matching_loss", True)
    assert trainer.train().steps == 3
    files = os.listdir(tmp_path / "m-run" / "checkpoints" / "step_3")
    assert ("extra.safetensors" in files) == bool(training.get("ctc_blank"))  # the blank logit is saved


@pytest.mark.parametrize("term, weights", [
    ("loss/alignment", {"alignment_weight": 0.5}),
    ("loss/consistency", {"consistency_weight": 0.5}),   # needs the pair alignment without the alignment term
    ("loss/smoothness", {"smoothness_weight": 0.5}),
    ("loss/context", {"context_weight": 0.5}),
])
def test_extra_terms_are_computed_and_trained(tmp_path, term, weights):
    trainer = build(str(tmp_path / "m"), max_steps=2, save_interval=2, **weights)
    loader = torch.utils.data.DataLoader(trainer.train_dataset, batch_size=2, collate_fn=trainer.pair_collator())
    batch = next(iter(loader))
    _, logs = trainer.compute_loss(trainer.model, batch, None)
    extra = {"loss/alignment", "loss/consistency", "loss/smoothness", "loss/context"}
    assert logs[term] > 0 and extra & set(logs) == {term}
    assert trainer.train().steps == 2


def test_context_crops_are_frames_of_their_view_seeded_by_its_samples():
    """training.context_weight: each first view's sub-crop starts on a frame and, featurised alone, gives that
    view's frames at its offset (checked without per-utterance normalisation, away from the crop's edges); the same
    view always draws the same crop (a resumed run sees the same batches)."""
    from wav2tok_hf.training import PairCollator

    fe = Wav2TokFeatureExtractor(**{k: TINY_MODEL[k] for k in ("sampling_rate", "n_fft", "hop_length", "n_mels")},
                                 feature_type="log-mel", normalize_features=False)
    items = tiny_pairs(4, seconds=2.0)
    collate = PairCollator(fe, context_crop_s=(0.3, 0.8), seed=0)
    batch, again = collate(items), collate(items)
    assert torch.equal(batch["context_features"], again["context_features"])
    assert not torch.equal(batch["context_offset"], PairCollator(fe, context_crop_s=(0.3, 0.8), seed=1)(items)["context_offset"])
    rate, hop = fe.sampling_rate, fe.hop_length
    for b in range(len(items)):
        n = int(batch["context_mask"][b].sum())
        assert 0.3 * rate / hop - 2 <= n <= 0.8 * rate / hop + 2
        first, inner = int(batch["context_offset"][b]), slice(4, n - 4)
        view = batch["input_features"][b, first:first + n]
        assert torch.allclose(batch["context_features"][b, inner], view[inner], atol=1e-4)
    with pytest.raises(ValueError, match="context_crop_s"):
        Wav2TokTrainingArguments(output_dir="x", context_crop_s=[0.8, 0.3])


def test_spec_augment_masks_bands_and_spans_of_each_view_seeded_by_its_samples():
    """training.frequency_masks / time_masks: every view loses whole bands and whole frame spans (set to 0) and
    nothing else; the same view is always masked alike (a resumed run sees the same batches), another seed masks
    otherwise; without masks the features are the extractor's."""
    from wav2tok_hf.training import PairCollator

    fe = Wav2TokFeatureExtractor(**{k: TINY_MODEL[k] for k in ("sampling_rate", "n_fft", "hop_length", "n_mels")},
                                 feature_type="log-mel")
    items = tiny_pairs(4, seconds=1.0)
    plain = PairCollator(fe)(items)["input_features"]
    masked = PairCollator(fe, masks=(2, 3, 2, 4))(items)
    assert torch.equal(masked["input_features"], PairCollator(fe, masks=(2, 3, 2, 4))(items)["input_features"])
    assert not torch.equal(masked["input_features"], PairCollator(fe, masks=(2, 3, 2, 4), seed=1)(items)["input_features"])
    changed = masked["input_features"] != plain
    assert changed.any() and (masked["input_features"][changed] == 0).all()
    for b in range(plain.shape[0]):
        n = int(masked["attention_mask"][b].sum())
        zero = masked["input_features"][b, :n] == 0
        bands, spans = zero.all(0), zero.all(1)
        assert int(bands.sum()) <= 2 * 3 and int(spans.sum()) <= 2 * 4
        assert torch.equal(zero, bands[None, :] | spans[:, None])  # whole bands and whole frames, nothing else
    with pytest.raises(ValueError, match="time_masks"):
        Wav2TokTrainingArguments(output_dir="x", time_masks=-1)


def test_gradient_accumulation_counts_optimiser_steps(tmp_path):
    build(str(tmp_path / "m"), max_steps=2, gradient_accumulation_steps=2, save_interval=2).train()
    scheduler = json.loads((tmp_path / "m-run" / "checkpoints" / "step_2" / "scheduler.json").read_text())
    assert scheduler["last_epoch"] == 2


def test_experiment_cli_run(tmp_path, essen_cache, capsys):
    """`wav2tok train --config` on a tiny built Essen corpus: validation selects `best`, copied to output_dir."""
    config = tiny_experiment(tmp_path, essen_cache)
    assert cli_main(["train", "--config", str(config), "training.max_steps=2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["steps"] == 2 and 0 <= printed["best_validation_mrr"] <= 1
    out = Path(printed["output_dir"])
    saved = json.loads((out / "training_config.json").read_text())
    assert saved["experiment"]["name"] == "tiny" and saved["experiment"]["data"]["corpus"] == "essen"
    assert (out / "processor_config.json").is_file() and (out / "model.safetensors").is_file()
    from transformers import AutoModel

    assert AutoModel.from_pretrained(str(out)).config.codebook_size == TINY_MODEL["codebook_size"]


def test_fine_tuning_starts_from_a_saved_model(tmp_path, essen_cache):
    """`training.init_from` starts from a saved model's weights and codebook; a config mismatch is refused."""
    base = Wav2TokModel(Wav2TokConfig(**TINY_MODEL))
    with torch.no_grad():
        base.codebook.normal_()
    base.save_pretrained(tmp_path / "base")
    config = tiny_experiment(tmp_path, essen_cache, training={"init_from": str(tmp_path / "base")})
    trainer, _ = prepare_training(load_experiment(config))
    for name, tensor in base.state_dict().items():
        torch.testing.assert_close(trainer.model.state_dict()[name], tensor)
    mismatch = tiny_experiment(tmp_path, essen_cache, name="other", training={"init_from": str(tmp_path / "base")},
                               model={"codebook_size": TINY_MODEL["codebook_size"] + 1})
    with pytest.raises(ValueError, match="differs from the experiment's in \\['codebook_size'\\]"):
        prepare_training(load_experiment(mismatch))
    missing = tiny_experiment(tmp_path, essen_cache, name="missing", training={"init_from": str(tmp_path / "nope")})
    with pytest.raises(ValueError, match="is not a loadable wav2tok model"):
        prepare_training(load_experiment(missing))


def test_fine_tuning_may_change_the_band_of_a_frequency_conv_front_end(tmp_path, essen_cache):
    """`training.init_from_changes` loads every saved weight into a model whose listed front-end keys differ (the
    frequency convolutions do not depend on the number of bins); a change of a weight's shape is refused."""
    conv = dict(TINY_MODEL, feature_type="cqt", fmin=100.0, n_semitones=40, frequency_conv_channels=4)
    base = Wav2TokModel(Wav2TokConfig(**conv))
    with torch.no_grad():
        base.codebook.normal_()
    base.save_pretrained(tmp_path / "base")
    narrow = dict(conv, n_semitones=30)
    config = tiny_experiment(tmp_path, essen_cache, model=narrow,
                             training={"init_from": str(tmp_path / "base"), "init_from_changes": ["n_semitones"]})
    trainer, _ = prepare_training(load_experiment(config))
    assert trainer.model.config.n_semitones == 30
    for name, tensor in base.state_dict().items():
        torch.testing.assert_close(trainer.model.state_dict()[name], tensor)
    unlisted = tiny_experiment(tmp_path, essen_cache, name="unlisted", model=narrow,
                               training={"init_from": str(tmp_path / "base")})
    with pytest.raises(ValueError, match="differs from the experiment's in \\['n_semitones'\\]"):
        prepare_training(load_experiment(unlisted))
    bigger_k = tiny_experiment(tmp_path, essen_cache, name="bigger_k", model=dict(conv, codebook_size=9),
                               training={"init_from": str(tmp_path / "base"), "init_from_changes": ["codebook_size"]})
    trainer, _ = prepare_training(load_experiment(bigger_k))
    assert tuple(trainer.model.codebook.shape) == (9, conv["embedding_dim"])
    torch.testing.assert_close(trainer.model.projection.weight, base.projection.weight)
    wider = tiny_experiment(tmp_path, essen_cache, name="wider", model=dict(conv, frequency_conv_channels=6),
                            training={"init_from": str(tmp_path / "base"),
                                      "init_from_changes": ["frequency_conv_channels"]})
    with pytest.raises(ValueError, match="change shape"):
        prepare_training(load_experiment(wider))


# ---------------------------------------------------------------------------------------------- resume
RESUME_RUN = dict(max_steps=10, save_interval=1, e_step_interval=3, alignment_weight=0.5, diversity_weight=0.1)


def test_killed_run_resumes_bit_identically(tmp_path):
    """SIGKILL a run once `checkpoints/step_4` exists (6 pairs / batch 2 = 3 batches an epoch: it dies inside epoch 1,
    after the E-step of step 3), resume from `latest`, compare with an uninterrupted run.

    Expected **bit-identical** (torch.equal), not just allclose: every run is single-threaded on CPU with the same
    op sequence, checkpoints store exact fp32 tensors plus optimiser/scheduler/RNG/trainer state, the data order
    and pairs are pure functions of (seed, epoch, index), the E-step's generator is seeded by the step, and the
    DataLoader has its own generator so the global RNG (dropout 0.25, alignment-frame draws) continues exactly.
    """
    env = subprocess_env()
    reference = subprocess.Popen(tiny_run_command(tmp_path / "ref" / "m", **RESUME_RUN), env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    killed_dir = tmp_path / "killed" / "m"
    victim = subprocess.Popen(tiny_run_command(killed_dir, slow=0.05, **RESUME_RUN), env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = tmp_path / "killed" / "m-run" / "checkpoints" / "step_4"
    deadline = time.time() + 120
    while not marker.is_dir() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not killed_dir.exists(), "the killed run must not have written its final model"
    assert not (tmp_path / "killed" / "m-run" / "checkpoints" / "step_10").exists()

    run_tiny(killed_dir, resume_from_checkpoint="latest", **RESUME_RUN)
    assert reference.wait(timeout=120) == 0, reference.stderr.read()[-3000:]
    final_ref = load_file(str(tmp_path / "ref" / "m" / "model.safetensors"))
    final_resumed = load_file(str(killed_dir / "model.safetensors"))
    assert final_ref.keys() == final_resumed.keys()
    for name in final_ref:
        assert torch.equal(final_ref[name], final_resumed[name]), name
    # every checkpoint written after the resume equals the uninterrupted run's (codebook included)
    for step in (5, 6, 7, 10):
        a, b = checkpoint(tmp_path / "ref" / "m-run", step), checkpoint(tmp_path / "killed" / "m-run", step)
        assert all(torch.equal(a[k], b[k]) for k in a), step
    state_ref = load_file(str(tmp_path / "ref" / "m-run" / "checkpoints" / "step_10" / "optimizer.safetensors"))
    state_res = load_file(str(tmp_path / "killed" / "m-run" / "checkpoints" / "step_10" / "optimizer.safetensors"))
    assert any(key.endswith(".exp_avg_sq") for key in state_ref) and state_ref.keys() == state_res.keys()
    for key, value in state_ref.items():
        assert torch.equal(value, state_res[key]), key


def test_resume_latest_without_checkpoints_starts_fresh(tmp_path):
    result = build(str(tmp_path / "m"), max_steps=1, resume_from_checkpoint="latest").train()
    assert result.steps == 1


def test_resume_is_a_no_op_when_finished(tmp_path):
    build(str(tmp_path / "m"), max_steps=2, save_interval=1).train()
    result = build(str(tmp_path / "m"), max_steps=2, resume_from_checkpoint="latest").train()
    assert result.steps == 2


# ---------------------------------------------------------------------------------------------- early errors
def test_resume_from_incompatible_config_is_refused(tmp_path):
    build(str(tmp_path / "m"), max_steps=1, save_interval=1).train()
    step_1 = str(tmp_path / "m-run" / "checkpoints" / "step_1")
    trainer = build(str(tmp_path / "m"), {"codebook_size": 5}, max_steps=2, resume_from_checkpoint=step_1)
    with pytest.raises(ValueError, match="codebook_size"):
        trainer.train()
    trainer = build(str(tmp_path / "m"), {"hidden_size": 32}, max_steps=2, resume_from_checkpoint="latest")
    with pytest.raises(ValueError, match="hidden_size"):
        trainer.train()
    with pytest.raises(ValueError, match="not a wav2tok training checkpoint"):
        build(str(tmp_path / "m"), max_steps=2, resume_from_checkpoint=str(tmp_path)).train()
    assert sorted(os.listdir(tmp_path / "m-run" / "checkpoints")) == ["step_1"]  # nothing was trained or written


def _model():
    torch.manual_seed(0)
    return Wav2TokModel(Wav2TokConfig(**TINY_MODEL))


@pytest.mark.parametrize("dataset, message", [
    ([{"input_values": np.zeros(800, "float32")}], "input_values_prime"),
    ([{"audio": np.zeros(800, "float32"), "label": "a"}], "input_values"),
    ([np.zeros(800, "float32")], "must be dicts"),
    ([], "empty"),
])
def test_dataset_without_pair_keys_is_refused(tmp_path, dataset, message):
    args = Wav2TokTrainingArguments(output_dir=str(tmp_path / "m"), report_to="none", progress_bar=False)
    with pytest.raises(ValueError, match=message):
        Wav2TokTrainer(_model(), args, dataset)


def test_fewer_pairs_than_a_batch_is_refused_before_training(tmp_path):
    trainer = build(str(tmp_path / "m"), pairs=3, batch_size=4)
    with pytest.raises(ValueError, match="fewer than batch_size"):
        trainer.train()
    assert not (tmp_path / "m-run" / "checkpoints").exists() and not (tmp_path / "m").exists()


@pytest.mark.parametrize("section, key, value, message", [
    ("training", "max_stepz", 3, "unknown training keys \\['max_stepz'\\]"),
    ("model", "codebook_sise", 6, "unknown model keys \\['codebook_sise'\\]"),
    ("data", "corpuss", "essen", "unknown data keys \\['corpuss'\\]"),
    ("training", "max_steps", 0, "max_steps=0"),
    ("training", "batch_size", -4, "batch_size=-4"),
    ("training", "warmup_ratio", 1.5, "warmup_ratio"),
    ("training", "consistency_weight", -1.0, "consistency_weight=-1.0; expected >= 0"),
    ("training", "mixed_precision", "fp8", "mixed_precision"),
    ("training", "kmeans_init", "random", "kmeans_init"),
    ("training", "learning_rate", "fast", "learning_rate='fast'; expected a number"),
    ("model", "codebook_size", 1, "codebook_size=1"),
    ("model", "hop_length", 512, "hop_length=512 must not exceed n_fft"),
    ("model", "dropout", 1.5, "dropout"),
    ("data", "corpus", "timit", "data.corpus='timit'"),
    ("data", "pairs", {"mode": "unlabelled", "crop": 1.0}, "data.pairs=.*keys among"),
    ("training", "eval_conditions", ["V", "XS"], "eval_conditions=\\['V', 'XS'\\]; expected a non-empty list"),
    ("training", "eval_conditions", [], "eval_conditions=\\[\\]"),
])
def test_bad_experiments_fail_before_anything_is_built(tmp_path, section, key, value, message):
    cache = tmp_path / "never-built"
    config = tiny_experiment(tmp_path, cache, **{section: {key: value}})
    with pytest.raises(ValueError, match=message):
        prepare_training(load_experiment(config))
    assert not cache.exists()


def test_yaml_exponent_without_a_dot_is_a_float(tmp_path, essen_cache):
    config = tiny_experiment(tmp_path, essen_cache)
    config.write_text(config.read_text().replace("max_steps: 2", "max_steps: 2\n  learning_rate: 1e-3"))
    experiment = load_experiment(config)
    assert experiment.training["learning_rate"] == "1e-3"  # YAML 1.1 reads it as a string
    trainer, _ = prepare_training(experiment)
    assert trainer.args.learning_rate == 1e-3


def test_unknown_top_level_key_and_bad_overrides(tmp_path, capsys):
    config = tiny_experiment(tmp_path, tmp_path / "never-built", trainer={"max_steps": 3})
    with pytest.raises(ValueError, match="unknown top-level keys \\['trainer'\\]"):
        load_experiment(config)
    good = tiny_experiment(tmp_path, tmp_path / "never-built", name="good")
    with pytest.raises(ValueError, match="section.key=value"):
        load_experiment(good, ["max_steps=3"])
    with pytest.raises(ValueError, match="section.key=value"):
        load_experiment(good, ["optimizer.lr=3"])
    # the CLI turns them into one line on stderr and exit status 2
    assert cli_main(["train", "--config", str(config)]) == 2
    assert "unknown top-level keys ['trainer']" in capsys.readouterr().err
    assert cli_main(["train", "--config", str(good), "training.max_stepz=3"]) == 2
    assert "unknown training keys ['max_stepz']" in capsys.readouterr().err
    assert cli_main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_corpus_without_audio_column_or_split_is_refused(tmp_path):
    import datasets

    no_audio = tmp_path / "no-audio"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"label": ["a", "a"], "wave": [[0.0], [0.0]]}),
                          "validation": datasets.Dataset.from_dict({"label": ["a"], "wave": [[0.0]]})}).save_to_disk(str(no_audio))
    with pytest.raises(ValueError, match="no 'audio' column"):
        prepare_training(load_experiment(tiny_experiment(tmp_path, no_audio)))
    no_validation = tmp_path / "no-validation"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"label": ["a"]})}).save_to_disk(str(no_validation))
    with pytest.raises(ValueError, match="no 'validation' split"):
        prepare_training(load_experiment(tiny_experiment(tmp_path, no_validation, name="t2")))


def test_key_jitter_moves_each_views_pitch_key_reproducibly(tmp_path):
    """training.key_jitter_semitones: each view's features change (its key reference moves), the same view always
    draws the same offset (a resumed run featurises as the first one did), and only the pitch front end accepts it."""
    from wav2tok_hf.training import PairCollator

    fe = Wav2TokFeatureExtractor(feature_type="pitch", sampling_rate=8000, pitch_reference="pitch-class",
                                 pitch_fold_octave=True)
    t = np.arange(8000) / 8000
    melody = np.sin(2 * np.pi * np.where(t < 0.5, 220.0, 262.0) * t).astype(np.float32)
    items = [{"input_values": melody, "input_values_prime": melody[::-1].copy()}]
    plain = PairCollator(fe)(items)["input_features"]
    jittered = [PairCollator(fe, key_jitter=0.5, seed=s)(items)["input_features"] for s in (0, 0, 1)]
    assert not torch.allclose(plain, jittered[0], atol=1e-3)
    assert torch.equal(jittered[0], jittered[1]) and not torch.equal(jittered[0], jittered[2])
    spectral = Wav2TokFeatureExtractor(feature_type="log-mel", sampling_rate=8000)
    with pytest.raises(ValueError, match="key_offsets needs the pitch front end"):
        PairCollator(spectral, key_jitter=0.5)(items)
    with pytest.raises(ValueError, match="key_jitter_semitones"):
        build(str(tmp_path / "m"), max_steps=1, key_jitter_semitones=0.5)  # the tiny model is not a pitch model
    pitch = {"feature_type": "pitch", "pitch_reference": "pitch-class", "pitch_fold_octave": True}
    assert build(str(tmp_path / "p"), pitch, max_steps=1, key_jitter_semitones=0.5).train().steps == 1
    with pytest.raises(ValueError, match="key_jitter_semitones=-1"):
        Wav2TokTrainingArguments(output_dir=str(tmp_path / "n"), key_jitter_semitones=-1)

"""What a finished run leaves behind: the selected model, the final model, and the validation history."""

import json

import numpy as np

from wav2tok_hf import Wav2TokConfig, Wav2TokModel
from wav2tok_hf.retrieval.evaluation import RetrievalSet
from wav2tok_hf.training import Wav2TokTrainer, Wav2TokTrainingArguments


def toy_run(tmp_path, seed: int = 0, **arguments):
    """A tiny model trained on noise pairs, validated on 4 noise clips (queries = database)."""
    rng = np.random.default_rng(seed)
    waves = [rng.standard_normal(4000).astype(np.float32) for _ in range(8)]
    pairs = [{"input_values": w, "input_values_prime": w[::-1].copy()} for w in waves]
    eval_set = RetrievalSet(waves[:4], list("abcd"), waves[:4], list("abcd"), 8000, synthetic=True, name="toy")
    model = Wav2TokModel(Wav2TokConfig(sampling_rate=8000, n_fft=256, hop_length=128, n_mels=24, hidden_size=16,
                                       embedding_dim=8, codebook_size=4, dropout=0.0))
    args = Wav2TokTrainingArguments(output_dir=str(tmp_path / "model"), batch_size=4, e_step_clips=4,
                                    e_step_interval=2, eval_interval=2, save_interval=2, report_to="none",
                                    progress_bar=False, **arguments)
    return Wav2TokTrainer(model, args, pairs, eval_set=eval_set).train()


def test_best_last_and_history(tmp_path):
    result = toy_run(tmp_path, max_steps=4)
    assert [h["step"] for h in result.history] == [0, 2, 4]
    last = tmp_path / "model-run" / "last"
    assert (last / "model.safetensors").exists() and (tmp_path / "model" / "model.safetensors").exists()
    saved = json.loads((last / "training_config.json").read_text())["trainer_state"]
    assert saved["step"] == 4 and [h["step"] for h in saved["history"]] == [0, 2, 4]
    best = json.loads((tmp_path / "model" / "training_config.json").read_text())["trainer_state"]
    assert best["step"] == result.best_step and best["best_metric"] == result.best_metric


def test_selection_over_query_conditions(tmp_path):
    """With ``eval_conditions`` the selection metric is the mean validation MRR over vanilla, time-stretched and
    pitch-shifted validation queries, each also in the history."""
    result = toy_run(tmp_path, seed=1, max_steps=2, eval_conditions=["V", "TS", "PS"])
    for entry in result.history:
        per_condition = [entry[f"eval/mrr_{c}"] for c in ("V", "TS", "PS")]
        assert entry["eval/mrr"] == np.mean(per_condition)
    # vanilla queries are the database clips themselves: the transformed ones must score differently somewhere
    assert any(entry["eval/mrr_V"] != entry["eval/mrr_PS"] for entry in result.history)
    assert result.best_metric == max(entry["eval/mrr"] for entry in result.history)


def _saved_step(folder) -> int:
    return json.loads((folder / "training_config.json").read_text())["trainer_state"]["step"]


def test_a_resume_into_a_new_folder_keeps_the_model_of_the_reported_best_step(tmp_path, caplog):
    """Resumed into another output / run folder, the output is the best step over the whole history (its model copied
    from the resumed run); without that model the selection restarts at the resumed step, with a warning. Either way
    ``best_step`` names the model in ``output_dir``."""
    first = toy_run(tmp_path / "a", max_steps=4)
    checkpoint = str(tmp_path / "a" / "model-run" / "checkpoints" / "step_4")
    second = toy_run(tmp_path / "b", max_steps=8, resume_from_checkpoint=checkpoint)
    scores = {h["step"]: h["eval/mrr"] for h in second.history}
    assert second.best_step == min(s for s in scores if scores[s] == max(scores.values()))  # first of the best
    assert _saved_step(tmp_path / "b" / "model") == second.best_step
    assert first.best_step < 4 and second.best_step == first.best_step  # the case: the best predates the resume
    (tmp_path / "a" / "model-run" / "best" / "training_config.json").unlink()  # the resumed run's best is gone
    with caplog.at_level("WARNING", logger="wav2tok_hf.training.trainer"):
        third = toy_run(tmp_path / "c", max_steps=8, resume_from_checkpoint=checkpoint)
    assert "the selection restarts" in caplog.text
    assert third.best_step >= 4 and _saved_step(tmp_path / "c" / "model") == third.best_step

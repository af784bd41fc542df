"""prepare_speechocean762 from a Hub dataset id, against the Hub-protocol server of hub_server.py (no network).

A tiny dataset in the ``mispeech/speechocean762`` schema (audio, text, speaker, gender, age, words) is pushed with
``datasets``' ``push_to_hub`` and built back by repo id in a fresh interpreter whose environment names the server:
without alignments the Hub copy yields utterances only; with an alignment TSV it yields word clips too.
"""

from __future__ import annotations

import pytest
from hub_server import LocalHub, client_env, run_python

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    hub = LocalHub()
    home = tmp_path_factory.mktemp("hf_home")
    alignments = home / "alignments.tsv"
    rows = ["utt\tword\tstart\tend"] + [f"{speaker}{u:05d}\t{word}\t{0.1 + 0.3 * k:.1f}\t{0.4 + 0.3 * k:.1f}"
                                        for speaker in ("0003", "0004", "0005") for u in range(2)
                                        for k, word in enumerate(("MARK", "IS", "HERE"))]
    alignments.write_text("\n".join(rows) + "\n")
    env = client_env(hub.url, str(home))
    script = f"""
        import io, json
        import numpy as np, soundfile as sf
        from datasets import Audio, Dataset
        from wav2tok_hf.data import prepare_speechocean762

        rng = np.random.default_rng(0)
        rows = {{"audio": [], "text": [], "speaker": [], "gender": [], "age": [], "words": []}}
        for speaker in ("0003", "0004", "0005"):
            for u in range(2):
                buffer = io.BytesIO()
                sf.write(buffer, 0.1 * rng.standard_normal(16000), 16000, format="WAV")
                rows["audio"].append({{"bytes": buffer.getvalue(), "path": f"{{speaker}}{{u:05d}}.wav"}})
                rows["text"].append("MARK IS HERE")
                rows["speaker"].append(speaker)
                rows["gender"].append("m")
                rows["age"].append(6)
                rows["words"].append([{{"text": w, "accuracy": 10}} for w in ("MARK", "IS", "HERE")])
        Dataset.from_dict(rows).cast_column("audio", Audio(sampling_rate=16000)).push_to_hub("tester/tiny-ocean")
        plain = prepare_speechocean762("tester/tiny-ocean", hub_split="train", seed=0)
        aligned = prepare_speechocean762("tester/tiny-ocean", alignments={str(alignments)!r}, seed=0)
        try:
            prepare_speechocean762("tester/no-such-corpus")
            missing = None
        except FileNotFoundError as error:
            missing = str(error)
        print(json.dumps({{"plain": plain.num_rows, "aligned": aligned.num_rows,
                          "ids": sorted(aligned["train_utterances"]["source_id"]),
                          "words": aligned["train_utterances"][0]["word_labels"],
                          "plain_words": plain["train_utterances"][0]["word_labels"],
                          "corpus_split": plain["test_utterances"][0]["corpus_split"], "missing": missing}}))
    """
    try:
        return run_python(script, env, timeout=300)
    finally:
        hub.close()


def test_hub_copy_without_alignments_yields_utterances_only(built):
    plain = built["plain"]
    assert plain["train"] == plain["validation"] == plain["test"] == 0
    assert plain["train_utterances"] + plain["validation_utterances"] + plain["test_utterances"] == 6
    assert built["plain_words"] == [] and built["corpus_split"] == "train"


def test_hub_copy_with_alignments_yields_word_clips(built):
    aligned = built["aligned"]
    assert aligned["train"] + aligned["validation"] + aligned["test"] == 18
    assert built["words"] == ["MARK", "IS", "HERE"]
    assert all(len(i) == 9 and i.startswith("000") for i in built["ids"])  # utterance ids from the audio file names


def test_missing_hub_corpus_is_a_clear_error(built):
    assert "could not be loaded from the Hub" in built["missing"]

"""prepare_spoken_words from a Hub dataset id, against the Hub-protocol server of hub_server.py (no network): a tiny
spoken-digits dataset (audio, a ClassLabel word, a speaker) is pushed with ``datasets``' ``push_to_hub`` and built
back by repo id in a fresh interpreter whose environment names the server."""

from __future__ import annotations

import pytest
from hub_server import LocalHub, client_env, run_python

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")


def test_hub_spoken_digits_build_with_word_names_and_speaker_splits(tmp_path):
    hub = LocalHub()
    env = client_env(hub.url, str(tmp_path))
    script = """
        import io, json
        import numpy as np, soundfile as sf
        from datasets import Audio, ClassLabel, Dataset
        from wav2tok_hf.data import prepare_spoken_words

        rng = np.random.default_rng(0)
        rows = {"audio": [], "digit": [], "spk": []}
        for speaker in ("ann", "bob", "cy"):
            for digit in (0, 1):
                buffer = io.BytesIO()
                sf.write(buffer, 0.1 * rng.standard_normal(4000), 8000, format="WAV")
                rows["audio"].append({"bytes": buffer.getvalue(), "path": f"{digit}_{speaker}.wav"})
                rows["digit"].append(digit)
                rows["spk"].append(speaker)
        ds = Dataset.from_dict(rows).cast_column("audio", Audio(sampling_rate=8000))
        ds.cast_column("digit", ClassLabel(names=["zero", "one"])).push_to_hub("tester/tiny-digits")
        built = prepare_spoken_words("tester/tiny-digits", label_column="digit", speaker_column="spk", seed=0)
        errors = []
        for call in (lambda: prepare_spoken_words("tester/tiny-digits"),
                     lambda: prepare_spoken_words("tester/no-such-corpus")):
            try:
                call()
            except (ValueError, FileNotFoundError) as error:
                errors.append(str(error))
        print(json.dumps({"rows": built.num_rows, "labels": sorted(set(built["test"]["label"])),
                          "speakers": {s: sorted(set(built[s]["speaker"])) for s in built},
                          "rate": built["test"][0]["audio"]["sampling_rate"], "errors": errors}))
    """
    try:
        built = run_python(script, env, timeout=300)
    finally:
        hub.close()
    assert built["rows"] == {"train": 2, "validation": 2, "test": 2} and built["labels"] == ["one", "zero"]
    assert sorted(s for members in built["speakers"].values() for s in members) == ["ann", "bob", "cy"]
    assert built["rate"] == 16000
    wrong_columns, missing = built["errors"]
    assert "need ['audio', 'label', 'speaker']" in wrong_columns and "label_column" in wrong_columns
    assert "could not be loaded from the Hub" in missing

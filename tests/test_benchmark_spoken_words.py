"""benchmark_speech.py on a labelled word corpus of the user's own (the spoken-words corpus: here a tiny spoken-digits
folder at 8 kHz, named as the Free Spoken Digit Dataset names its files), end to end with a tiny random model."""

from __future__ import annotations

import json

import pytest
import soundfile as sf
from wav2tok_test_utils import load_script, tone


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import torch

    from wav2tok_hf import Wav2TokConfig, Wav2TokModel

    root = tmp_path_factory.mktemp("spoken_words")
    digits = root / "digits"
    digits.mkdir()
    for s, speaker in enumerate(("ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ida", "jo")):
        for d in range(3):
            sf.write(digits / f"{d}_{speaker}_0.wav", tone(0.4, sr=8000, freq=180 + 90 * d + 3 * s, seed=s), 8000)
    torch.manual_seed(0)
    config = Wav2TokConfig(sampling_rate=16000, n_fft=256, hop_length=128, n_mels=24, hidden_size=16,
                           embedding_dim=8, codebook_size=12)
    Wav2TokModel(config).save_pretrained(str(root / "tiny16k"))
    return root


def test_spoken_words_corpus_runs_every_system_and_caches_its_build(setup, capsys):
    out, cache = setup / "bench", setup / "cache"
    argv = ["--model", str(setup / "tiny16k"), "--words-source", str(setup / "digits"), "--words-dir", str(cache),
            "--conditions", "V", "telephone", "--baselines", "logmel-dtw", "--rerank", "2", "--no-plots",
            "--output-dir", str(out)]
    assert load_script("benchmark_speech").main(argv) == 0
    report = json.loads((out / "spoken_words.json").read_text())
    assert report["corpus"] == "spoken-words" and report["synthetic"] is False and "your own" in report["audio"]
    assert report["num_classes"] == 3 and report["corpus_from_cache"] is False
    models = [row["model"] for row in report["rows"]]
    assert "logmel-dtw" in models and any("re-rank top 2" in m for m in models)
    assert "## spoken-words" in (out / "summary.md").read_text()
    assert load_script("benchmark_speech").main(argv[:4] + ["--words-dir", str(cache)] + argv[6:]) == 0  # the cache
    assert json.loads((out / "spoken_words.json").read_text())["corpus_from_cache"] is True
    capsys.readouterr()


@pytest.mark.parametrize("argv, message", [
    (["--words-source", "no/such/folder/here"], "is neither a folder nor a Hub dataset id"),
    (["--words-pattern", r"(?P<label>\d)"], "needs the named groups 'label' and 'speaker'")])
def test_spoken_words_bad_input_is_a_usage_error(setup, argv, message, capsys):
    base = ["--model", str(setup / "tiny16k"), "--words-source", str(setup / "digits"), "--conditions", "V",
            "--baselines", "--output-dir", str(setup / "bad")]
    with pytest.raises(SystemExit) as error:
        load_script("benchmark_speech").main(base + argv)
    assert error.value.code == 2 and message in capsys.readouterr().err
    assert not list((setup / "bad").glob("*.json"))  # refused before any work: nothing written

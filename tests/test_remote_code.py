"""A saved directory carries its code: it loads with trust_remote_code=True where wav2tok_hf is not installed."""

import json
import subprocess
import sys
import textwrap

import numpy as np

from wav2tok_test_utils import tiny_config, tone
from wav2tok_hf import Wav2TokModel, Wav2TokProcessor


def test_saved_directory_loads_without_the_package(tmp_path):
    config = tiny_config(feature_type="pitch")
    model = Wav2TokModel(config).eval()
    model.save_pretrained(tmp_path / "model")
    Wav2TokProcessor.from_model_config(config).save_pretrained(tmp_path / "model")
    auto_map = json.loads((tmp_path / "model" / "config.json").read_text())["auto_map"]
    assert auto_map == {"AutoConfig": "configuration_wav2tok.Wav2TokConfig", "AutoModel": "modeling_wav2tok.Wav2TokModel"}
    wave = tone(1.0, freq=250)
    np.save(tmp_path / "wave.npy", wave)
    expected = model.encode(wave, sampling_rate=8000)
    script = textwrap.dedent(f"""
        import sys
        sys.modules["wav2tok_hf"] = None  # any import of the installed package now fails
        import numpy as np
        from transformers import AutoModel, AutoProcessor
        model = AutoModel.from_pretrained({str(tmp_path / "model")!r}, trust_remote_code=True)
        processor = AutoProcessor.from_pretrained({str(tmp_path / "model")!r}, trust_remote_code=True)
        assert "wav2tok_hf" not in type(model).__module__, type(model).__module__
        wave = np.load({str(tmp_path / "wave.npy")!r})
        ids = model.encode(wave, sampling_rate=8000)
        print(ids)
        print(processor.decode(ids))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-3000:]
    ids_line, text_line = out.stdout.strip().splitlines()[-2:]
    assert json.loads(ids_line) == expected
    assert text_line == " ".join(f"t{i}" for i in expected)

"""The README's main command, end to end on a tiny corpus and model."""

import json
import textwrap

from transformers import AutoModel

import wav2tok_hf  # noqa: F401
from wav2tok_hf.cli import main


def test_demo_trains_saves_and_reports(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(textwrap.dedent(f"""
        name: tiny-demo
        base: {(__import__("pathlib").Path(__file__).parents[1] / "configs" / "released" / "qbsh.yaml").as_posix()}
        model: {{hidden_size: 16, embedding_dim: 8, codebook_size: 8, n_fft: 512}}
        data:
          cache_dir: {(tmp_path / "essen").as_posix()}
          build: {{num_songs: [3, 2, 3], queries_per_song: 2, seed: 0}}
          eval_max_queries: 4
        training: {{max_steps: 4, batch_size: 2, e_step_interval: 2, e_step_clips: 4, eval_interval: 2,
                   save_interval: 2, report_to: none, progress_bar: false}}
    """))
    out_dir = tmp_path / "wav2tok-qbsh"
    assert main(["demo", "--config", str(config), "--output-dir", str(out_dir)]) == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "| wav2tok |" in printed and "| vq-logmel-ed |" in printed
    report = json.loads((out_dir / "benchmark.json").read_text())
    assert report["synthetic"] is True and {r["model"] for r in report["rows"]} >= {"wav2tok", "logmel-dtw"}
    assert all(0 <= r[c] <= 1 for r in report["rows"] for c in ("V", "TS", "PS"))
    # Both protocols, the closed-set one on as many (training) songs as the unseen one has (test) songs.
    unseen, closed = report["protocols"]
    assert (unseen["protocol"], closed["protocol"]) == ("unseen", "closed-set")
    assert unseen["rows"] == report["rows"] and closed["num_classes"] == unseen["num_classes"] == 3
    assert "TRAINING songs (closed-set" in printed
    # where the time went: every step, each encoder of each protocol
    assert "time:" in printed and "corpus and training" in printed and "benchmark unseen: logmel-dtw" in printed
    assert {"corpus and training", "fit baselines", "benchmark closed-set: wav2tok"} <= set(report["timings_s"])
    card = (out_dir / "README.md").read_text()
    assert "Synthetic" in card and "wav2tok" in card and "closed-set" in card
    model = AutoModel.from_pretrained(out_dir)
    assert model.config.codebook_size == 8


def test_demo_rejects_bad_overrides(tmp_path, capsys):
    assert main(["demo", "--output-dir", str(tmp_path / "m"), "training.not_a_key=1"]) == 2
    assert "unknown training keys ['not_a_key']" in capsys.readouterr().err

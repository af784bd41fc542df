"""The Gradio web app: hum to search, say a word / find where it was said, see the tokens.

Start it with ``python app.py`` (the Hugging Face Spaces convention) or ``wav2tok app``; ``--help`` lists the
options. Everything runs locally and offline: the models are local folders (or cached Hub ids) and the default
index is built from the Essen melodies bundled with music21 on first start, then loaded from the cache.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .alignment import ALIGNMENT_CSS, alignment_html, tokens_html
from .catalog import Catalog, build_essen_catalog, build_folder_catalog
from .inputs import VIEW_LIMITS, WORD_LIMITS, ClipError, check_clip
from .options import SHARED_SPEECH_FOLDERS, add_app_arguments, default_cache_dir
from .plots import token_figure
from .search import SearchOutcome, Searcher

logger = logging.getLogger(__name__)


@dataclass
class AppServices:
    """Everything the page calls: the hum search, the optional word search and the models for the token view."""

    hum: Searcher
    word: Searcher | None = None
    speech_model: Any = None
    speech_help: str = ""
    audio_folders: list[str] = field(default_factory=list)

    def models(self) -> dict[str, Any]:
        models = {"melody model": self.hum.model}
        if self.speech_model is not None:
            models["speech model"] = self.speech_model
        return models


def _load_model(name: str, what: str):
    from ..modeling_wav2tok import Wav2TokModel

    try:
        return Wav2TokModel.from_pretrained(name).eval()
    except OSError as error:
        raise FileNotFoundError(f"could not load the {what} {name!r} ({error}); pass a saved model folder, or a Hub id "
                                "already in the local Hugging Face cache when offline") from None


def _speech_help() -> str:
    found = [(name, path) for name, path in SHARED_SPEECH_FOLDERS.items() if path.is_dir()]
    lines = ["**No index of utterances was given**, so this view is off. Start the app with one:",
             "", "```", "wav2tok app --speech-folder FOLDER_OF_RECORDINGS   # indexes *.wav/*.flac under it (cached)",
             "wav2tok app --speech-index INDEX_FOLDER          # an index saved with Wav2TokIndex.save, or:",
             "wav2tok index build checkpoints/wav2tok-speech FOLDER INDEX_FOLDER --windows   # then --speech-index",
             "```"]
    if found:
        lines += ["", "Corpora found beside this checkout:"]
        lines += [f"- {name}: `wav2tok app --speech-folder {path}`" for name, path in found]
    lines += ["", "An index of your own recordings in Python:", "```python",
              "from wav2tok_hf import Wav2TokModel", "from wav2tok_hf.retrieval import Wav2TokIndex",
              'model = Wav2TokModel.from_pretrained("checkpoints/wav2tok-speech")',
              "index = Wav2TokIndex.from_encoder(model)",
              'index.add_audio(model, ["a.wav", "b.wav"], ids=["a", "b"])', 'index.save("my-utterances")', "```"]
    return "\n".join(lines)


def load_services(args: argparse.Namespace) -> AppServices:
    """Load the models and indexes named by the command line (building and caching the Essen index if needed)."""
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    melody = _load_model(args.model, "melody model")
    catalog = Catalog.load(args.index) if args.index else build_essen_catalog(melody, cache, num_songs=args.essen_songs)
    services = AppServices(Searcher(melody, catalog), audio_folders=catalog.audio_folders())
    if args.speech_index or args.speech_folder:
        speech = _load_model(args.speech_model, "speech model")
        utterances = (Catalog.load(args.speech_index) if args.speech_index
                      else build_folder_catalog(speech, args.speech_folder, cache, limit=args.speech_limit))
        services.word = Searcher(speech, utterances, subsequence=True, limits=WORD_LIMITS)
        services.speech_model = speech
        services.audio_folders += utterances.audio_folders()
    else:
        services.speech_help = _speech_help()
        if os.path.isdir(args.speech_model):
            services.speech_model = _load_model(args.speech_model, "speech model")
    return services


# ---------------------------------------------------------------------------------------------------- rendering
def _audio_tag(path: str | None, start_s: float | None = None) -> str:
    if not path:
        return '<span class="w2t-muted">no audio</span>'
    fragment = f"#t={max(0.0, start_s - 0.15):.2f}" if start_s is not None else ""
    return f'<audio controls preload="none" src="/gradio_api/file={quote(path)}{fragment}"></audio>'


def hits_html(outcome: SearchOutcome, spans: bool = False) -> str:
    """The ranked hits as a table: rank, title, id, distance, (time span) and a play button per row."""
    head = "<th>#</th><th>title</th><th>id</th><th>distance</th>" + ("<th>where (s)</th>" if spans else "") + "<th>play</th>"
    rows = []
    for hit in outcome.hits:
        where = f"<td>{hit.start_s:.2f} – {hit.end_s:.2f}</td>" if spans and hit.start_s is not None else ("<td>–</td>" if spans else "")
        rows.append(f'<tr data-id="{html.escape(hit.item_id)}"><td>{hit.rank}</td><td>{html.escape(hit.title)}</td>'
                    f"<td><code>{html.escape(hit.item_id)}</code></td><td>{hit.score:.3f}</td>{where}"
                    f"<td>{_audio_tag(hit.audio, hit.start_s if spans else None)}</td></tr>")
    note = (f"<p class='w2t-muted'>distance: <code>{outcome.distance}</code> (lower is closer); query "
            f"{outcome.query_seconds:.1f} s, {len(outcome.query_tokens)} tokens</p>")
    return f'<table class="w2t-hits"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>{note}'


def outcome_alignment_html(outcome: SearchOutcome, match_label: str) -> str:
    """Query and best-match token strings, then their alignment."""
    return (tokens_html(outcome.query_tokens, "query tokens") + tokens_html(outcome.best_tokens, match_label)
            + "<h4>Alignment (one optimal edit script)</h4>" + alignment_html(outcome.alignment, "query", match_label))


PAGE_CSS = ALIGNMENT_CSS + """
.w2t-hits{border-collapse:collapse;width:100%;font-size:14px}
.w2t-hits td,.w2t-hits th{border-bottom:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:middle}
.w2t-hits audio{height:30px;width:220px}
.w2t-muted{color:#777;font-size:12px}
"""
# Browsers clean microphone input for calls (noise suppression, automatic gain, echo cancellation). Noise suppression
# treats a steady hummed note as noise and the gain control clips it: ask for the raw signal instead.
RAW_MICROPHONE_JS = """<script>
(() => {
  const devices = navigator.mediaDevices;
  if (!devices || !devices.getUserMedia) return;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => {
    if (constraints && constraints.audio) {
      const audio = constraints.audio === true ? {} : constraints.audio;
      constraints = {...constraints, audio: {...audio, echoCancellation: false, noiseSuppression: false,
                                             autoGainControl: false}};
    }
    return original(constraints);
  };
})();
</script>"""


# ---------------------------------------------------------------------------------------------------- handlers
def _user_error(error: Exception):
    import gradio as gr

    return gr.Error(str(error), print_exception=False)


def hum_handler(services: AppServices):
    def run(audio: str | None):
        try:
            outcome = services.hum.search(audio)
        except ClipError as error:
            raise _user_error(error) from None
        best = outcome.hits[0]
        summary = f"**Best match:** {best.title} (`{best.item_id}`), distance {best.score:.3f}"
        return summary, hits_html(outcome), outcome_alignment_html(outcome, "best match")
    return run


def word_handler(services: AppServices):
    def run(audio: str | None):
        if services.word is None:
            raise _user_error(ValueError("No index of utterances: start the app with --speech-folder or --speech-index."))
        try:
            outcome = services.word.search(audio)
        except ClipError as error:
            raise _user_error(error) from None
        best = outcome.hits[0]
        summary = (f"**Best hit:** {best.title} (`{best.item_id}`) at {best.start_s:.2f}–{best.end_s:.2f} s, "
                   f"distance {best.score:.3f}" if best.start_s is not None else f"**Best hit:** {best.title}")
        return summary, hits_html(outcome, spans=True), outcome_alignment_html(outcome, "matched segment")
    return run


def _search_panel(gr: Any, prefix: str, label: str, button_text: str, handler: Callable) -> None:
    """A search tab's body: a recording input beside a button and a summary, then the results and the alignment
    (elem ids ``<prefix>-audio``, ``-search``, ``-summary``, ``-results``, ``-alignment``), the button wired to
    ``handler(audio) -> (summary, results, alignment)``."""
    with gr.Row():
        audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label=label, elem_id=f"{prefix}-audio")
        with gr.Column():
            button = gr.Button(button_text, variant="primary", elem_id=f"{prefix}-search")
            summary = gr.Markdown(elem_id=f"{prefix}-summary")
    results = gr.HTML(elem_id=f"{prefix}-results")
    alignment = gr.HTML(elem_id=f"{prefix}-alignment")
    button.click(handler, audio, [summary, results, alignment])


def tokens_handler(services: AppServices):
    def run(audio: str | None, which: str):
        model = services.models().get(which) or services.hum.model
        rate = model.config.sampling_rate
        try:
            wave, _ = check_clip(audio, VIEW_LIMITS, target_sampling_rate=rate)
        except ClipError as error:
            raise _user_error(error) from None
        tokens, durations = model.encode(wave, sampling_rate=rate, return_durations=True)
        melody = model.config.feature_type == "pitch"
        figure = token_figure(wave, rate, tokens, durations, melody,
                              title=f"{which}: {len(tokens)} tokens in {len(wave) / rate:.1f} s")
        return figure, tokens_html(tokens, "tokens")
    return run


# ---------------------------------------------------------------------------------------------------- page
def build_demo(services: AppServices):
    """The Gradio ``Blocks`` page over ``services`` (not launched)."""
    import gradio as gr

    catalog = services.hum.catalog
    with gr.Blocks(title="wav2tok: hum it, find it", analytics_enabled=False) as demo:
        gr.Markdown("# wav2tok: hum it, find it\nLearned audio tokens for query-by-example search. "
                    "Record with the microphone or upload a file; everything runs on this machine.")
        with gr.Tab("Hum to search", elem_id="tab-hum"):
            gr.Markdown(f"Searching **{len(catalog.index)} items**: {catalog.description or 'the given index'}. "
                        f"Hum or sing a song's opening (1–60 s).")
            _search_panel(gr, "hum", "your hum", "Search", hum_handler(services))
        with gr.Tab("Find where it was said", elem_id="tab-word"):
            if services.word is None:
                gr.Markdown(services.speech_help, elem_id="word-help")
            else:
                utterances = services.word.catalog
                recordings = len(set(utterances.index.labels)) if utterances.windows else len(utterances.index)
                gr.Markdown(f"Searching **{recordings} recordings** ({utterances.description}) for the "
                            "word you say (0.2–10 s); each hit plays from where the word was found.")
                _search_panel(gr, "word", "your word", "Find", word_handler(services))
        with gr.Tab("See the tokens", elem_id="tab-tokens"):
            gr.Markdown("The clip's pitch contour (melody model) or spectrogram (speech model), with each token's "
                        "segment in the token's colour.")
            with gr.Row():
                view_audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="any clip",
                                      elem_id="tokens-audio")
                with gr.Column():
                    which = gr.Radio(list(services.models()), value="melody model", label="model", elem_id="tokens-model")
                    view_button = gr.Button("Show tokens", variant="primary", elem_id="tokens-show")
            view_plot = gr.Plot(elem_id="tokens-plot")
            view_tokens = gr.HTML(elem_id="tokens-strings")
            view_button.click(tokens_handler(services), [view_audio, which], [view_plot, view_tokens])
    return demo


def launch(services: AppServices, host: str = "127.0.0.1", port: int = 7860, **kwargs):
    """Serve the page (blocking); only the catalogs' audio folders are served besides Gradio's own uploads."""
    import gradio as gr

    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])  # no web fonts
    demo = build_demo(services)
    return demo.launch(server_name=host, server_port=port, allowed_paths=services.audio_folders, theme=theme,
                       css=PAGE_CSS, head=RAW_MICROPHONE_JS, footer_links=[], max_file_size="100mb", **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    """``python app.py [options]``: parse the options, load the services and serve the page."""
    parser = add_app_arguments(argparse.ArgumentParser(prog="app.py", description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_app(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"app.py: error: {error}", file=sys.stderr)
        return 2


def run_app(args: argparse.Namespace) -> int:
    """Load the services named by ``args`` and serve them until interrupted."""
    services = load_services(args)
    print(f"wav2tok app: http://{args.host}:{args.port}  ({len(services.hum.catalog.index)} items in the melody index)",
          flush=True)
    launch(services, args.host, args.port)
    return 0


__all__ = ["AppServices", "add_app_arguments", "build_demo", "launch", "load_services", "main", "run_app"]

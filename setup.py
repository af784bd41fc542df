"""Packaging for wav2tok-hf (src layout). Install with ``pip install -e .[dev]``."""

import re
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

setup(
    name="wav2tok-hf",
    version="0.1.0",
    description="wav2tok: learned discrete audio tokens for retrieval, as a Hugging Face library",
    # README.md opens with the Hugging Face Space's YAML header; the package page shows the text after it.
    long_description=re.sub(r"\A---\n.*?\n---\n", "", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # The experiment configs live in the repository's configs/ (for `wav2tok train --config configs/...`) and ship
    # inside the package as wav2tok_hf/configs (the demo's default config released/qbsh.yaml, read with
    # importlib.resources; the sub-folders keep their layout so that `base:` paths resolve).
    package_dir={"": "src", "wav2tok_hf.configs": "configs"},
    packages=[*find_packages("src"), "wav2tok_hf.configs"],
    include_package_data=True,
    package_data={"wav2tok_hf": ["templates/*.md"], "wav2tok_hf.configs": ["*.yaml", "*/*.yaml", "*/*/*.yaml"]},
    install_requires=[
        # torch is pinned: any looser spec pulls the CUDA build (GBs) on a CPU machine.
        "torch==2.13.0",
        "torchcodec==0.13.0",
        "transformers>=5.0,<6",
        "datasets>=5.0,<6",
        "accelerate>=1.15,<2",
        "evaluate>=0.4",
        "huggingface-hub>=1.0",
        "jinja2>=3.0",  # model cards: huggingface_hub.ModelCard.from_template renders with Jinja
        "jiwer>=3.0",
        "rapidfuzz>=3.0",
        "librosa>=0.10",
        "soundfile>=0.12",
        "music21>=9.0",
        "safetensors>=0.4",
        "pyyaml>=6.0",
        "tqdm>=4.60",
        "tensorboard>=2.10",
        "matplotlib>=3.7",
        "numpy>=1.24",
        "scipy>=1.10",
        "pyroomacoustics>=0.7",  # room impulse responses of the reverb query condition / augmentation
        "pocketsphinx>=5.0",  # the pocketsphinx-phones baseline (bundled US-English acoustic model)
        "usearch>=2.9,<3",  # Wav2TokIndex.build_graph: HNSW graph (graph_walk reads its 2.x file format)
        "mir_eval>=0.7",  # prepare_mastmelody(synthesizer="mir_eval-*"): another project's synthesiser
    ],
    # parameterized: imported by transformers' own common test mixins (tests/transformers_suite), fetched at test time.
    # app: the web app (`python app.py`); dev adds Playwright, which drives Debian's chromium in tests/app.
    extras_require={"dev": ["pytest>=8", "pytest-timeout>=2.2", "hypothesis>=6.0", "parameterized>=0.9", "ray>=2.9",
                            "gradio>=6.0,<7", "playwright>=1.40"],
                    "app": ["gradio>=6.0,<7"],
                    "distributed": ["ray>=2.9"]},
    entry_points={"console_scripts": ["wav2tok=wav2tok_hf.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Sound/Audio :: Analysis",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)

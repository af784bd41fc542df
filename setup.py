"""Packaging for wav2tok-hf (src layout). Install with ``pip install -e .[dev]``."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent

setup(
    name="wav2tok-hf",
    version="0.1.0",
    description="wav2tok: learned discrete audio tokens for retrieval, as a Hugging Face library",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    package_dir={"": "src"},
    packages=find_packages("src"),
    include_package_data=True,
    package_data={"wav2tok_hf": ["templates/*.md"]},
    install_requires=[
        # torch is pinned: any looser spec pulls the CUDA build (GBs) on a CPU machine.
        "torch==2.13.0",
        "torchcodec==0.13.0",
        "transformers>=5.0,<6",
        "datasets>=5.0,<6",
        "accelerate>=1.15,<2",
        "evaluate>=0.4",
        "huggingface-hub>=1.0",
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
    ],
    extras_require={"dev": ["pytest>=8", "pytest-timeout>=2.2"]},
    entry_points={"console_scripts": ["wav2tok=wav2tok_hf.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Sound/Audio :: Analysis",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)

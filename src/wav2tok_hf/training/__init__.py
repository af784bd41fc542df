"""Training: the Accelerate EM trainer, its losses, K-means and the experiment config format."""

from .arguments import ExperimentConfig, Wav2TokTrainingArguments, load_experiment, load_stages, training_arguments
from .kmeans import codebook_usage, spherical_kmeans
from .losses import ctc_loss, diversity_loss, matching_loss
from .trainer import PairCollator, TrainResult, Wav2TokTrainer

__all__ = [
    "ExperimentConfig",
    "PairCollator",
    "TrainResult",
    "Wav2TokTrainer",
    "Wav2TokTrainingArguments",
    "codebook_usage",
    "ctc_loss",
    "diversity_loss",
    "load_experiment",
    "load_stages",
    "matching_loss",
    "spherical_kmeans",
    "training_arguments",
]

"""wav2tok-hf: learned discrete audio tokens for retrieval, as a Hugging Face library.

Importing the package registers ``wav2tok`` with the transformers Auto classes and the ``"audio-tokenization"``
pipeline task.

Example:

>>> import wav2tok_hf
>>> from transformers import AutoConfig, AutoModel
>>> model = AutoModel.from_config(AutoConfig.for_model("wav2tok", codebook_size=25, sampling_rate=8000))
>>> type(model).__name__
'Wav2TokModel'
"""

from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModel,
    AutoProcessor,
    AutoTokenizer,
)
from transformers.pipelines import PIPELINE_REGISTRY

from .audio_utils import load_audio
from .configuration_wav2tok import Wav2TokConfig
from .feature_extraction_wav2tok import Wav2TokFeatureExtractor
from .modeling_wav2tok import Wav2TokModel, Wav2TokModelOutput, Wav2TokPreTrainedModel, collapse_runs
from .pipeline_wav2tok import AudioTokenizationPipeline
from .processing_wav2tok import Wav2TokProcessor
from .tokenization_wav2tok import Wav2TokTokenizer

__version__ = "0.1.0"

AutoConfig.register("wav2tok", Wav2TokConfig, exist_ok=True)
AutoModel.register(Wav2TokConfig, Wav2TokModel, exist_ok=True)
AutoFeatureExtractor.register(Wav2TokConfig, Wav2TokFeatureExtractor, exist_ok=True)
AutoTokenizer.register(Wav2TokConfig, slow_tokenizer_class=Wav2TokTokenizer, exist_ok=True)
AutoProcessor.register(Wav2TokConfig, Wav2TokProcessor, exist_ok=True)
# Saved / pushed directories carry their code so they load with trust_remote_code=True without this package.
Wav2TokConfig.register_for_auto_class()
Wav2TokModel.register_for_auto_class("AutoModel")
Wav2TokFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
Wav2TokTokenizer.register_for_auto_class("AutoTokenizer")
Wav2TokProcessor.register_for_auto_class("AutoProcessor")
PIPELINE_REGISTRY.register_pipeline("audio-tokenization", pipeline_class=AudioTokenizationPipeline, pt_model=AutoModel)

__all__ = [
    "AudioTokenizationPipeline",
    "Wav2TokConfig",
    "Wav2TokFeatureExtractor",
    "Wav2TokModel",
    "Wav2TokModelOutput",
    "Wav2TokPreTrainedModel",
    "Wav2TokProcessor",
    "Wav2TokTokenizer",
    "collapse_runs",
    "load_audio",
]

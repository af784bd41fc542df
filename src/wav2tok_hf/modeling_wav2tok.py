"""wav2tok model: encoder -> unit-norm frame embeddings -> cosine/temperature logits against a K-means codebook."""

from __future__ import annotations

import copy

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_wav2tok import Wav2TokConfig
from .feature_extraction_wav2tok import Wav2TokFeatureExtractor, _is_batch


@dataclass
class Wav2TokModelOutput(ModelOutput):
    """Output of [`Wav2TokModel`].

    Args:
        logits (`torch.FloatTensor` of shape `(batch, frames, codebook_size)`):
            `cos(embedding, codeword) / temperature`; padded frames are zero.
        embeddings (`torch.FloatTensor` of shape `(batch, frames, embedding_dim)`): unit-norm frame embeddings.
        frame_tokens (`torch.LongTensor` of shape `(batch, frames)`): per-frame argmax token, `-1` on padding.
        lengths (`torch.LongTensor` of shape `(batch,)`): valid frames per item.
        hidden_states (`tuple(torch.FloatTensor)`, *optional*, returned with `output_hidden_states=True`): the
            output of each encoder layer, `(batch, frames, hidden_size)`; the Transformer option first gives its
            layers' input (projected frames plus positions), as transformers' encoders give their embedding output.
    """

    logits: torch.FloatTensor | None = None
    embeddings: torch.FloatTensor | None = None
    frame_tokens: torch.LongTensor | None = None
    lengths: torch.LongTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of a padded batch (B, T, F) within its own length; padding stays in place."""
    t = torch.arange(x.shape[1], device=x.device)
    index = lengths[:, None] - 1 - t[None, :]
    index = torch.where(index >= 0, index, t[None, :])
    return x.gather(1, index[..., None].expand_as(x))


def collapse_runs(tokens: torch.Tensor | np.ndarray | list[int]) -> tuple[list[int], list[int]]:
    """Compress runs of identical tokens: ``[1, 1, 3, 7, 7] -> ([1, 3, 7], [2, 1, 2])`` (ids, run lengths)."""
    seq = np.asarray(tokens.cpu() if isinstance(tokens, torch.Tensor) else tokens, dtype=np.int64)
    if seq.size == 0:
        return [], []
    starts = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
    runs = np.diff(np.r_[starts, seq.size])
    return seq[starts].tolist(), runs.tolist()


def split_long_runs(ids: list[int], runs: list[int], max_run: int) -> tuple[list[int], list[int]]:
    """Split every run longer than ``max_run`` frames into ``ceil(run / max_run)`` runs of at most ``max_run``
    (``max_run=0``: unchanged): ``([4, 7], [5, 1]), 2 -> ([4, 4, 4, 7], [2, 2, 1, 1])``.

    Example:
        >>> split_long_runs([4, 7], [5, 1], 2)
        ([4, 4, 4, 7], [2, 2, 1, 1])
    """
    if not max_run:
        return list(ids), list(runs)
    out_ids, out_runs = [], []
    for token, run in zip(ids, runs):
        pieces = -(-run // max_run)
        out_ids += [token] * pieces
        out_runs += [max_run] * (pieces - 1) + [run - max_run * (pieces - 1)]
    return out_ids, out_runs


def codebook_substitution_costs(codewords: np.ndarray, temperature: float, cap: float = 2.0) -> np.ndarray:
    """Substitution costs of the weighted edit distance from a codebook: ``min(cap, (1 - cos(c_a, c_b)) /
    temperature)``, so confusing two near codewords costs little and two unrelated ones ``cap`` (2: as much as a
    deletion plus an insertion; 1: as much as in the plain edit distance). Returns a float32 ``(K, K)`` matrix with a
    zero diagonal.

    Example:
        >>> import numpy as np
        >>> codebook_substitution_costs(np.array([[1, 0], [0.8, 0.6], [-1, 0]]), temperature=0.4).round(2).tolist()
        [[0.0, 0.5, 2.0], [0.5, 0.0, 2.0], [2.0, 2.0, 0.0]]
        >>> codebook_substitution_costs(np.array([[1, 0], [0.8, 0.6], [-1, 0]]), 0.4, cap=1.0).round(2).tolist()
        [[0.0, 0.5, 1.0], [0.5, 0.0, 1.0], [1.0, 1.0, 0.0]]
    """
    codewords = np.asarray(codewords, dtype=np.float64)
    if codewords.ndim != 2 or len(codewords) < 1 or not np.isfinite(codewords).all():
        raise ValueError(f"codewords must be a finite (K, dim) array, got shape {codewords.shape}")
    if not (isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and temperature > 0):
        raise ValueError(f"temperature={temperature!r}; expected a positive number")
    if not (isinstance(cap, (int, float)) and not isinstance(cap, bool) and 0 < cap <= 2):
        raise ValueError(f"cap={cap!r}; expected 0 < cap <= 2")
    unit = codewords / np.maximum(np.linalg.norm(codewords, axis=1, keepdims=True), 1e-12)
    costs = np.minimum(float(cap), np.maximum(0.0, 1.0 - unit @ unit.T) / temperature)
    np.fill_diagonal(costs, 0.0)
    return costs.astype(np.float32)


class Wav2TokFrequencyConv(nn.Module):
    """2-D convolutions over (frequency, time), pooled over the whole frequency axis.

    Frames ``(B, T, F)`` -> ``num_layers`` convolutions (kernel ``kernel x 3``, ReLU; max-pooled by 2 along frequency
    between layers) -> max and mean over frequency -> ``(B, T, 2 * channels)``. A spectrum shifted along a
    log-frequency axis by a multiple of ``2 ** (num_layers - 1)`` bins (away from the edges) gives the same output, and
    other shifts nearly so. Frames past each length are zeroed after every layer, so padding never reaches a valid
    frame (batched == unbatched).
    """

    def __init__(self, channels: int, num_layers: int, kernel: int):
        super().__init__()
        sizes = [1] + [channels] * num_layers
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, (kernel, 3), padding=(kernel // 2, 1)) for a, b in zip(sizes, sizes[1:])
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None])[:, None, None, :]
        h = x.transpose(1, 2)[:, None] * mask  # B, 1, F, T
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = F.max_pool2d(h, kernel_size=(2, 1))
            h = F.relu(conv(h)) * mask
        return torch.cat([h.amax(2), h.mean(2)], dim=1).transpose(1, 2)


class Wav2TokBiLSTM(nn.Module):
    """Stacked BiLSTM that is exact on padded batches.

    The backward direction runs on each sequence reversed within its own length, so padding never reaches a
    valid frame; this is as exact as `pack_padded_sequence` and much faster to train on CPU.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        half = hidden_size // 2
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.forward_layers = nn.ModuleList(nn.LSTM(s, half, batch_first=True) for s in sizes)
        self.backward_layers = nn.ModuleList(nn.LSTM(s, half, batch_first=True) for s in sizes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Each layer's output (the last is the encoding)."""
        states = ()
        for i, (fwd, bwd) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if i > 0:
                x = self.dropout(x)
            forward_out = fwd(x)[0]
            backward_out = reverse_padded(bwd(reverse_padded(x, lengths))[0], lengths)
            x = torch.cat([forward_out, backward_out], dim=-1)
            states += (x,)
        return states


class Wav2TokTransformer(nn.Module):
    """Small Transformer encoder option (sinusoidal positions, key-padding mask)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, num_heads: int, dropout: float):
        super().__init__()
        self.input_projection = nn.Linear(input_size, hidden_size)
        layer = nn.TransformerEncoderLayer(hidden_size, num_heads, 4 * hidden_size, dropout, batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.hidden_size = hidden_size

    def positions(self, length: int, device: torch.device) -> torch.Tensor:
        position = torch.arange(length, device=device, dtype=torch.float32)[:, None]
        freq = torch.exp(torch.arange(0, self.hidden_size, 2, device=device) * (-np.log(10000.0) / self.hidden_size))
        table = torch.zeros(length, self.hidden_size, device=device)
        table[:, 0::2] = torch.sin(position * freq)
        table[:, 1::2] = torch.cos(position * freq)
        return table

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The projected input (plus positions) and each layer's output (the last is the encoding)."""
        padding = torch.arange(x.shape[1], device=x.device)[None, :] >= lengths[:, None]
        h = self.input_projection(x)
        h = h + self.positions(x.shape[1], x.device).to(h.dtype)  # the table follows the model's dtype (bf16/fp16)
        states = (h,)
        for layer in self.layers.layers:  # nn.TransformerEncoder's loop, keeping every layer's output
            h = layer(h, src_key_padding_mask=padding)
            states += (h,)
        return states


class Wav2TokPreTrainedModel(PreTrainedModel):
    config_class = Wav2TokConfig
    base_model_prefix = "wav2tok"
    main_input_name = "input_features"
    supports_gradient_checkpointing = False

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: Any, *args: Any, **kwargs: Any):
        """`PreTrainedModel.from_pretrained`, with a truncated or corrupt weights file reported as an ``OSError``
        that names it (safetensors' own error names no file)."""
        from safetensors import SafetensorError

        try:
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        except SafetensorError as error:
            raise OSError(f"the weights of {str(pretrained_model_name_or_path)!r} (model.safetensors) are truncated or "
                          f"corrupt ({error}); re-download or re-save the model") from None

    def push_to_hub(self, repo_id: str, *args: Any, card_fields: dict | None = None, benchmark_json: Any = None,
                    **kwargs: Any):
        """Upload to the Hub. With ``card_fields`` (at least ``training_data`` and ``training_audio``) the push goes
        through `wav2tok_hf.hub.push_model`: weights, config, processor, code and a model card rendered from
        ``model_card.md`` (with the ``benchmark_json`` table) in one commit. Without them, or where the
        ``wav2tok_hf`` package is not installed (remote code), this is transformers' ``push_to_hub``."""
        if card_fields is not None:
            try:
                from wav2tok_hf.hub import push_model
            except ImportError as error:
                raise ImportError("card_fields needs the wav2tok_hf package (pip install wav2tok-hf)") from error
            return push_model(self, repo_id, benchmark_json=benchmark_json, card_fields=card_fields,
                              private=bool(kwargs.get("private", False)), token=kwargs.get("token"),
                              commit_message=kwargs.get("commit_message") or "Upload wav2tok model")
        return super().push_to_hub(repo_id, *args, **kwargs)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        if "codebook" in module._buffers:
            # Random unit-norm codewords (K-means replaces them in training). `init.normal_` leaves a codebook loaded
            # from a checkpoint alone and fills one that is missing, on meta device or left uninitialised.
            codebook = module.codebook
            if not getattr(codebook, "_is_hf_initialized", False):
                init.normal_(codebook)
                codebook.copy_(F.normalize(codebook.float(), dim=-1))
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            for name, param in module.named_parameters():
                if "weight" in name:
                    nn.init.orthogonal_(param)
                else:
                    nn.init.zeros_(param)


class Wav2TokModel(Wav2TokPreTrainedModel):
    r"""wav2tok: learned discrete audio tokens for retrieval (Banerjee & Arora, ICLR 2023).

    Features -> (optional frequency convolutions, pooled over frequency) -> encoder (BiLSTM or Transformer) ->
    linear -> unit-norm embeddings `z_t` -> logits `cos(z_t, e_k) / temperature` against the codebook `E` (a buffer
    set by K-means in training, saved with the weights) -> per-frame argmax -> runs collapsed into a token string.

    Example:

    >>> import numpy as np
    >>> from wav2tok_hf import Wav2TokConfig, Wav2TokModel
    >>> model = Wav2TokModel(Wav2TokConfig(codebook_size=25, sampling_rate=8000, hidden_size=32, embedding_dim=16))
    >>> ids = model.encode(np.random.default_rng(0).standard_normal(8000).astype("float32"), sampling_rate=8000)
    >>> all(0 <= i < 25 for i in ids)
    True
    """

    def __init__(self, config: Wav2TokConfig):
        config.validate_wav2tok()  # attributes may have changed since the config was built
        super().__init__(config)
        self.frequency_conv = (
            Wav2TokFrequencyConv(config.frequency_conv_channels, config.frequency_conv_layers, config.frequency_conv_kernel)
            if config.frequency_conv_channels else None
        )
        if config.encoder_type == "bilstm":
            self.encoder = Wav2TokBiLSTM(config.encoder_input_size, config.hidden_size, config.num_layers, config.dropout)
        else:
            self.encoder = Wav2TokTransformer(config.encoder_input_size, config.hidden_size, config.num_layers,
                                              config.num_attention_heads, config.dropout)
        self.projection = nn.Linear(config.hidden_size, config.embedding_dim)
        # Learned prototype similarity of the matching loss: s(p, e) = w . |p - e| + b (used in training only).
        self.similarity_head = nn.Linear(config.embedding_dim, 1)
        self.register_buffer("codebook", F.normalize(torch.randn(config.codebook_size, config.embedding_dim), dim=-1))
        self._feature_extractor: Wav2TokFeatureExtractor | None = None
        self.post_init()

    # ------------------------------------------------------------------ codebook
    @torch.no_grad()
    def set_codebook(self, codewords: torch.Tensor) -> None:
        """Install new codewords (K x embedding_dim); rows are L2-normalised. Called by the trainer's E-step."""
        codewords = torch.as_tensor(codewords, dtype=self.codebook.dtype)
        if codewords.shape != self.codebook.shape:
            raise ValueError(f"codebook must have shape {tuple(self.codebook.shape)}, got {tuple(codewords.shape)}")
        if not torch.isfinite(codewords).all():
            raise ValueError("codebook contains NaN/inf values")
        self.codebook.copy_(F.normalize(codewords.to(self.codebook.device), dim=-1))

    def substitution_costs(self) -> np.ndarray:
        """``(K, K)`` token substitution costs for the weighted edit distance: ``min(config.substitution_cost_cap,
        (1 - cos(e_a, e_b)) / config.substitution_temperature)`` between codewords, so two tokens whose codewords are near are cheap to
        confuse; insertions and deletions cost 1. ``Wav2TokIndex.from_encoder(model)`` stores them with the index.

        Example:
            >>> from wav2tok_hf import Wav2TokConfig, Wav2TokModel
            >>> model = Wav2TokModel(Wav2TokConfig(codebook_size=8, hidden_size=16, embedding_dim=8))
            >>> costs = model.substitution_costs()
            >>> costs.shape, float(costs.diagonal().max()), float(costs.max()) <= 2.0
            ((8, 8), 0.0, True)
        """
        return codebook_substitution_costs(self.codebook.detach().cpu().numpy(), self.config.substitution_temperature,
                                           self.config.substitution_cost_cap)

    # ------------------------------------------------------------------ forward
    def embed_features(self, input_features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Unit-norm frame embeddings (B, T, D) from features (B, T, F); padded frames are zero."""
        return self._embed(input_features, lengths)[0]

    def _embed(self, input_features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """(embeddings, encoder hidden states); features are cast to the model's dtype (bf16 / fp16 models)."""
        input_features = input_features.to(self.projection.weight.dtype)
        if self.frequency_conv is not None:
            input_features = self.frequency_conv(input_features, lengths)
        states = self.encoder(input_features, lengths)
        z = F.normalize(self.projection(states[-1]), dim=-1)
        mask = torch.arange(z.shape[1], device=z.device)[None, :] < lengths[:, None]
        return z * mask[..., None], states

    def forward(
        self,
        input_features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> Wav2TokModelOutput | tuple:
        r"""
        Args:
            input_features (`torch.FloatTensor` of shape `(batch, frames, feature_size)`): from
                [`Wav2TokFeatureExtractor`].
            attention_mask (`torch.LongTensor` of shape `(batch, frames)`, *optional*): 1 on valid frames. Valid
                frames must come first (right padding).
            output_hidden_states (`bool`, *optional*): also return the encoder's hidden states (defaults to
                `config.output_hidden_states`).
            return_dict (`bool`, *optional*): a [`Wav2TokModelOutput`] rather than a tuple (defaults to
                `config.return_dict`).

        Any other argument raises `TypeError`: a misspelt `attention_mask` must not run unmasked, and there is no
        `labels` loss here (the training loss needs pairs of clips: see `wav2tok_hf.training`).
        """
        if kwargs:
            hint = (" wav2tok computes no loss in forward; it trains on pairs of clips with "
                    "wav2tok_hf.training.Wav2TokTrainer." if "labels" in kwargs else "")
            raise TypeError(f"Wav2TokModel.forward got unexpected arguments {sorted(kwargs)}; accepted: "
                            f"input_features, attention_mask, output_hidden_states, return_dict.{hint}")
        if input_features.ndim != 3 or input_features.shape[-1] != self.config.feature_size:
            raise ValueError(
                f"input_features must have shape (batch, frames, {self.config.feature_size}) for feature_type="
                f"{self.config.feature_type!r}; got {tuple(input_features.shape)}"
            )
        batch, frames, _ = input_features.shape
        if attention_mask is None:
            lengths = torch.full((batch,), frames, dtype=torch.long, device=input_features.device)
        else:
            lengths = attention_mask.long().sum(-1)
        z, states = self._embed(input_features, lengths)
        logits = z @ self.codebook.T.to(z.dtype) / self.config.temperature
        mask = torch.arange(frames, device=z.device)[None, :] < lengths[:, None]
        frame_tokens = logits.argmax(-1).masked_fill(~mask, -1)
        hidden = output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        output = Wav2TokModelOutput(logits=logits * mask[..., None], embeddings=z, frame_tokens=frame_tokens,
                                    lengths=lengths, hidden_states=states if hidden else None)
        use_dict = return_dict if return_dict is not None else self.config.return_dict
        return output if use_dict else output.to_tuple()

    # ------------------------------------------------------------------ audio-level API
    @property
    def feature_extractor(self) -> Wav2TokFeatureExtractor:
        """The feature extractor built from this model's config."""
        if self._feature_extractor is None or not self._feature_extractor.settings_match(self.config):
            self._feature_extractor = Wav2TokFeatureExtractor.from_model_config(self.config)
        return self._feature_extractor

    def _chunks(self, wave: np.ndarray) -> list[np.ndarray]:
        """Split a long wave into chunks of `chunk_length_s` (a whole number of hops) to bound memory."""
        hop = self.config.hop_length
        size = max(hop, int(self.config.chunk_length_s * self.config.sampling_rate) // hop * hop)
        return [wave[i : i + size] for i in range(0, len(wave), size)] if len(wave) > size else [wave]

    @torch.no_grad()
    def frame_outputs(self, audio: Any, sampling_rate: int | None = None, batch_size: int = 16) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per input: (frame tokens (T,), unit-norm embeddings (T, D)) as numpy, in input order.

        Inputs longer than `config.chunk_length_s` are processed chunk by chunk and stitched back together. Tokens
        are always those of inference mode: a model in training mode is neither used as is (dropout) nor switched to
        eval mode behind the caller's back (other threads may share it); a frozen eval-mode copy does the work.
        """
        if self.training:
            return copy.deepcopy(self).eval().frame_outputs(audio, sampling_rate=sampling_rate, batch_size=batch_size)
        fe = self.feature_extractor
        waves = fe.load(audio, sampling_rate=sampling_rate)
        pieces: list[tuple[int, int, np.ndarray]] = []  # (input index, chunk index, wave)
        for i, wave in enumerate(waves):
            pieces.extend((i, j, chunk) for j, chunk in enumerate(self._chunks(wave)))
        order = sorted(range(len(pieces)), key=lambda p: len(pieces[p][2]))  # similar lengths batch together
        results: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        device = self.codebook.device
        for start in range(0, len(order), batch_size):
            chosen = [pieces[p] for p in order[start : start + batch_size]]
            features, mask = fe.featurize([c[2] for c in chosen])
            out = self(features.to(device), mask.to(device), return_dict=True)
            for row, (i, j, _) in enumerate(chosen):
                n = int(out.lengths[row])
                results[(i, j)] = (out.frame_tokens[row, :n].cpu().numpy(),
                                   out.embeddings[row, :n].float().cpu().numpy())
        outputs = []
        for i in range(len(waves)):
            keys = sorted(k for k in results if k[0] == i)
            # Every chunk but the last ends with a frame centred on the boundary, which the next chunk repeats.
            parts = [results[k] if k == keys[-1] else (results[k][0][:-1], results[k][1][:-1]) for k in keys]
            outputs.append((np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])))
        return outputs

    def encode(
        self,
        audio: Any,
        sampling_rate: int | None = None,
        return_durations: bool = False,
        batch_size: int = 16,
    ) -> list[int] | list[list[int]] | tuple:
        """Tokenise audio into collapsed token ids (with `config.max_token_run` > 0, runs longer than that many
        frames give one token per `max_token_run` frames).

        Args:
            audio: one input (array, tensor, path, 🤗 Datasets audio value) or a list of them.
            sampling_rate: rate of raw array inputs (required for them; audio is resampled to the model's rate).
            return_durations: also return each token's duration in seconds.
            batch_size: inputs per forward pass.

        Returns:
            `list[int]` for one input or `list[list[int]]` for a list; with `return_durations`, a tuple
            `(ids, durations_s)` of the same nesting.
        """
        single = not _is_batch(audio)
        ids, durations = [], []
        for tokens, _ in self.frame_outputs(audio, sampling_rate=sampling_rate, batch_size=batch_size):
            seq, seconds = self.token_string(tokens)
            ids.append(seq)
            durations.append(seconds)
        if single:
            ids, durations = ids[0], durations[0]
        return (ids, durations) if return_durations else ids

    def token_string(self, frame_tokens: Any) -> tuple[list[int], list[float]]:
        """The token string of per-frame token ids, as `encode` returns it (runs collapsed, or split every
        `config.max_token_run` frames), and each token's duration in seconds."""
        ids, runs = split_long_runs(*collapse_runs(frame_tokens), self.config.max_token_run)
        return ids, [r / self.config.frame_rate for r in runs]

    def embed(self, audio: Any, sampling_rate: int | None = None, batch_size: int = 16) -> np.ndarray | list[np.ndarray]:
        """Unit-norm frame embeddings `(frames, embedding_dim)` per input (for DTW search over embeddings)."""
        outs = [emb for _, emb in self.frame_outputs(audio, sampling_rate=sampling_rate, batch_size=batch_size)]
        return outs if _is_batch(audio) else outs[0]


__all__ = ["Wav2TokModel", "Wav2TokPreTrainedModel", "Wav2TokModelOutput", "collapse_runs", "reverse_padded",
           "split_long_runs"]

"""The text-to-speech-token language model of CosyVoice v1 (upstream `TransformerLM`).

Owns `LLMConfig` and `TransformerLM`: text ids → text embedding → causal relative-position encoder → affine;
the L2-normalised speaker x-vector → affine; a causal decoder over
`[sos] [speaker] [text_1 … text_N] [task] [speech_1 …]` whose last position gives log-probabilities over the
speech tokens plus EOS (id = speech_token_size). Generation feeds the prefix in one call and then one token per
call through a pre-allocated key/value cache; a full causal pass over a whole sequence gives the same rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConfigError, Encoder, EncoderConfig, KeyValueCache
from .sampling import SamplingConfig, ras_sample

SOS_ROW = 0  # rows of llm_embedding
TASK_ROW = 1


@dataclass(frozen=True)
class LLMConfig:
    """Hyper-parameters of `TransformerLM` (the yaml's `llm` section)."""

    text_token_size: int
    speech_token_size: int
    text_encoder_input_size: int
    llm_input_size: int
    llm_output_size: int
    spk_embed_dim: int
    text_encoder: EncoderConfig
    decoder: EncoderConfig  # the yaml's `llm.llm`; always causal
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    min_token_text_ratio: float = 2.0
    max_token_text_ratio: float = 20.0

    def __post_init__(self) -> None:
        if self.text_encoder.input_size != self.text_encoder_input_size:
            raise ConfigError("llm.text_encoder.input_size differs from text_encoder_input_size")
        if (self.decoder.input_size, self.decoder.output_size) != (self.llm_input_size, self.llm_output_size):
            raise ConfigError("llm.llm input/output sizes differ from llm_input_size/llm_output_size")
        if not self.decoder.causal:
            object.__setattr__(self, "decoder", dataclasses.replace(self.decoder, causal=True))

    @property
    def eos_id(self) -> int:
        return self.speech_token_size

    @classmethod
    def from_yaml(cls, section: Mapping[str, Any]) -> LLMConfig:
        """Read the `llm` section of cosyvoice.yaml (as mapped by config.read_model_config)."""
        try:
            return cls(
                text_token_size=int(section["text_token_size"]),
                speech_token_size=int(section["speech_token_size"]),
                text_encoder_input_size=int(section["text_encoder_input_size"]),
                llm_input_size=int(section["llm_input_size"]),
                llm_output_size=int(section["llm_output_size"]),
                spk_embed_dim=int(section.get("spk_embed_dim", 192)),
                text_encoder=EncoderConfig.from_yaml(section["text_encoder"]),
                decoder=EncoderConfig.from_yaml(section["llm"]),
                sampling=SamplingConfig.from_yaml(section.get("sampling") or {}),
                min_token_text_ratio=float(section.get("min_token_text_ratio", 2.0)),
                max_token_text_ratio=float(section.get("max_token_text_ratio", 20.0)),
            )
        except KeyError as missing:
            raise ConfigError(f"llm section lacks {missing.args[0]!r}") from None


class TransformerLM(nn.Module):
    """Text + speaker → speech tokens. Responsibilities: building the decoder prefix, one incremental decode
    step over a KV cache, the full causal pass, and the sampling loop with the min/max length rules."""

    def __init__(self, config: LLMConfig) -> None:
        super().__init__()
        self.config = config
        self.text_embedding = nn.Embedding(config.text_token_size, config.text_encoder_input_size)
        self.text_encoder = Encoder(config.text_encoder)
        self.text_encoder_affine_layer = nn.Linear(config.text_encoder.output_size, config.llm_input_size)
        self.llm_embedding = nn.Embedding(2, config.llm_input_size)
        self.llm = Encoder(config.decoder)
        self.llm_decoder = nn.Linear(config.llm_output_size, config.speech_token_size + 1)
        self.speech_embedding = nn.Embedding(config.speech_token_size, config.llm_input_size)
        self.spk_embed_affine_layer = nn.Linear(config.spk_embed_dim, config.llm_input_size)

    @torch.inference_mode()
    def encode_text(self, text_ids: torch.Tensor) -> torch.Tensor:
        """Text ids [1, N] → encoded text [1, N, llm_input_size] (causal encoder, then the affine layer)."""
        self._check_ids(text_ids, self.config.text_token_size, "text")
        return self.text_encoder_affine_layer(self.text_encoder(self.text_embedding(text_ids.long())))

    @torch.inference_mode()
    def prefix_embeddings(self, text_ids: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        """The decoder input before any speech token: [sos, speaker, text…, task] → [1, N+3, D] ([1, N+2, D]
        without a speaker embedding)."""
        rows = [self.llm_embedding.weight[SOS_ROW].view(1, 1, -1)]
        if embedding is not None:
            rows.append(self.speaker_vector(embedding))
        rows += [self.encode_text(text_ids), self.llm_embedding.weight[TASK_ROW].view(1, 1, -1)]
        return torch.cat(rows, dim=1)

    @torch.inference_mode()
    def speaker_vector(self, embedding: torch.Tensor) -> torch.Tensor:
        """Raw x-vector [1, spk_embed_dim] → projected speaker slot [1, 1, D] (L2-normalised first)."""
        if embedding.shape != (1, self.config.spk_embed_dim):
            raise ValueError(
                f"speaker embedding must have shape [1, {self.config.spk_embed_dim}], got {list(embedding.shape)}"
            )
        weight = self.spk_embed_affine_layer.weight
        normalised = F.normalize(embedding.to(device=weight.device, dtype=weight.dtype), dim=1)
        return self.spk_embed_affine_layer(normalised).unsqueeze(1)

    @torch.inference_mode()
    def embed_speech(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Speech token ids [1, K] → decoder inputs [1, K, D]."""
        self._check_ids(token_ids, self.config.speech_token_size, "speech")
        return self.speech_embedding(token_ids.long())

    def new_cache(self, capacity: int) -> KeyValueCache:
        """An empty decoder key/value cache for `capacity` positions (prefix + generated tokens)."""
        return self.llm.new_cache(capacity)

    @torch.inference_mode()
    def decode_step(self, inputs: torch.Tensor, cache: KeyValueCache) -> torch.Tensor:
        """Feed the next decoder inputs [1, T, D] (the prefix, or one speech embedding) after those in `cache`;
        return the log-probabilities [1, speech_token_size + 1] predicted at the last position."""
        hidden = self.llm.forward_step(inputs, cache)
        return torch.log_softmax(self.llm_decoder(hidden[:, -1]), dim=-1)

    @torch.inference_mode()
    def full_pass(self, inputs: torch.Tensor) -> torch.Tensor:
        """One causal pass over decoder inputs [1, T, D] → log-probabilities at every position [1, T, V + 1]."""
        return torch.log_softmax(self.llm_decoder(self.llm(inputs)), dim=-1)

    def token_limits(self, text_len: int) -> tuple[int, int]:
        """(minimum, maximum) number of speech tokens for `text_len` text tokens: EOS is masked before the
        minimum; generation stops at the maximum."""
        return int(text_len * self.config.min_token_text_ratio), int(text_len * self.config.max_token_text_ratio)

    @torch.inference_mode()
    def generate(
        self,
        text_ids: torch.Tensor,
        embedding: torch.Tensor | None,
        generator: torch.Generator | None = None,
        limits: tuple[int, int] | None = None,
    ) -> Iterator[int]:
        """Yield speech-token ids one decode step at a time until EOS or the maximum length.

        `limits` = (min_tokens, max_tokens) overrides `token_limits` (e.g. a benchmark forcing a fixed count)."""
        min_tokens, max_tokens = limits if limits is not None else self.token_limits(text_ids.shape[1])
        prefix = self.prefix_embeddings(text_ids, embedding)
        cache = self.new_cache(prefix.shape[1] + max_tokens)
        log_probs = self.decode_step(prefix, cache)
        history: list[int] = []
        for step in range(max_tokens):
            scores = log_probs[0].float()
            if step < min_tokens:
                scores[self.config.eos_id] = float("-inf")
            token = ras_sample(scores, history, self.config.sampling, generator)
            if token == self.config.eos_id:
                return
            yield token
            history.append(token)
            if step + 1 < max_tokens:
                log_probs = self.decode_step(self.speech_embedding.weight[token].view(1, 1, -1), cache)

    @staticmethod
    def _check_ids(ids: torch.Tensor, vocabulary: int, kind: str) -> None:
        if ids.dim() != 2 or ids.shape[0] != 1 or ids.shape[1] == 0:
            raise ValueError(f"{kind} ids must have shape [1, N] with N ≥ 1, got {list(ids.shape)}")
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise ValueError(f"{kind} ids must be integers, got {ids.dtype}")
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= vocabulary:
            raise ValueError(f"{kind} ids must lie in [0, {vocabulary}), got values in [{low}, {high}]")

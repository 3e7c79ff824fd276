"""The LLM's speech-token sampling rule ("RAS", repetition-aware sampling) of CosyVoice v1.

1. Nucleus step: p = softmax(scores); ids sorted by descending p (ties in ascending-id order, a stable sort);
   take ids while the float32 running sum *before* adding is < top_p and fewer than top_k are taken — so the id
   that crosses top_p is kept; draw one id proportionally to the kept (unnormalised) probabilities.
2. Repetition-aware fallback: if the drawn id occurs ≥ win_size·tau_r times among the last win_size generated
   ids, redraw from the full distribution **with that id removed** (its score set to −inf). This is current
   upstream behaviour; the July-2024 v1 code redrew from the full distribution including the repeated id, which
   can hand back the very id that triggered the fallback. We follow upstream (and the reference vectors).
The caller masks EOS (score −inf) before the minimum length instead of v1's rejection loop: the same distribution.
Everything is vectorised; the only Python iteration is over the ≤ win_size recent ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class SamplingConfig:
    """Parameters of RAS sampling (the yaml's `llm.sampling` section)."""

    top_p: float = 0.8
    top_k: int = 25
    win_size: int = 10
    tau_r: float = 0.1

    @classmethod
    def from_yaml(cls, section: Mapping[str, Any]) -> SamplingConfig:
        defaults = cls()
        return cls(
            top_p=float(section.get("top_p", defaults.top_p)),
            top_k=int(section.get("top_k", defaults.top_k)),
            win_size=int(section.get("win_size", defaults.win_size)),
            tau_r=float(section.get("tau_r", defaults.tau_r)),
        )


def nucleus_candidates(scores: torch.Tensor, top_p: float, top_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ids the nucleus step can return and their probabilities (float32), in descending-probability order."""
    probs = torch.softmax(scores, dim=0)
    sorted_probs, sorted_ids = probs.sort(descending=True, stable=True)
    head = sorted_probs[:top_k]
    # float32 running sum added one id at a time, as the reference does (torch.cumsum accumulates in double)
    running = np.cumsum(head.detach().cpu().numpy(), dtype=np.float32)
    before = np.concatenate(([np.float32(0.0)], running[:-1]))
    count = int(np.count_nonzero(before < np.float32(top_p)))
    return sorted_ids[:count], head[:count]


def repetition_fires(pick: int, history: Sequence[int], config: SamplingConfig) -> bool:
    """Whether `pick` occurs often enough among the last win_size generated ids to trigger the fallback."""
    recent = list(history[-config.win_size :]) if config.win_size > 0 else []
    return recent.count(pick) >= config.win_size * config.tau_r


def fallback_distribution(scores: torch.Tensor, pick: int) -> torch.Tensor:
    """The distribution the fallback redraws from: softmax of the scores with `pick` removed."""
    without_pick = scores.clone()
    without_pick[pick] = float("-inf")
    return torch.softmax(without_pick, dim=0)


def ras_sample(
    scores: torch.Tensor, history: Sequence[int], config: SamplingConfig, generator: torch.Generator | None = None
) -> int:
    """Draw the next speech-token id from log-probabilities `scores` [V] given the ids generated so far."""
    ids, probs = nucleus_candidates(scores, config.top_p, config.top_k)
    pick = int(ids[torch.multinomial(probs, 1, generator=generator)])
    if repetition_fires(pick, history, config):
        pick = int(torch.multinomial(fallback_distribution(scores, pick), 1, generator=generator))
    return pick

"""Weight-normalised 1-D convolutions as the official vocoder checkpoints store them.

Owns `WeightNormConv1d` and `WeightNormConvTranspose1d`: the effective weight is g · v / ‖v‖ with the norm over
every dim except dim 0 (for the transposed convolution dim 0 is the *input* channel). The tensors are stored under
the names current PyTorch writes — `X.parametrizations.weight.original0` (g) and `…original1` (v) — and a state
dict with the older names `X.weight_g` / `X.weight_v` loads too (renamed while loading).
Folding: the first forward pass computes w = g · v / ‖v‖ once and stores it *in place* as v, with g = ‖w‖ — the
same effective weight, so the state dict stays valid — and from then on uses v directly: inference pays nothing
for the reparametrisation and no second copy of the weights exists. New weights (loaded, converted, moved or
written in place) are folded again on the next pass. Inference only: the folded form carries no gradient.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

MAGNITUDE = "original0"  # g
DIRECTION = "original1"  # v
LEGACY_NAMES = {"weight_g": f"parametrizations.weight.{MAGNITUDE}", "weight_v": f"parametrizations.weight.{DIRECTION}"}


class WeightNormPair(nn.Module):
    """The magnitude g ([dim0, 1, …]) and direction v of one weight-normalised weight."""

    def __init__(self, direction: torch.Tensor) -> None:
        super().__init__()
        self.original0 = nn.Parameter(_norm_except_dim0(direction))
        self.original1 = nn.Parameter(direction)


def _norm_except_dim0(weight: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(weight, dim=tuple(range(1, weight.dim())), keepdim=True)


class _WeightNormConv(nn.Module):
    """Shared storage, legacy-name loading and the folded-weight cache of the weight-normalised convolutions."""

    def __init__(self, weight_shape: tuple[int, ...], out_channels: int, fan_in: int, init_std: float | None) -> None:
        super().__init__()
        direction = torch.empty(weight_shape)
        if init_std is None:  # PyTorch's own convolution initialisation
            nn.init.kaiming_uniform_(direction, a=math.sqrt(5))
        else:
            nn.init.normal_(direction, 0.0, init_std)
        bound = 1 / math.sqrt(fan_in)
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound))
        self.parametrizations = nn.ModuleDict({"weight": WeightNormPair(direction)})
        self._folded_state: tuple[Any, ...] = ()  # identities of g and v right after the last fold

    def weight(self) -> torch.Tensor:
        """The effective weight g · v / ‖v‖ (= v once folded)."""
        pair = self.parametrizations["weight"]
        if self._folded_state != (_identity(pair.original0), _identity(pair.original1)):
            with torch.inference_mode(False), torch.no_grad():
                # the same kernel PyTorch's weight_norm uses, so results match the reference bit for bit
                folded = torch._weight_norm(pair.original1, pair.original0, 0)
                pair.original1.copy_(folded)
                pair.original0.copy_(_norm_except_dim0(folded))
            self._folded_state = (_identity(pair.original0), _identity(pair.original1))
        return pair.original1

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, local_metadata: dict[str, Any], strict: bool,
        missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str],
    ) -> None:
        for legacy, current in LEGACY_NAMES.items():
            if prefix + legacy in state_dict and prefix + current not in state_dict:
                state_dict[prefix + current] = state_dict.pop(prefix + legacy)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


def _identity(tensor: torch.Tensor) -> tuple[Any, ...]:
    """What distinguishes one state of a parameter from another (storage, dtype, device, in-place writes)."""
    try:
        version = tensor._version
    except RuntimeError:  # an inference tensor has no version counter; it cannot be written outside inference mode
        version = None
    return tensor.data_ptr(), tensor.dtype, tensor.device, tensor.shape, version


class WeightNormConv1d(_WeightNormConv):
    """Conv1d with a weight-normalised weight [out, in, k] (g: [out, 1, 1])."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, dilation: int = 1,
        init_std: float | None = None,
    ) -> None:
        super().__init__((out_channels, in_channels, kernel_size), out_channels, in_channels * kernel_size, init_std)
        self.padding = padding
        self.dilation = dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.weight(), self.bias, padding=self.padding, dilation=self.dilation)


class WeightNormConvTranspose1d(_WeightNormConv):
    """ConvTranspose1d with a weight-normalised weight [in, out, k] (g: [in, 1, 1] — the norm is per input channel)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int,
        init_std: float | None = None,
    ) -> None:
        super().__init__((in_channels, out_channels, kernel_size), out_channels, out_channels * kernel_size, init_std)
        self.stride = stride
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose1d(x, self.weight(), self.bias, stride=self.stride, padding=self.padding)

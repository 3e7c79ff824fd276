"""Precision per pipeline stage: which number format each network computes in, chosen from the CPU, applied in place.

Owns `PrecisionPlan` (one precision per stage: LLM fp32/bf16/int8, flow fp32/bf16, vocoder fp32/bf16),
`resolve_precision` (the user's choice, or "auto" → a plan from the CPU's features), `apply_precision` (converts a
loaded model's modules in place) and `Int8Linear`.

Why these choices (measured on the benchmark machine, see benchmarks/README.md):
- The LLM decode reads every weight once per token, so it is memory-bound: int8 weights move 4× fewer bytes than
  fp32. `Int8Linear` stores plain tensors (int8 weight [out, in], one float32 scale per output channel, float32
  bias) and computes with PyTorch's dynamically quantised linear kernel (FBGEMM; activations quantised per call),
  which is fast with and without AVX-512. bf16 LLM weights are slower than fp32 at one token per step.
- The flow estimator is compute-bound (10 steps × a batch of two): bf16 pays off only where the CPU multiplies bf16
  natively (AVX512-BF16 or AMX-BF16); emulated bf16 (AVX2) is several times slower than fp32. The solver state, the
  flow's token encoder and length regulator stay float32.
- The vocoder follows the same rule for its convolution stack only: its f0 predictor, harmonic source and (i)STFT
  stay float32 (phases and magnitudes need the precision).

Conversion works on real and on `meta` tensors alike, so a lite pack's model can be built on `meta`, converted,
then given its stored (already converted) tensors with `load_state_dict(..., assign=True)`. Converting replaces
modules and drops the float32 tensors; nothing keeps a float32 copy alive.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .flow import FlowModel
from .hift import HiFTVocoder
from .llm import TransformerLM

PRECISION_CHOICES = ("auto", "fp32", "bf16", "int8")
STAGE_CHOICES = {"llm": ("fp32", "bf16", "int8"), "flow": ("fp32", "bf16"), "hift": ("fp32", "bf16")}
NATIVE_BF16_FEATURES = frozenset({"amx_bf16", "avx512_bf16"})
INT8_FEATURES = frozenset({"avx2"})  # the FBGEMM int8 kernels need AVX2 at least
INT8_MAX = 127  # symmetric range [-127, 127]: no int8 product pair overflows the kernels' int16 accumulation
INT8_ENGINE = "fbgemm"
LLM_FLOAT_LINEARS = ("spk_embed_affine_layer",)  # its weight's dtype is the speaker vector's: stays float
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class PrecisionPlan:
    """The precision of each stage: llm in fp32/bf16/int8, flow and hift (the vocoder) in fp32/bf16."""

    llm: str = "fp32"
    flow: str = "fp32"
    hift: str = "fp32"

    def __post_init__(self) -> None:
        for stage, allowed in STAGE_CHOICES.items():
            if getattr(self, stage) not in allowed:
                raise ValueError(f"{stage} precision must be one of {', '.join(allowed)}, got {getattr(self, stage)!r}")

    def describe(self) -> str:
        return f"llm {self.llm}, flow {self.flow}, vocoder {self.hift}"

    def __str__(self) -> str:
        return self.describe()


def cpu_features() -> frozenset[str]:
    """The instruction-set features PyTorch may use here: the CPU's flags, minus AVX-512 and AMX when PyTorch or
    oneDNN is capped below them (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA; e.g. the benchmarks' avx2 profile)."""
    flags = {name for name, present in torch.cpu.get_capabilities().items() if present is True}
    capped = torch.backends.cpu.get_cpu_capability() not in ("AVX512", "AVX512_BF16", "AMX") or _onednn_capped()
    if capped:
        flags = {flag for flag in flags if not flag.startswith(("avx512", "amx", "avx10"))}
    return frozenset(flags)


def _onednn_capped() -> bool:
    """ONEDNN_MAX_CPU_ISA names an ISA without AVX-512 (SSE41, AVX, AVX2, AVX2_VNNI…)."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    return bool(isa) and isa != "ALL" and not isa.startswith(("AVX512", "AVX10", "AMX"))


def resolve_precision(requested: str, features: Iterable[str] | None = None) -> PrecisionPlan:
    """The plan for a `--precision` choice. "auto": int8 LLM where the int8 kernels run (x86 with AVX2), bf16 flow
    and vocoder only with native bf16 matrix instructions, float32 otherwise. "bf16" / "int8" / "fp32" force every stage that
    supports it (int8 exists for the LLM only; the other stages then stay float32).
    `features` defaults to this machine's `cpu_features()`."""
    if requested not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_CHOICES)}, got {requested!r}")
    if requested == "auto":
        available = cpu_features() if features is None else frozenset(features)
        int8 = INT8_FEATURES <= available and INT8_ENGINE in torch.backends.quantized.supported_engines
        bf16 = bool(NATIVE_BF16_FEATURES & available)
        native_float = "bf16" if bf16 else "fp32"
        return PrecisionPlan(llm="int8" if int8 else "fp32", flow=native_float, hift=native_float)
    return PrecisionPlan(
        **{stage: requested if requested in allowed else "fp32" for stage, allowed in STAGE_CHOICES.items()}
    )


def apply_precision(model: Any, plan: PrecisionPlan) -> None:
    """Convert a `CosyVoiceModel`'s networks in place to the plan (from whatever precision they are in now).
    The new tensors are ordinary ones even when called in inference mode (the vocoder folds its weights in place)."""
    with torch.inference_mode(False), torch.no_grad():
        convert_llm(model.llm, plan.llm)
        convert_flow(model.flow, plan.flow)
        convert_hift(model.hift, plan.hift)
    if hasattr(model, "precision"):
        model.precision = plan


def convert_llm(llm: TransformerLM, precision: str) -> None:
    """int8: every linear layer except the speaker projection becomes an `Int8Linear`, the rest float32;
    bf16 / fp32: every tensor in that float type (int8 layers dequantised back to `nn.Linear`)."""
    if precision == "int8":
        llm.float()
        _replace_linears(llm, Int8Linear.from_linear, skip=LLM_FLOAT_LINEARS)
    else:
        _replace_int8(llm)
        llm.to(_DTYPES[precision])


def convert_flow(flow: FlowModel, precision: str) -> None:
    """The flow-matching estimator (the U-Net the solver calls 2 × steps times) in the stage's float type; the
    speaker projection, token encoder and length regulator stay float32."""
    _float32_except(flow, [flow.decoder])
    flow.decoder.estimator.to(_DTYPES[precision])


def convert_hift(hift: HiFTVocoder, precision: str) -> None:
    """bf16: the vocoder's convolution stack computes in bf16 (inputs cast on entry, outputs back to float32);
    the f0 predictor, harmonic source and (i)STFT stay float32."""
    stack = _vocoder_convolution_stack(hift)
    _float32_except(hift, [*stack, hift.ups, hift.source_downs, hift.source_resblocks, hift.resblocks])
    for module in stack:
        _BFloat16Island.set(module, precision == "bf16")


def _float32_except(root: nn.Module, kept: list[nn.Module]) -> None:
    """Every child module of `root` but those in `kept` in float32 (tensors already float32 are not copied)."""
    for child in root.children():
        if not any(child is module for module in kept):
            child.float()


def _vocoder_convolution_stack(hift: HiFTVocoder) -> list[nn.Module]:
    return [hift.conv_pre, *hift.ups, *hift.source_downs, *hift.source_resblocks, *hift.resblocks, hift.conv_post]


class _BFloat16Island:
    """Runs one module in bf16 inside a float32 network: weights stored in bf16, its input cast on entry and its
    output cast back to float32 (forward hooks; the module's code is unchanged)."""

    HOOKS = "_bf16_island_hooks"

    @classmethod
    def set(cls, module: nn.Module, enabled: bool) -> None:
        for handle in getattr(module, cls.HOOKS, ()):
            handle.remove()
        if not enabled:
            module.__dict__.pop(cls.HOOKS, None)
            module.float()
            return
        module.to(torch.bfloat16)
        module.__dict__[cls.HOOKS] = (
            module.register_forward_pre_hook(cls._cast_input),
            module.register_forward_hook(cls._cast_output),
        )

    @staticmethod
    def _cast_input(_module: nn.Module, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            value.bfloat16() if torch.is_tensor(value) and value.is_floating_point() else value for value in inputs
        )

    @staticmethod
    def _cast_output(_module: nn.Module, _inputs: tuple[Any, ...], output: Any) -> Any:
        return output.float() if torch.is_tensor(output) else output


def _replace_linears(root: nn.Module, convert: Any, skip: tuple[str, ...] = ()) -> None:
    for name, child in list(root.named_children()):
        if name in skip:
            continue
        if type(child) is nn.Linear:
            setattr(root, name, convert(child))
        else:
            _replace_linears(child, convert)


def _replace_int8(root: nn.Module) -> None:
    for name, child in list(root.named_children()):
        if isinstance(child, Int8Linear):
            setattr(root, name, child.to_linear())
        else:
            _replace_int8(child)


class Int8Linear(nn.Module):
    """A linear layer with int8 weights: y = (x · qᵀ) · scale + bias, q int8 [out, in], scale float32 [out].

    Responsibilities: quantising an `nn.Linear` (symmetric, per output channel), holding only plain tensors
    (`weight`, `scale`, `bias`: what a state dict and safetensors store), and computing with the FBGEMM dynamically
    quantised kernel, whose packed weight is derived from those tensors on the first forward pass and dropped
    whenever they are replaced (loading, moving). Without FBGEMM it multiplies with the dequantised weight."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(
            torch.zeros(out_features, in_features, dtype=torch.int8, device=device), requires_grad=False
        )
        self.scale = nn.Parameter(torch.ones(out_features, dtype=torch.float32, device=device), requires_grad=False)
        self.bias = (
            nn.Parameter(torch.zeros(out_features, dtype=torch.float32, device=device), requires_grad=False)
            if bias
            else None
        )
        self._packed: Any = None

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        """Quantise a linear layer (works on `meta` tensors too: then only the layout is produced)."""
        weight = linear.weight.detach().float()
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, device=weight.device)
        scale = weight.abs().amax(dim=1).clamp(min=torch.finfo(torch.float32).tiny) / INT8_MAX
        layer.weight.data = torch.round(weight / scale.unsqueeze(1)).clamp(-INT8_MAX, INT8_MAX).to(torch.int8)
        layer.scale.data = scale
        if linear.bias is not None:
            layer.bias.data = linear.bias.detach().float().clone()
        return layer

    def to_linear(self) -> nn.Linear:
        """The float32 layer these int8 weights stand for."""
        linear = nn.Linear(self.in_features, self.out_features, self.bias is not None, device=self.weight.device)
        linear.weight.data = self.dequantised()
        if self.bias is not None:
            linear.bias.data = self.bias.detach().clone()
        return linear.requires_grad_(False)

    def dequantised(self) -> torch.Tensor:
        return self.weight.float() * self.scale.unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        packed = self._packed_weight()
        if packed is None:
            output = torch.nn.functional.linear(x.float(), self.dequantised(), self.bias)
        else:
            output = torch.ops.quantized.linear_dynamic(x.float(), packed, reduce_range=True)
        return output.to(x.dtype)

    def _packed_weight(self) -> Any:
        if self._packed is None and INT8_ENGINE in torch.backends.quantized.supported_engines:
            self._packed = _pack(self.weight, self.scale, self.bias)
        return self._packed

    def _apply(self, fn: Any, recurse: bool = True) -> Int8Linear:  # .to(), .float(), … replace the tensors
        self._packed = None
        return super()._apply(fn, recurse)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._packed = None
        super()._load_from_state_dict(*args, **kwargs)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def _pack(weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> Any:
    """FBGEMM's packed form of a per-channel quantised weight (made under the FBGEMM engine whatever is global)."""
    zero_points = torch.zeros(weight.shape[0], dtype=torch.int64)
    with warnings.catch_warnings():  # quantised tensor types are deprecated; the kernel is the fastest there is
        warnings.simplefilter("ignore", UserWarning)
        quantised = torch._make_per_channel_quantized_tensor(weight, scale.double(), zero_points, 0)
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = INT8_ENGINE
    try:
        return torch.ops.quantized.linear_prepack(quantised, None if bias is None else bias.float())
    finally:
        torch.backends.quantized.engine = previous

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

import ctypes
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .flow import FlowModel
from .hift import HiFTVocoder
from .llm import TransformerLM

if TYPE_CHECKING:
    from .loader import CosyVoiceModel  # the loader applies plans itself: no import at run time

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
    and vocoder only with native bf16 matrix instructions, float32 otherwise. "bf16" / "int8" / "fp32" force every
    stage that supports it (int8 exists for the LLM only; the other stages then stay float32).
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


def apply_precision(model: CosyVoiceModel, plan: PrecisionPlan) -> None:
    """Convert a `CosyVoiceModel`'s networks in place to the plan (from whatever precision they are in now).

    Module by module: each replaced tensor is dropped right away and, when it was read from a memory-mapped file,
    its resident pages are handed back to the system, so converting a float32 checkpoint never holds it all in
    memory next to the converted copy. The new tensors are ordinary ones even when called in inference mode (the
    vocoder folds its weights in place)."""
    pages = MappedPages()
    with torch.inference_mode(False), torch.no_grad():
        _convert_llm(model.llm, plan.llm, pages)
        _convert_flow(model.flow, plan.flow, pages)
        _convert_hift(model.hift, plan.hift, pages)
    model.precision = plan


def _convert_llm(llm: TransformerLM, precision: str, pages: MappedPages) -> None:
    """int8: every linear layer except the speaker projection becomes an `Int8Linear`, the rest float32;
    bf16 / fp32: every tensor in that float type (int8 layers dequantised back to `nn.Linear`)."""
    if precision == "int8":
        _cast(llm, torch.float32, pages)
        _replace_linears(llm, pages, skip=LLM_FLOAT_LINEARS)
    else:
        _replace_int8(llm)
        _cast(llm, _DTYPES[precision], pages)


def _convert_flow(flow: FlowModel, precision: str, pages: MappedPages) -> None:
    """The flow-matching estimator (the U-Net the solver calls 2 × steps times) in the stage's float type; the
    speaker projection, token encoder and length regulator stay float32."""
    for child in flow.children():
        if child is not flow.decoder:
            _cast(child, torch.float32, pages)
    _cast(flow.decoder.estimator, _DTYPES[precision], pages)


def _convert_hift(hift: HiFTVocoder, precision: str, pages: MappedPages) -> None:
    """bf16: the vocoder's convolution stack computes in bf16 (inputs cast on entry, outputs back to float32);
    the f0 predictor, harmonic source and (i)STFT stay float32."""
    stack = _vocoder_convolution_stack(hift)
    for child in (hift.m_source, hift.f0_predictor):
        _cast(child, torch.float32, pages)
    for module in stack:
        _cast(module, _DTYPES[precision], pages)
        _BFloat16Island.set(module, precision == "bf16")


def _cast(root: nn.Module, dtype: torch.dtype, pages: MappedPages) -> None:
    """Every floating-point tensor under `root` in `dtype`, one module at a time (tensors already in `dtype` are
    kept as they are); the replaced tensors' mapped pages are released as soon as their module is done."""

    def convert(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(dtype) if tensor.is_floating_point() else tensor

    for module in root.modules():
        before = _own_spans(module)  # parameters keep their identity and get new data: remember the old bytes
        module._apply(convert, recurse=False)
        kept = {start for start, _ in _own_spans(module)}
        pages.release(span for span in before if span[0] not in kept)


def _own_spans(module: nn.Module) -> list[tuple[int, int]]:
    """(first byte, end) of each tensor held by the module itself (not its children)."""
    tensors = (*module.parameters(recurse=False), *module.buffers(recurse=False))
    return [_span(tensor) for tensor in tensors if tensor.device.type == "cpu" and not tensor.is_meta]


def _span(tensor: torch.Tensor) -> tuple[int, int]:
    start = tensor.data_ptr()
    return start, start + tensor.numel() * tensor.element_size()


def _vocoder_convolution_stack(hift: HiFTVocoder) -> list[nn.Module]:
    return [hift.conv_pre, *hift.ups, *hift.source_downs, *hift.source_resblocks, *hift.resblocks, hift.conv_post]


class _BFloat16Island:
    """Runs one module (its weights already in bf16) inside a float32 network: its input cast to bf16 on entry and
    its output back to float32 (forward hooks; the module's code is unchanged)."""

    HOOKS = "_bf16_island_hooks"

    @classmethod
    def set(cls, module: nn.Module, enabled: bool) -> None:
        for handle in module.__dict__.pop(cls.HOOKS, ()):
            handle.remove()
        if not enabled:
            return
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


def _replace_linears(root: nn.Module, pages: MappedPages, skip: tuple[str, ...] = ()) -> None:
    """Every `nn.Linear` under `root` (but the children named in `skip`) → `Int8Linear`."""
    for name, child in list(root.named_children()):
        if name in skip:
            continue
        if type(child) is nn.Linear:
            setattr(root, name, Int8Linear.from_linear(child))
            pages.release(_own_spans(child))
        else:
            _replace_linears(child, pages)


def _replace_int8(root: nn.Module) -> None:
    for name, child in list(root.named_children()):
        if isinstance(child, Int8Linear):
            setattr(root, name, child.to_linear())
        else:
            _replace_int8(child)


class MappedPages:
    """Hands back to the system the resident pages of tensors that were read from a memory-mapped file.

    Linux only (elsewhere it does nothing). Only whole pages inside the tensor's own bytes, and only where
    /proc/self/maps shows a file mapping (private as torch.load maps, or shared as safetensors maps), are released
    (madvise MADV_DONTNEED; a read-only mapping has nothing to write back): the mapping stays valid and
    a later read of those bytes loads them from the file again, so releasing a tensor still in use costs a re-read,
    never its values. Anonymous memory (tensors computed or copied in memory) is never touched."""

    DONTNEED = 4  # MADV_DONTNEED

    def __init__(self) -> None:
        self._files = _file_mappings()
        self._page = os.sysconf("SC_PAGE_SIZE") if self._files else 0
        self._madvise = ctypes.CDLL(None, use_errno=True).madvise if self._files else None

    def release(self, spans: Iterable[tuple[int, int]]) -> None:
        """Release the whole pages inside each (first byte, end) span that lies in a private file mapping."""
        for start, end in spans:
            first = -(-start // self._page) * self._page if self._page else 0
            last = end // self._page * self._page if self._page else 0
            if last > first and any(low <= start and end <= high for low, high in self._files):
                self._madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), self.DONTNEED)


def _file_mappings() -> list[tuple[int, int]]:
    """Address ranges of this process's mappings of regular files (empty where /proc is unavailable)."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    ranges = []
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/") and fields[4] != "0":
            low, high = (int(address, 16) for address in fields[0].split("-"))
            ranges.append((low, high))
    return ranges


class Int8Linear(nn.Module):
    """A linear layer with int8 weights: y = (x · qᵀ) · scale + bias, q int8 [out, in], scale float32 [out].

    Responsibilities: quantising an `nn.Linear` (symmetric, per output channel), holding only plain tensors
    (`weight`, `scale`, `bias`: what a state dict and safetensors store), and computing with the FBGEMM dynamically
    quantised kernel. The kernel's packed weight is derived from `weight` when quantising, or on the first forward
    pass after loading; from then on the packed form is the only copy in memory (`weight` becomes a `meta`
    placeholder of the same shape, unpacked again — exactly — for a state dict, for loading into it, or for moving
    it). Loading or moving drops the packed form. Without FBGEMM it multiplies with the dequantised weight."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(
            torch.empty(out_features, in_features, dtype=torch.int8, device=device), requires_grad=False
        )
        self.scale = nn.Parameter(torch.empty(out_features, dtype=torch.float32, device=device), requires_grad=False)
        self.bias = (
            nn.Parameter(torch.empty(out_features, dtype=torch.float32, device=device), requires_grad=False)
            if bias
            else None
        )
        self._packed: Any = None

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        """Quantise a linear layer (works on `meta` tensors too: then only the layout is produced)."""
        weight = linear.weight.detach().float()
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, device=weight.device)
        peak = torch.linalg.vector_norm(weight, float("inf"), dim=1)
        scale = peak.clamp(min=torch.finfo(torch.float32).tiny) / INT8_MAX
        layer.weight.data = torch.div(weight, scale.unsqueeze(1)).round_().to(torch.int8)  # |w / scale| ≤ 127
        layer.scale.data = scale
        if linear.bias is not None:
            layer.bias.data = linear.bias.detach().float().clone()
        if not weight.is_meta:
            layer._packed_weight()  # now, while this layer's temporaries are the only ones: no memory left in holes
        return layer

    def to_linear(self) -> nn.Linear:
        """The float32 layer these int8 weights stand for."""
        linear = nn.Linear(self.in_features, self.out_features, self.bias is not None, device=self.scale.device)
        linear.weight.data = self.dequantised()
        if self.bias is not None:
            linear.bias.data = self.bias.detach().clone()
        return linear.requires_grad_(False)

    def dequantised(self) -> torch.Tensor:
        return self.plain_weight().float() * self.scale.unsqueeze(1)

    def plain_weight(self) -> torch.Tensor:
        """The int8 weight [out, in] (unpacked from the kernel's form when only that is held)."""
        if self._packed is None or not self.weight.is_meta:
            return self.weight
        with torch.inference_mode(False):  # an ordinary tensor: loading may write into it
            quantised, _ = torch.ops.quantized.linear_unpack(self._packed)
            return quantised.int_repr()

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
            held = _span(self.weight)
            self.weight = nn.Parameter(torch.empty_like(self.weight, device="meta"), requires_grad=False)
            MappedPages().release([held])  # a weight read from a file: its pages (gone already if it was in memory)
        return self._packed

    def _unpack(self) -> None:
        """Back to plain tensors only: `weight` real again, no packed form."""
        if self.weight.is_meta and self._packed is not None:
            self.weight = nn.Parameter(self.plain_weight(), requires_grad=False)
        self._packed = None

    def _apply(self, fn: Any, recurse: bool = True) -> Int8Linear:  # .to(), .float(), … replace the tensors
        self._unpack()
        return super()._apply(fn, recurse)

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        self._unpack()
        super()._load_from_state_dict(*args, **kwargs)

    def _save_to_state_dict(self, destination: dict[str, Any], prefix: str, keep_vars: bool) -> None:
        super()._save_to_state_dict(destination, prefix, keep_vars)
        destination[prefix + "weight"] = self.plain_weight()

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

"""Parity check of our networks against reference vectors: `python -m wyoming_cosyvoice.parity DIR`.

DIR is a model folder with the parity layout (see shared/reference/README.md): the model files, the case files
(`llm_case.pt`, …) and `observed_tolerances.json`. Every output is compared with its expected tensor; the bound is
max(10 × observed float32-vs-float64 error, 1e-4 × max |expected|). One JSON object is printed:
`{"folder": …, "cases": {case: {output: {"max_abs_error", "bound", "ok"}} or {"error": …}}, "ok": …}`; the exit
status is 0 only if every case file is present and every output is within its bound.

How to add a case (one function per case file):
1. write `def check_<name>_case(folder: Path, model: CosyVoiceModel, tolerances: Tolerances) -> Results`
   that loads `folder / "<name>_case.pt"` with `load_case`, runs the networks and returns
   `{output_name: tolerances.compare(actual, expected, "<key in observed_tolerances.json>")}`;
2. add `"<name>_case.pt": check_<name>_case` to `CASE_CHECKS` (keep the dict one entry per line).
Tests call the same functions on the shared parity folder and assert every comparison's `ok`.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .model.hift import HiFTVocoder
from .model.loader import CosyVoiceModel, ModelLoadError, load_model, materialise, read_checkpoint
from .model.token2wav import ChunkSchedule, TokenToWave

TOLERANCES_FILE = "observed_tolerances.json"
OBSERVED_FACTOR = 10.0
RELATIVE_FLOOR = 1e-4


@dataclass(frozen=True)
class Comparison:
    """How far one output is from its expected value, and the allowed bound."""

    max_abs_error: float  # math.inf when the output cannot be compared (see problem)
    bound: float
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.max_abs_error <= self.bound

    def as_json(self) -> dict[str, Any]:
        error = self.max_abs_error if math.isfinite(self.max_abs_error) else None
        result = {"max_abs_error": error, "bound": self.bound, "ok": self.ok}
        return result if self.problem is None else {**result, "problem": self.problem}


Results = dict[str, Comparison]


class CaseError(Exception):
    """A case file or the tolerance file is missing or malformed."""


class Tolerances:
    """The observed float32-vs-float64 errors of the reference, turned into bounds."""

    def __init__(self, observed: dict[str, float]) -> None:
        self.observed = observed

    @classmethod
    def read(cls, folder: Path) -> Tolerances:
        path = folder / TOLERANCES_FILE
        try:
            observed = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CaseError(f"{path}: cannot read ({error})") from None
        if not isinstance(observed, dict):
            raise CaseError(f"{path}: expected a JSON object")
        return cls(observed)

    def bound(self, observed_key: str, expected: torch.Tensor) -> float:
        if observed_key not in self.observed:
            raise CaseError(f"{TOLERANCES_FILE} lacks {observed_key!r}")
        largest = float(expected.detach().abs().max()) if expected.numel() else 0.0
        return max(OBSERVED_FACTOR * float(self.observed[observed_key]), RELATIVE_FLOOR * largest)

    def compare(self, actual: torch.Tensor, expected: torch.Tensor, observed_key: str) -> Comparison:
        """max |actual − expected| (infinite on a shape mismatch or non-finite values) against the bound."""
        bound = self.bound(observed_key, expected)
        if actual.shape != expected.shape:
            return Comparison(math.inf, bound, f"shape {list(actual.shape)}, expected {list(expected.shape)}")
        error = float((actual.detach().double() - expected.double()).abs().max()) if expected.numel() else 0.0
        if not math.isfinite(error):
            return Comparison(math.inf, bound, "non-finite values")
        return Comparison(error, bound)


def load_case(folder: Path, file_name: str) -> dict[str, Any]:
    path = folder / file_name
    if not path.is_file():
        raise CaseError(f"{path}: file not found")
    try:
        case = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch.load raises many kinds; all mean "unreadable"
        raise CaseError(f"{path}: cannot read ({(str(error).splitlines() or ['?'])[0]})") from None
    if not isinstance(case, dict):
        raise CaseError(f"{path}: expected a dict of tensors")
    return case


def check_llm_case(folder: Path, model: CosyVoiceModel, tolerances: Tolerances) -> Results:
    """Text encoder, decoder prefix, and log-probs of teacher-forced decoding (incremental and full pass)."""
    case = load_case(folder, "llm_case.pt")
    llm = model.llm
    text, speech = case["text"], case["speech_tokens"]
    prefix = llm.prefix_embeddings(text, case["embedding"])
    cache = llm.new_cache(prefix.shape[1] + speech.shape[1])
    rows = [llm.decode_step(prefix, cache)]
    rows += [llm.decode_step(llm.embed_speech(speech[:, i : i + 1]), cache) for i in range(speech.shape[1])]
    full = llm.full_pass(torch.cat([prefix, llm.embed_speech(speech)], dim=1))[0, prefix.shape[1] - 1 :]
    return {
        "text_encoded": tolerances.compare(llm.encode_text(text), case["text_encoded"],
                                           "llm_text_encoded_fp32_vs_fp64_maxabs"),
        "prefix_embeddings": tolerances.compare(prefix, case["prefix_embeddings"],
                                                "llm_text_encoded_fp32_vs_fp64_maxabs"),
        "logp": tolerances.compare(torch.cat(rows), case["logp"], "llm_logp_fp32_vs_fp64_maxabs"),
        "logp_full_pass": tolerances.compare(full, case["logp_full_pass"], "llm_logp_full_pass_fp32_vs_fp64_maxabs"),
    }


def check_flow_case(folder: Path, model: CosyVoiceModel, tolerances: Tolerances) -> Results:
    """Speaker projection, token encoder, length regulator (split and single path) and mel from the given noise."""
    case = load_case(folder, "flow_case.pt")
    flow, mu_key = model.flow, "flow_mu_fp32_vs_fp64_maxabs"
    solver = {"n_timesteps": int(case["n_timesteps"]), "cfg_rate": float(case["inference_cfg_rate"])}
    mel = flow(case["tokens"], case["embedding"], noise=case["noise"], **solver).mel
    short_mel = flow(case["short_tokens"], case["embedding"], noise=case["short_noise"], **solver).mel
    return {
        "spk_projected": tolerances.compare(flow.project_speaker(case["embedding"]), case["spk_projected"], mu_key),
        "encoder_proj_out": tolerances.compare(flow.encode_tokens(case["tokens"]), case["encoder_proj_out"], mu_key),
        "mu": tolerances.compare(flow.conditioning(case["tokens"]), case["mu"], mu_key),
        "mel": tolerances.compare(mel, case["mel"], "flow_mel_fp32_vs_fp64_maxabs"),
        "short_mu": tolerances.compare(flow.conditioning(case["short_tokens"]), case["short_mu"], mu_key),
        "short_mel": tolerances.compare(short_mel, case["short_mel"], "flow_short_mel_fp32_vs_fp64_maxabs"),
    }


def check_hift_case(folder: Path, model: CosyVoiceModel, tolerances: Tolerances) -> Results:
    """Vocoder stages: f0 from mel, excitation from f0 + the recorded phases/noise, waveform from mel + excitation."""
    case = load_case(folder, "hift_case.pt")
    hift = model.hift
    source = hift.excitation(case["f0"], phases=case["sine_phase"], noise=case["sine_noise"])
    return {
        "f0": tolerances.compare(hift.predict_f0(case["mel"]), case["f0"], "hift_f0_fp32_vs_fp64_maxabs"),
        "source": tolerances.compare(source, case["source"], "hift_source_fp32_vs_fp64_maxabs"),
        "speech": tolerances.compare(hift.decode(case["mel"], case["source"]), case["speech"],
                                     "hift_speech_fp32_vs_fp64_maxabs"),
    }


def check_hift_legacy_case(folder: Path, model: CosyVoiceModel, tolerances: Tolerances) -> Results:
    """The vocoder saved with the old weight-norm names (weight_g / weight_v) gives the same output as hift.pt:
    within the bound of the reference, and identical (bound 0) to the vocoder loaded from hift.pt."""
    case = load_case(folder, "hift_case.pt")
    try:
        legacy = materialise(lambda: HiFTVocoder(model.config.hift),
                             read_checkpoint(folder / "hift_legacy_weight_norm.pt"))
    except ModelLoadError as error:
        raise CaseError(str(error)) from None
    f0, speech = legacy.predict_f0(case["mel"]), legacy.decode(case["mel"], case["source"])
    return {
        "speech": tolerances.compare(speech, case["speech"], "hift_speech_fp32_vs_fp64_maxabs"),
        "f0_same_as_hift_pt": _identical(f0, model.hift.predict_f0(case["mel"])),
        "speech_same_as_hift_pt": _identical(speech, model.hift.decode(case["mel"], case["source"])),
    }


def check_stream_case(folder: Path, model: CosyVoiceModel, tolerances: Tolerances) -> Results:
    """Streaming token → waveform with the reference's chunk ranges, feeding the recorded flow noise and excitation
    of every chunk: per chunk the flow mel, the vocoder's mel, its f0 and the emitted audio; then all audio."""
    case = load_case(folder, "stream_case.pt")
    starts = [int(start) for start in case["chunk_token_ranges"][:, 0]]
    hops = [later - earlier for earlier, later in itertools.pairwise(starts)]
    schedule = ChunkSchedule(first_hop=hops[0], hop=hops[-1]) if hops else None
    decoder = TokenToWave(model.flow, model.hift, case["embedding"], schedule)
    decoder.add_tokens(case["tokens"][0].tolist())
    decoder.end_tokens()
    results: Results = {}
    chunks = []
    for index in range(int(case["n_chunks"])):
        if not decoder.chunk_ready:
            break
        chunk = decoder.decode_chunk(case[f"flow_noise_{index}"], case[f"source_{index}"])
        chunks.append(chunk)
        results[f"flow_mel_{index}"] = tolerances.compare(chunk.flow_mel, case[f"flow_mel_{index}"],
                                                          "stream_flow_mel_fp32_vs_fp64_maxabs")
        results[f"hift_mel_{index}"] = tolerances.compare(chunk.vocoder_mel, case[f"hift_mel_{index}"],
                                                          "stream_hift_mel_fp32_vs_fp64_maxabs")
        results[f"f0_{index}"] = tolerances.compare(model.hift.predict_f0(chunk.vocoder_mel), case[f"f0_{index}"],
                                                    "hift_f0_fp32_vs_fp64_maxabs")
        results[f"speech_{index}"] = tolerances.compare(chunk.speech.unsqueeze(0), case[f"speech_{index}"],
                                                        "stream_speech_fp32_vs_fp64_maxabs")
    ranges = torch.tensor([chunk.token_range for chunk in chunks], dtype=torch.float64).reshape(-1, 2)
    results["chunk_token_ranges"] = _identical(ranges, case["chunk_token_ranges"].to(torch.float64))
    speech = torch.cat([chunk.speech for chunk in chunks]).unsqueeze(0)
    results["speech"] = tolerances.compare(speech, case["speech"], "stream_speech_fp32_vs_fp64_maxabs")
    return results


def _identical(actual: torch.Tensor, expected: torch.Tensor) -> Comparison:
    """Bit-for-bit agreement: max |actual − expected| against a bound of 0."""
    if actual.shape != expected.shape:
        return Comparison(math.inf, 0.0, f"shape {list(actual.shape)}, expected {list(expected.shape)}")
    return Comparison(float((actual.double() - expected.double()).abs().max()), 0.0)


CaseCheck = Callable[[Path, CosyVoiceModel, Tolerances], Results]

CASE_CHECKS: dict[str, CaseCheck] = {
    "llm_case.pt": check_llm_case,
    "flow_case.pt": check_flow_case,
    "hift_case.pt": check_hift_case,
    "hift_legacy_weight_norm.pt": check_hift_legacy_case,
    "stream_case.pt": check_stream_case,
}


def run_parity(folder: Path) -> dict[str, Any]:
    """Every case of CASE_CHECKS on `folder`; the report printed by the command line."""
    report: dict[str, Any] = {"folder": str(folder), "cases": {}}
    try:
        model = load_model(folder)
        tolerances = Tolerances.read(folder)
    except (ModelLoadError, CaseError) as error:
        return {**report, "error": str(error), "ok": False}
    for file_name, check in CASE_CHECKS.items():
        name = file_name.removesuffix(".pt")
        try:
            results = check(folder, model, tolerances)
        except (CaseError, KeyError, ValueError, RuntimeError) as error:
            report["cases"][name] = {"error": _describe(error), "ok": False}
            continue
        report["cases"][name] = {output: result.as_json() for output, result in results.items()}
    report["ok"] = all(_case_ok(case) for case in report["cases"].values())
    return report


def _case_ok(case: dict[str, Any]) -> bool:
    return "error" not in case and all(output["ok"] for output in case.values())


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"case file lacks {error.args[0]!r}"
    return (str(error).splitlines() or [type(error).__name__])[0]


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1 or arguments[0] in ("-h", "--help"):
        print("usage: python -m wyoming_cosyvoice.parity DIR", file=sys.stderr)
        return 2
    report = run_parity(Path(arguments[0]))
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""TransformerLM: parity with the reference log-probs, generation rules, input checking."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from wyoming_cosyvoice.parity import Tolerances, check_llm_case


@pytest.fixture(scope="module")
def case(parity_dir: Path) -> dict:
    return torch.load(parity_dir / "llm_case.pt", weights_only=True)


def test_llm_matches_reference_within_bounds(parity_dir: Path, parity_model) -> None:
    results = check_llm_case(parity_dir, parity_model, Tolerances.read(parity_dir))
    assert set(results) == {"text_encoded", "prefix_embeddings", "logp", "logp_full_pass"}
    for name, result in results.items():
        print(f"{name}: max abs error {result.max_abs_error:.3g} (bound {result.bound:.3g})")
        assert result.ok, (name, result)


def test_incremental_and_full_pass_agree(parity_model, case: dict) -> None:
    llm = parity_model.llm
    prefix = llm.prefix_embeddings(case["text"], case["embedding"])
    tokens = list(llm.generate(case["text"], case["embedding"], torch.Generator().manual_seed(3), limits=(40, 40)))
    cache = llm.new_cache(prefix.shape[1] + len(tokens))
    steps = [llm.decode_step(prefix, cache)]
    steps += [llm.decode_step(llm.embed_speech(torch.tensor([[token]])), cache) for token in tokens]
    full = llm.full_pass(torch.cat([prefix, llm.embed_speech(torch.tensor([tokens]))], 1))[0, prefix.shape[1] - 1 :]
    torch.testing.assert_close(torch.cat(steps), full, rtol=0, atol=1e-5)


def test_prefix_layout(parity_model, case: dict) -> None:
    llm = parity_model.llm
    prefix = llm.prefix_embeddings(case["text"], case["embedding"])
    assert prefix.shape == (1, case["prefix_len"], 64)
    assert torch.equal(prefix[0, 0], llm.llm_embedding.weight[0])
    assert torch.equal(prefix[0, -1], llm.llm_embedding.weight[1])
    scaled = llm.prefix_embeddings(case["text"], 7.5 * case["embedding"])  # the x-vector is L2-normalised
    torch.testing.assert_close(scaled, prefix)
    without_speaker = llm.prefix_embeddings(case["text"], None)
    assert without_speaker.shape[1] == case["prefix_len"] - 1


def test_generation_length_rules(parity_model, case: dict) -> None:
    llm = parity_model.llm
    assert llm.token_limits(17) == (34, 340)
    assert len(list(llm.generate(case["text"], case["embedding"], limits=(0, 3)))) <= 3
    eager = copy.deepcopy(llm)
    with torch.no_grad():
        eager.llm_decoder.bias[llm.config.eos_id] += 100.0  # EOS is all but certain at every step
    tokens = list(eager.generate(case["text"], case["embedding"], torch.Generator().manual_seed(0), limits=(4, 50)))
    assert len(tokens) == 4  # EOS masked before the minimum, then it ends generation (and is not yielded)
    assert all(0 <= token < llm.config.eos_id for token in tokens)


def test_generation_is_reproducible_with_a_generator(parity_model, case: dict) -> None:
    llm = parity_model.llm

    def run(seed: int) -> list[int]:
        return list(llm.generate(case["text"], case["embedding"], torch.Generator().manual_seed(seed), limits=(20, 20)))

    first = run(5)
    assert len(first) == 20 and first == run(5) and first != run(6)


@pytest.mark.parametrize(
    "text, embedding, message",
    [
        (torch.tensor([[1, 51866]]), torch.ones(1, 192), r"text ids must lie in \[0, 51866\), got values in \[1, 51866\]"),
        (torch.tensor([[-1]]), torch.ones(1, 192), r"text ids must lie in \[0, 51866\)"),
        (torch.zeros(1, 0, dtype=torch.long), torch.ones(1, 192), r"text ids must have shape \[1, N\] with N ≥ 1"),
        (torch.tensor([[1.0]]), torch.ones(1, 192), "text ids must be integers"),
        (torch.tensor([[1]]), torch.ones(192), r"speaker embedding must have shape \[1, 192\], got \[192\]"),
    ],
)
def test_bad_inputs_are_reported(parity_model, text, embedding, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parity_model.llm.prefix_embeddings(text, embedding)


def test_speech_ids_are_checked(parity_model) -> None:
    with pytest.raises(ValueError, match=r"speech ids must lie in \[0, 4096\)"):
        parity_model.llm.embed_speech(torch.tensor([[4096]]))

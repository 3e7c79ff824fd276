"""RAS sampling against the reference's recorded decisions (sampling_case.pt)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from wyoming_cosyvoice.model.sampling import (
    SamplingConfig,
    fallback_distribution,
    nucleus_candidates,
    ras_sample,
    repetition_fires,
)


@pytest.fixture(scope="module")
def case(reference_dir: Path) -> dict:
    return torch.load(reference_dir / "sampling_case.pt", weights_only=True)


@pytest.fixture(scope="module")
def config(case: dict) -> SamplingConfig:
    return SamplingConfig(top_p=case["top_p"], top_k=case["top_k"], win_size=case["win_size"], tau_r=case["tau_r"])


def test_nucleus_candidates_match_reference(case: dict, config: SamplingConfig) -> None:
    for index, kind in enumerate(case["kinds"]):
        ids, probs = nucleus_candidates(case["scores"][index], config.top_p, config.top_k)
        assert torch.equal(ids, case["candidate_ids"][index]), kind
        torch.testing.assert_close(probs, case["candidate_probs"][index], rtol=0, atol=1e-7, msg=kind)


def test_nucleus_keeps_ties_in_id_order_and_the_crossing_id(case: dict, config: SamplingConfig) -> None:
    kinds = list(case["kinds"])
    ties, _ = nucleus_candidates(case["scores"][kinds.index("ties")], config.top_p, config.top_k)
    assert ties.tolist() == [5, 17, 900, 2500, 3000]
    medium_ids, medium_probs = nucleus_candidates(case["scores"][kinds.index("medium")], config.top_p, config.top_k)
    assert len(medium_ids) == 7
    assert float(medium_probs[:-1].sum()) < config.top_p <= float(medium_probs.sum())


def test_eos_masked_scores_never_offer_eos(case: dict, config: SamplingConfig) -> None:
    kinds = list(case["kinds"])
    ids, _ = nucleus_candidates(case["scores"][kinds.index("eos_masked")], config.top_p, config.top_k)
    assert case["eos_id"] not in ids.tolist()


def test_repetition_fallback_flags_and_distribution(case: dict, config: SamplingConfig) -> None:
    ras = case["ras"]
    for history, fires, expected in zip(ras["history"], ras["fallback"].tolist(), ras["fallback_probs"]):
        assert repetition_fires(ras["pick"], history.tolist(), config) == fires
        if fires:
            probs = fallback_distribution(ras["scores"], ras["pick"])
            torch.testing.assert_close(probs, expected, rtol=0, atol=1e-7)
            assert float(probs[ras["pick"]]) == 0.0


def test_fallback_redraw_never_returns_the_repeated_id(config: SamplingConfig) -> None:
    scores = torch.full((4097,), -30.0)
    scores[7] = 0.0  # nucleus always picks 7
    scores[9] = -1.0
    generator = torch.Generator().manual_seed(0)
    draws = {ras_sample(torch.log_softmax(scores, 0), [7], config, generator) for _ in range(50)}
    assert 7 not in draws
    assert ras_sample(torch.log_softmax(scores, 0), [1, 2, 3], config, generator) == 7


def test_sampling_config_reads_yaml_section() -> None:
    section = {"__class__": "cosyvoice.utils.common.ras_sampling", "top_p": 0.5, "top_k": 3, "win_size": 4}
    assert SamplingConfig.from_yaml(section) == SamplingConfig(top_p=0.5, top_k=3, win_size=4, tau_r=0.1)

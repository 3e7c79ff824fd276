"""Options shared by every command that loads the model (the server and `synthesize`).

Owns: where the model comes from (data dirs, download dir, source, revision), how it runs (threads, precision,
flow steps, preset), and turning those options into a ready `Synthesizer`.
"""

from __future__ import annotations

import argparse
import logging
import time

from .download import ModelNotFoundError, add_source_arguments, resolve_from_args
from .model.precision import PRECISION_CHOICES
from .synthesizer import PRESETS, SynthesisOptions, Synthesizer

_LOGGER = logging.getLogger(__name__)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    add_source_arguments(group)
    group.add_argument("--threads", type=int, help="CPU threads for inference (default: one per core)")
    group.add_argument("--precision", choices=PRECISION_CHOICES, default="auto", help="weights precision (default: auto)")
    group.add_argument("--preset", choices=sorted(PRESETS), default="quality", help="quality (default) or fast")
    group.add_argument("--flow-steps", type=int, help="flow-matching steps (default: from the preset, 10)")
    group.add_argument("--seed", type=int, help="fixed random seed: the same text gives the same audio (testing)")


def load_synthesizer(args: argparse.Namespace) -> Synthesizer:
    """Find (or download) the model and load it; exits with a clear message when that fails."""
    from .model.loader import ModelLoadError

    started = time.perf_counter()
    try:
        model_dir = resolve_from_args(args)
        options = SynthesisOptions.from_preset(
            args.preset, precision=args.precision, flow_steps=args.flow_steps, threads=args.threads, seed=args.seed
        )
        synthesizer = Synthesizer.load(model_dir, options)
    except (ModelNotFoundError, ModelLoadError, ValueError) as err:
        raise SystemExit(f"Cannot load the model: {err}") from None
    _LOGGER.info("Model loaded from %s in %.1f s (%s)", model_dir, time.perf_counter() - started, options.describe())
    return synthesizer

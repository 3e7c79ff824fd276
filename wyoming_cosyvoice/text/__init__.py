"""Text frontend: what Home Assistant says, turned into token ids for the CosyVoice LLM, in five languages.

Language-aware and model-blind. Libraries: `tiktoken` for the whisper byte-pair encoding (tokenizer.py, with the
vocabulary shipped in this folder). Ours, hand-written: clean-up (sanitize.py), language segmentation
(languages.py), number words (numerals.py), per-language normalisation (english.py, chinese.py, japanese.py,
korean.py on the shared engine in rules.py / verbalizer.py; normalize.py says why no normalisation library is
used), sentence splitting (sentences.py) and segment assembly (segments.py). `python -m wyoming_cosyvoice.text`
tries it out and scores case files (`--check`).
"""

from .frontend import TextFrontend
from .languages import LANGUAGES, Run, language_runs
from .segments import Segment, SentenceStream

__all__ = ["LANGUAGES", "Run", "Segment", "SentenceStream", "TextFrontend", "language_runs"]

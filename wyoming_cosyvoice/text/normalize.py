"""Text normalisation: the written text turned into the words a speaker of each language would say.

What is a library and what is ours: everything in this package's normalisation is hand-written. We measured
the offline libraries on ../shared/frontend-cases.tsv and our own cases before deciding:
- wetext 0.1.8 (FST grammars via kaldifst): right on most zh/ja cases, but it reads "-5.5℃" as 负…, "$12.50" as
  "twelve point five dollars", "2024-03-05" (en) as "the fifth of march …", leaves emoji and kWh, raises on
  Korean, turns 第2 into 第两, and needs ≈ 1.5 s for 6,000 characters (our budget is 0.2 s for 10,000);
- cn2an 0.5 reads "-5.5℃" as 负五.五 and "¥1,368.50" wrongly; num2words 0.5 puts "and" and commas into English
  numbers and knows no Korean native numbers; inflect 7 takes 1.7 s to import.
No library reads Korean numbers by counter. The number words are in numerals.py, the per-language rules in
english.py, chinese.py (Mandarin and Cantonese), japanese.py and korean.py, language segmentation in
languages.py, clean-up in sanitize.py. jieba and unidic/fugashi are not needed: the expected spoken forms keep
kanji and Chinese characters as written, so no word segmentation or reading dictionary is involved.
"""

from __future__ import annotations

from .chinese import CantoneseVerbalizer, MandarinVerbalizer
from .english import EnglishVerbalizer
from .japanese import JapaneseVerbalizer
from .korean import KoreanVerbalizer
from .languages import check_language, language_runs
from .sanitize import clean_input, tidy_output
from .verbalizer import Verbalizer

VERBALIZERS: dict[str, type[Verbalizer]] = {
    "zh": MandarinVerbalizer,
    "yue": CantoneseVerbalizer,
    "en": EnglishVerbalizer,
    "ja": JapaneseVerbalizer,
    "ko": KoreanVerbalizer,
}


class Normalizer:
    """Runs clean-up → language runs → each run's verbalizer → tidy-up; builds each verbalizer on first use."""

    def __init__(self) -> None:
        self._verbalizers: dict[str, Verbalizer] = {}

    def normalize(self, text: str, language: str) -> str:
        check_language(language)
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, not {type(text).__name__}")
        cleaned = clean_input(text)
        spoken = [self.verbalizer(run.language).verbalize(run.text) for run in language_runs(cleaned, language)]
        return tidy_output("".join(spoken))

    def verbalizer(self, language: str) -> Verbalizer:
        if language not in self._verbalizers:
            self._verbalizers[language] = VERBALIZERS[language]()
        return self._verbalizers[language]

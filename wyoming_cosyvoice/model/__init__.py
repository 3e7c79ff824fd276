"""The CosyVoice-300M-SFT networks (language-blind): configuration, modules, sampling and checkpoint loading.

Entry points: `load_model(folder)` → `CosyVoiceModel` (`.config`, `.llm`, `.flow`, `.hift`, `.speakers`),
`read_model_config(path)` → `ModelConfig`; failures raise `ModelLoadError` / `ConfigError`.
"""

from .blocks import ConfigError
from .config import ModelConfig, read_model_config
from .loader import CosyVoiceModel, ModelLoadError, load_model

__all__ = ["ConfigError", "CosyVoiceModel", "ModelConfig", "ModelLoadError", "load_model", "read_model_config"]

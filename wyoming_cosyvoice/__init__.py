"""Wyoming text-to-speech server for CosyVoice-300M-SFT on the CPU."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("wyoming-cosyvoice")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

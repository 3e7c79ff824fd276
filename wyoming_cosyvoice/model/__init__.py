"""The CosyVoice-300M-SFT networks (language-blind): configuration, modules, sampling and checkpoint loading."""

"""Errors raised while finding, downloading or checking the model.

Every error derives from `ModelNotFoundError`, so a caller that only wants "a usable model folder or a clear
message" catches that one class; the subclasses say why.
"""

from __future__ import annotations


class ModelNotFoundError(Exception):
    """No usable model folder could be found or made; the message says what to do."""


class DownloadError(ModelNotFoundError):
    """A download source refused, broke off or served data that does not match what it published."""


class NotEnoughSpaceError(ModelNotFoundError):
    """The disk that should hold the model is too small or filled up while downloading."""


class CorruptModelError(ModelNotFoundError):
    """A model folder's files do not match its manifest and cannot be repaired here."""

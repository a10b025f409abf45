"""One error tree for the whole project. Only the CLI and the UI turn these into user text."""

from __future__ import annotations


class QAError(Exception):
    """Base of every error this project raises on purpose. The message is meant for the user."""


class ConfigError(QAError):
    """Invalid settings (file, environment or flags)."""


class LoadError(QAError):
    """A document could not be loaded. `path` names the file; the message says why and what to do."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class EmptyDocumentError(LoadError):
    """The file holds no text (zero bytes, whitespace only, or a PDF of images)."""


class EncryptedDocumentError(LoadError):
    """The PDF is encrypted and cannot be opened without a password."""


class CorruptDocumentError(LoadError):
    """The file cannot be parsed (truncated or damaged)."""


class UnsupportedDocumentError(LoadError):
    """Wrong type: an unknown extension, or binary content in a text file."""


class TooLargeDocumentError(LoadError):
    """The file is over the configured size limit."""


class StoreError(QAError):
    """The vector store cannot be opened, read or written."""


class StoreMismatchError(StoreError):
    """The collection was built with other settings (encoder, dimension, chunking)."""


class StoreLockedError(StoreError):
    """Another process is writing to this data directory."""


class DocumentNotFoundError(StoreError):
    """No document with that id is indexed."""


class ReaderError(QAError):
    """A reader could not be loaded or run."""


class ModelNotFoundError(ReaderError):
    """A model or checkpoint is missing."""


class DatasetError(QAError):
    """A QA dataset is missing or not in SQuAD format."""


class QuestionError(QAError):
    """The question cannot be asked as given (e.g. empty)."""

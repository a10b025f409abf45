"""Text every loader hands on: safe for the store (`clean_text`) and titles fit to show (`clean_title`)."""

from __future__ import annotations

import re
import unicodedata

MAX_TITLE_CHARS = 300
# Lone surrogates (Chroma rejects them) and NUL; Python strings hold surrogates only when unpaired.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text safe for the store: NUL and lone surrogates removed, line ends normalised to \\n."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSTORABLE.sub("", text)


def clean_title(raw: object) -> str:
    """A title on one line: cleaned, without control or format characters, at most MAX_TITLE_CHARS."""
    if raw is None:
        return ""
    title = " ".join(clean_text(str(raw)).split())
    title = "".join(ch for ch in title if unicodedata.category(ch) not in ("Cc", "Cf"))
    return title[:MAX_TITLE_CHARS]

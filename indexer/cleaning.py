"""Text cleaning: HTML fragments to plain text, whitespace normalisation, and byte decoding with located failures."""

from __future__ import annotations

import re
import unicodedata

import lxml.html
from charset_normalizer import from_bytes

_BLOCK_TAGS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "section", "article"}
_HTML_HINT = re.compile(r"<\s*(p|div|br|span|a|strong|em|ul|li|h[1-6]|img|figure)\b", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def normalise_text(text: str) -> str:
    """NFC, no control characters, single spaces inside paragraphs, paragraphs separated by one blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub(" ", text).replace("\u00a0", " ")
    paragraphs = [re.sub(r"[ \t\f\v]+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(" ".join(line.strip() for line in p.split("\n") if line.strip()) for p in paragraphs if p)


def looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text))


def html_fragment_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a CMS body field), keeping paragraph breaks; scripts and styles dropped."""
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for bad in root.xpath(".//script|.//style|.//noscript"):
        bad.drop_tree()
    parts: list[str] = []

    def walk(node) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _BLOCK_TAGS:
            parts.append("\n\n")
        if node.text and isinstance(node.tag, str):  # a comment's text is not content
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if tag in _BLOCK_TAGS:
            parts.append("\n\n")

    walk(root)
    return normalise_text("".join(parts))


def clean_body(body: str) -> str:
    return normalise_text(html_fragment_to_text(body) if looks_like_html(body) else body)


class UndecodableBytes(ValueError):
    """The bytes are in no encoding we can identify."""


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """UTF-8 first, then a declared charset, then detection; raise UndecodableBytes when all fail."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    best = from_bytes(data).best()
    if best is None:
        raise UndecodableBytes("bytes are not UTF-8 and their encoding could not be detected")
    return str(best)


def shorten(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, before the word the limit falls in, with " …" when something was
    left out: an article's summary, a snippet's tail."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:") + " …"

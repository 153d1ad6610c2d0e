"""A national request's body as text (national-interface §1.1), for documents.read_json.

Every client sends UTF-8 but one helper: OH's `YBHttpRequest` (the Shanghai app's path)
writes the Windows code page, GBK on Chinese Windows, under a bare `application/json`. So:

- a charset named in Content-Type is honoured: GBK, GB2312 and CP936 are read as GB18030
  (their superset), any other Python knows as itself; one it does not know is refused,
  naming Content-Type;
- with none named, UTF-8 (a UTF-16 or UTF-32 body is recognised by its zero bytes, as the
  JSON reader always did); bytes that are not UTF-8 are read as GB18030, the only other
  encoding a source sends, and only when they are valid GB18030 throughout;
- bytes that are not text in the encoding so chosen are refused, naming the body and where
  the first bad byte is: never a guess past that.

UTF-8 is tried first, and a GBK body of Chinese text is almost never valid UTF-8 (its lead
bytes 0x81-0xFE are followed by bytes UTF-8 does not continue with), so the fallback does
not misread a UTF-8 client."""

import codecs
import json

from gongji.errors import InputError

CHINESE = {"gbk", "gb2312", "cp936", "gb18030", "936", "ms936", "windows-936", "x-gbk"}


def charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type, lowercased, unquoted; None if none."""
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'").lower() or None
    return None


def text(raw: bytes, content_type: str | None) -> str:
    named = charset(content_type)
    if named is not None:
        return _decode(raw, _codec(named), f"{named} (the Content-Type's charset)")
    found = json.detect_encoding(raw)
    if found not in ("utf-8", "utf-8-sig"):
        return _decode(raw, found, found.upper())
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _decode(raw, "gb18030", "UTF-8 or GB18030 (GBK)")


def _codec(named: str) -> str:
    if named in CHINESE:
        return "gb18030"
    try:
        return codecs.lookup(named).name
    except LookupError:
        raise InputError(
            "Content-Type", f"charset {named!r} is not one the service reads (UTF-8 or GBK)"
        ) from None


def _decode(raw: bytes, codec: str, said: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        raise InputError(
            "(body)", f"not {said} text: byte 0x{bad:02x} at {exc.start} (send UTF-8)"
        ) from None
    except LookupError:  # a codec that is not a text encoding (e.g. "hex")
        raise InputError("Content-Type", f"{said} is not a text encoding") from None

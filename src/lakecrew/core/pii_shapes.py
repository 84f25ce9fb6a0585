"""Value shapes of personal data in the region lakecrew serves (pure regexes, no I/O).

One set of detectors for the column classifier (`services/privacy/classify.py`, a whole value is
matched) and the shared redactor (`core/redact.py`, substrings of free text are replaced):

- phones: Nigeria (+234 / 234 / 0 + 7-9, 0-1 + 8 digits: ``0803 555 0199``), Ghana (+233 /
  0 + 2, 3, 5 + 8 digits: ``024 123 4567``), Sierra Leone (+232 / 0 + operator + 6 digits:
  ``076 123456``), Liberia (+231 / 0 + 77, 88, 55 + 7 digits: ``0770 123 456``) and any
  international number written with ``+`` or ``00`` and 8 to 14 digits;
- Nigerian NIN: exactly 11 digits (the NIMC publishes no checksum, so none is checked);
- Ghana Card PIN: ``GHA-#########-#``;
- e-mail addresses;
- dates (a date of birth when the column's name says so), GPS points (``6.5244, 3.3792``) and
  name-shaped values (``Aminata Kamara``) — evidence for a column, never redacted from text.

Free-text matching is bounded: a number inside a longer token (an id such as ``run-12345678901``,
a version, a path, a timestamp) is not a phone or a NIN.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# digits optionally grouped by one space, dot or dash
_G = r"[\s.-]?"

_PHONE_INTL = (
    r"\(?(?:\+|00)(?:234" + _G + r"\(?0?\)?" + _G + r"[1-9]\d(?:" + _G + r"\d){7,8}"  # Nigeria
    r"|233" + _G + r"\(?0?\)?" + _G + r"[235]\d(?:" + _G + r"\d){7}"  # Ghana
    r"|23[12]" + _G + r"\d(?:" + _G + r"\d){6,8}"  # Liberia, Sierra Leone
    r"|[1-9]\d{0,2}\)?" + _G + r"\(?\d{1,4}\)?(?:" + _G + r"\d){5,11})"  # elsewhere
)
# a national number written in groups the way West and Central Africa do: 699 85 56 68
_PHONE_GROUPED = r"[1-9]\d{1,2}(?:[ -]\d{2}){3}|[1-9]\d[ -]\d{3}(?:[ -]\d{2}){2}"
_PHONE_BARE_NG = r"234" + _G + r"[789][01]\d(?:" + _G + r"\d){7}"
_PHONE_DOMESTIC = (
    r"0[789][01]\d(?:" + _G + r"\d){7}|[789][01]\d{8}"  # Nigeria mobile (10 digits: lost its 0)
    r"|0[235]\d(?:" + _G + r"\d){7}"  # Ghana, 10 digits
    r"|0(?:77|88|55)\d" + _G + r"\d{3}" + _G + r"\d{3}"  # Liberia, 10 digits
    r"|0(?:25|3[0-4]|44|66|7[2-9]|8[08]|99)" + _G + r"\d{3}" + _G + r"\d{3}"  # Sierra Leone
)
PHONE = re.compile(rf"(?:{_PHONE_INTL}|{_PHONE_BARE_NG}|{_PHONE_DOMESTIC}|{_PHONE_GROUPED})")
_LIST = re.compile(r"\s*(?:/{1,2}|;|,)\s*")
NIN = re.compile(r"\d{11}")
GHANA_CARD = re.compile(r"GHA[\s-]?\d{9}[\s-]?\d", re.IGNORECASE)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
DATE = re.compile(
    r"(?:19|20)\d\d-[01]?\d-[0-3]?\d(?:[T ][\d:.]+Z?)?"
    r"|[0-3]?\d[/.-][01]?\d[/.-](?:19|20)\d\d"
    r"|[0-3]?\d[ -](?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[ -](?:19|20)\d\d",
    re.IGNORECASE,
)
GPS_PAIR = re.compile(r"[(\[]?-?\d{1,2}\.\d{4,}\s*[,; ]\s*-?\d{1,3}\.\d{4,}[)\]]?")
COORDINATE = re.compile(r"-?\d{1,3}\.\d{4,}")
PERSON_NAME = re.compile(r"[A-Z][a-z'’-]+(?: (?:[A-Z][a-z'’-]+|[A-Z]\.)){1,3}")

#: whole-value shapes, in the order they are tried (a phone wins over a NIN of the same digits)
VALUE_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", EMAIL),
    ("national_id", GHANA_CARD),
    ("phone", PHONE),
    ("national_id", NIN),
    ("geo", GPS_PAIR),
    ("date", DATE),
    ("name", PERSON_NAME),
)


def value_shape(value: str) -> str | None:
    """The shape a whole value has (`email`, `phone`, `national_id`, `geo`, `date`, `name`)."""
    v = value.strip()
    if not v or len(v) > 120:
        return None
    for shape, pattern in VALUE_SHAPES:
        if pattern.fullmatch(v):
            return shape
    parts = _LIST.split(v)  # "0803 555 0199 / 0805 555 0100": a list of numbers is a phone
    if len(parts) > 1 and all(PHONE.fullmatch(p) for p in parts):
        return "phone"
    return None


# In free text a match must stand alone: not glued to letters, digits or id punctuation.
_LEFT = r"(?<![\w/.:#=+-])"
_RIGHT = r"(?![\w/-]|\.\d)"
_TEXT_PII = re.compile(
    rf"(?P<email>{EMAIL.pattern})"
    rf"|{_LEFT}(?P<card>{GHANA_CARD.pattern}){_RIGHT}"
    rf"|(?<![\w/.:#=-])(?P<phone>{PHONE.pattern}){_RIGHT}"
    rf"|{_LEFT}(?P<nin>{NIN.pattern}){_RIGHT}",
    re.IGNORECASE,
)
_MAYBE = re.compile(r"@|\d{7}|\d[\s.-]\d{3}", re.ASCII)
# Candidate spans, found by one cheap scan; the detectors then run on each span only.
_CANDIDATE = re.compile(
    r"(?<![\w/.:#=+-])(?:GHA[\s-]?)?[+(]?\d[\d \t().-]{5,24}\d(?![\w/-]|\.\d)", re.IGNORECASE
)
_AT = re.compile(r"[\w.%+-]*@[\w.-]*")


def redact_pii_text(text: str, replace: Callable[[str], str]) -> str:
    """`text` with phones, NINs, Ghana Card PINs and e-mails replaced by `replace(match)`."""
    if not _MAYBE.search(text):
        return text  # the common case: nothing that could be personal data (one quick scan)

    def span(m: re.Match[str]) -> str:
        return _TEXT_PII.sub(lambda n: replace(n.group(0)), m.group(0))

    out = _CANDIDATE.sub(span, text)
    return _AT.sub(span, out) if "@" in out else out

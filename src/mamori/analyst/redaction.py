"""Redaction: personal data and secrets out before a prompt leaves, back in when the answer
returns.

A `Redactor` lives for one incident. It finds card numbers (Luhn-checked), IBANs
(mod-97-checked), bank account numbers, Japanese My Numbers (check digit), phone numbers
(Japanese and international), e-mail addresses, API keys and passwords in log text, values
the bank knows to be personal (customer names and addresses, account, card and customer
ids), and, in the ``internal_network`` class, internal IPv4 addresses and host names. Each
value becomes a token such as ``[CARD_1]``; the same value (ignoring spaces and dashes in
numbers) gets the same token everywhere in the incident, so the model can still reason about
"the same card", and `restore` puts the values back into the answer, locally.

Matching runs on a view of the text in which full-width digits, letters and punctuation
(``０９０－１２３４``) are mapped one to one onto ASCII, so Japanese text is covered and
spans still line up with the original.

>>> r = Redactor(known={"Sato Haruto": "NAME"})
>>> r.redact("Sato Haruto paid with 4111 1111 1111 1111, then 4111111111111111 again")
'[NAME_1] paid with [CARD_1], then [CARD_1] again'
>>> r.restore("Freeze [CARD_1] of [NAME_1]")
'Freeze 4111 1111 1111 1111 of Sato Haruto'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CLASS_OF", "Redactor", "Span", "iban_valid", "luhn_valid", "my_number_valid"]

#: The data class of each label (see `mamori.govern.policy.DATA_CLASSES`).
CLASS_OF = {
    "SECRET": "pii",
    "EMAIL": "pii",
    "IBAN": "pii",
    "CARD": "pii",
    "MYNUMBER": "pii",
    "PHONE": "pii",
    "ACCOUNT": "pii",
    "NAME": "pii",
    "ADDRESS": "pii",
    "CUSTOMER": "pii",
    "USER": "pii",
    "DEVICE": "pii",
    "IP": "internal_network",
    "HOST": "internal_network",
}

_FULL_WIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}
_VIEW = str.maketrans(
    {**_FULL_WIDTH, "\u3000": " ", "ー": "-", "‐": "-", "−": "-", "–": "-", "―": "-"}
)
_TOKEN = re.compile(r"\[([A-Z]+)_(\d+)\]")


@dataclass(frozen=True)
class Span:
    """A found value: where it is, and what it is."""

    start: int
    end: int
    label: str
    known_as: str | None = None  # for a known value: the form the bank holds it in


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a card number's digits.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def my_number_valid(digits: str) -> bool:
    """The check digit of a 12-digit Japanese individual number (My Number).

    >>> my_number_valid("123456789018"), my_number_valid("123456789012")
    (True, False)
    """
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = digits[:11]
    total = sum(int(body[10 - n]) * (n + 2 if n < 6 else n - 4) for n in range(11))
    remainder = total % 11
    check = 0 if remainder <= 1 else 11 - remainder
    return check == int(digits[11])


def iban_valid(compact: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN without spaces.

    >>> iban_valid("GB82WEST12345698765432"), iban_valid("GB82WEST12345698765433")
    (True, False)
    """
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _card(match: re.Match[str]) -> tuple[int, int] | None:
    """A card number (13-19 digits, compact or in the schemes' usual groups) that passes the
    Luhn check."""
    digits = _digits(match.group("v"))
    return match.span("v") if 13 <= len(digits) <= 19 and luhn_valid(digits) else None


def _iban(match: re.Match[str]) -> tuple[int, int] | None:
    raw = match.group(0)
    for end in range(len(raw), 14, -1):
        if raw[end - 1] == " ":
            continue
        if iban_valid(raw[:end].replace(" ", "")):
            return match.start(), match.start() + end
    return None


def _my_number(match: re.Match[str]) -> tuple[int, int] | None:
    ok = my_number_valid(_digits(match.group(0)))
    return (match.start(), match.end()) if ok else None


def _value(match: re.Match[str]) -> tuple[int, int] | None:
    return match.span("v")


def _whole(match: re.Match[str]) -> tuple[int, int] | None:
    return match.span()


def _phone(match: re.Match[str]) -> tuple[int, int] | None:
    """A phone number of 9-15 digits; a match that ran into a following number is cut back
    group by group."""
    raw = match.group(0)
    end = len(raw)
    while end > 0:
        digits = len(_digits(raw[:end]))
        if 9 <= digits <= 15:
            return match.start(), match.start() + end
        if digits < 9:
            return None
        cut = max(raw.rfind(" ", 0, end), raw.rfind("-", 0, end), raw.rfind(".", 0, end))
        if cut <= 0:
            return None
        end = cut
    return None


_SECRET_KEYS = (
    r"password|passwd|passwort|pwd|pass|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"secret[_-]?key|client[_-]?secret|auth[_-]?token|private[_-]?key|credentials?"
)

#: A secret's value: printable ASCII up to a quote, separator or space. Secret patterns are
#: lookaheads, so a value that runs into the next "password=" does not hide it.
_SECRET_VALUE = r"(?:(?![\"',;&}<>])[!-~]){3,}"
_A = r"(?<![A-Za-z0-9])"  # no Latin letter or digit before (Japanese text may touch a value)
_Z = r"(?![A-Za-z0-9])"
_NUM_A = r"(?<![\d.+-])"  # a number that does not continue another number
_NUM_Z = r"(?![\d-]|[.]\d)"

#: (label, pattern, how to accept a match) in priority order: earlier wins a tie.
_PATTERNS: list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], tuple[int, int] | None]]] = [
    (
        "SECRET",
        re.compile(
            rf"(?i)(?=(?<![A-Za-z])(?:{_SECRET_KEYS})[\"']?\s*[:=]\s*[\"']?(?P<v>{_SECRET_VALUE}))"
        ),
        _value,
    ),
    (
        "SECRET",
        re.compile(rf"(?=(?:パスワ.ド|暗証番号|合言葉)\s*(?:は|[:=])?\s*(?P<v>{_SECRET_VALUE}))"),
        _value,
    ),
    (
        "SECRET",
        re.compile(r"(?i)(?<![A-Za-z])(?:bearer|basic)\s+(?P<v>[A-Za-z0-9._~+/=-]{8,})"),
        _value,
    ),
    (
        "SECRET",
        re.compile(
            rf"(?i)(?=(?<![A-Za-z0-9-])(?:--?password|/p(?:assword)?)[ =:](?P<v>{_SECRET_VALUE}))"
        ),
        _value,
    ),
    ("SECRET", re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:(?P<v>[^@\s/]+)@"), _value),
    (
        "SECRET",
        re.compile(
            _A + r"(?:AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{16,}|"
            r"xox[abprs]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+|"
            r"AIza[0-9A-Za-z_-]{35})"
        ),
        _whole,
    ),
    (
        "EMAIL",
        re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
        _whole,
    ),
    ("IBAN", re.compile(_A + r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"), _iban),
    (
        "CARD",
        re.compile(
            r"(?=(?P<v>"
            + _NUM_A
            + r"(?:\d{13,19}|\d{4}([ -])\d{4}\2\d{4}\2\d{4}(?:\2\d{1,3})?"
            + r"|\d{4}([ -])\d{6}\3\d{4,5})"
            + _NUM_Z
            + "))"
        ),
        _card,
    ),
    (
        "MYNUMBER",
        re.compile(r"(?<!\d[ -])" + _NUM_A + r"\d{4}([ -]?)\d{4}\1\d{4}(?![ -]?\d)" + _NUM_Z),
        _my_number,
    ),
    (
        "ACCOUNT",
        re.compile(
            r"(?i)(?:口座番号|口座|account\s*(?:no\.?|number|#)|acct\.?(?:\s*no\.?)?|a/c)"
            r"\s*[:#]?\s*(?:普通|当座|savings|checking|ordinary)?\s*(?P<v>\d{6,12})(?!\d)"
        ),
        _value,
    ),
    ("ACCOUNT", re.compile(r"(?:普通|当座)(?:預金)?\s*(?P<v>\d{7})(?!\d)"), _value),
    ("ACCOUNT", re.compile(_NUM_A + r"\d{4}-\d{3}-\d{7}" + _NUM_Z), _whole),
    ("ACCOUNT", re.compile(_NUM_A + r"\d{4}-\d{7}" + _NUM_Z), _whole),
    (
        "PHONE",
        re.compile(
            r"(?<![A-Za-z0-9+])\+\d{1,3}[ .-]?(?:\(0?\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"
            + _NUM_Z
        ),
        _phone,
    ),
    ("PHONE", re.compile(_NUM_A + r"\(?0\d{1,4}\)?[ -]?\d{1,4}-\d{3,4}" + _NUM_Z), _phone),
    ("PHONE", re.compile(_NUM_A + r"0\d{9,10}" + _NUM_Z), _phone),
    (
        "IP",
        re.compile(
            _NUM_A
            + r"(?:10\.\d{1,3}|172\.(?:1[6-9]|2\d|3[01])|192\.168)\.\d{1,3}\.\d{1,3}"
            + r"(?!\d|\.\d)"
        ),
        _whole,
    ),
    (
        "HOST",
        re.compile(
            r"(?i)(?<![A-Za-z0-9.-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:corp|internal|intra|local|lan)"
            + _Z
        ),
        _whole,
    ),
]

_PRIORITY = {label: i for i, label in enumerate(CLASS_OF)}


def _merged(found: list[Span]) -> list[Span]:
    """Overlapping spans joined into one (redacting a little more rather than leaving a part
    of a value), labelled by the longest; in text order."""
    merged: list[Span] = []
    longest: list[Span] = []
    for span in sorted(found, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end - span.start > longest[-1].end - longest[-1].start:
                longest[-1] = span
            top = longest[-1]
            merged[-1] = Span(last.start, max(last.end, span.end), top.label, top.known_as)
        else:
            merged.append(span)
            longest.append(span)
    return merged


def _alternation(values: Iterable[str]) -> re.Pattern[str]:
    """One pattern for many known values, longest first. Values in Latin script must stand
    as whole words; values in Japanese (which has no spaces between words) need not."""

    def one(value: str) -> str:
        body = re.escape(value).replace(r"\ ", r"\s*")
        return rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])" if value.isascii() else body

    ordered = sorted(values, key=len, reverse=True)
    return re.compile("|".join(one(v) for v in ordered), re.IGNORECASE)


class Redactor:
    """Redact and restore the personal data of one incident.

    Parameters
    ----------
    classes:
        The data classes to redact (``pii``, ``internal_network``).
    known:
        Values the bank knows to be personal, with their label (``NAME``, ``ADDRESS``,
        ``CUSTOMER``, ``ACCOUNT``, ``CARD``, ``HOST`` …): matched case-insensitively; names
        also with the given and family name swapped.
    keep:
        Values never to redact (the incident's alert and event ids, which claims cite).
    """

    def __init__(
        self,
        classes: Iterable[str] = ("pii", "internal_network"),
        known: Mapping[str, str] | None = None,
        keep: Iterable[str] = (),
    ) -> None:
        self.classes = frozenset(classes)
        self.keep = frozenset(keep)
        self._known: dict[str, tuple[str, str]] = {}  # variant -> (label, value as held)
        self._known_re: re.Pattern[str] | None = None
        self._token_of: dict[tuple[str, str], str] = {}
        self._value_of: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        if known:
            self.add_known(known)

    def add_known(self, values: Mapping[str, str]) -> None:
        """Add known personal values (value -> label)."""
        for value, label in values.items():
            value = value.strip()
            if len(value) < 3 or CLASS_OF.get(label, "pii") not in self.classes:
                continue
            held = (label, value)
            self._known[value.translate(_VIEW).casefold()] = held
            if label == "NAME":
                parts = value.split()
                if len(parts) == 2:
                    self._known[f"{parts[1]} {parts[0]}".translate(_VIEW).casefold()] = held
                    self._known["".join(parts).translate(_VIEW).casefold()] = held
        self._known_re = None

    @property
    def tokens(self) -> dict[str, str]:
        """Token -> the value it stands for (first form seen)."""
        return dict(self._value_of)

    def spans(self, text: str) -> list[Span]:
        """The values to redact in `text`, without overlaps, in text order."""
        view = text.translate(_VIEW)
        found: list[Span] = []
        if self._known:
            if self._known_re is None:
                self._known_re = _alternation(self._known)
            for m in self._known_re.finditer(view):
                key = re.sub(r"\s+", " ", m.group(0)).casefold()
                label, held = self._known.get(key) or self._known.get(
                    key.replace(" ", ""), ("NAME", key)
                )
                found.append(Span(m.start(), m.end(), label, held))
        for label, pattern, accept in _PATTERNS:
            if CLASS_OF[label] not in self.classes:
                continue
            for m in pattern.finditer(view):
                span = accept(m)
                if (
                    span is not None
                    and span[1] > span[0]
                    and text[span[0] : span[1]] not in self.keep
                ):
                    found.append(Span(span[0], span[1], label))
        return _merged(found)

    def redact(self, text: str) -> str:
        """`text` with every found value replaced by its token."""
        if not text:
            return text
        pieces, last = [], 0
        for span in self.spans(text):
            pieces.append(text[last : span.start])
            pieces.append(self._token(span, text[span.start : span.end]))
            last = span.end
        pieces.append(text[last:])
        return "".join(pieces)

    def redact_value(self, value: Any) -> Any:
        """Redact every string inside JSON-like data (dict keys are left alone)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        return value

    def restore(self, text: str) -> str:
        """Put the values back for the tokens this redactor issued; other text is unchanged."""
        return _TOKEN.sub(lambda m: self._value_of.get(m.group(0), m.group(0)), text)

    def restore_value(self, value: Any) -> Any:
        """Restore every string inside JSON-like data."""
        if isinstance(value, str):
            return self.restore(value)
        if isinstance(value, dict):
            return {k: self.restore_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.restore_value(v) for v in value]
        return value

    def _token(self, span: Span, raw: str) -> str:
        label = span.label
        canonical = span.known_as or raw.translate(_VIEW).casefold()
        if label in ("CARD", "IBAN", "MYNUMBER", "PHONE", "ACCOUNT"):
            canonical = re.sub(r"[\s().-]", "", canonical)
        key = (label, canonical)
        token = self._token_of.get(key)
        if token is None:
            self._counts[label] = self._counts.get(label, 0) + 1
            token = f"[{label}_{self._counts[label]}]"
            self._token_of[key] = token
            self._value_of[token] = raw
        return token

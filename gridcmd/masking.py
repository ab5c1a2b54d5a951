"""Masking of personal data (phone and ID numbers) for display and API output.

Commanders need to tell households apart and to recognise a number they already know, not
to read it in full off a screen or an export, so only the ends of a number are kept. Every
function accepts anything (None, numbers, short or malformed strings) and never returns
more of the input than its rule allows: input too short to keep its ends safely is masked
entirely.
"""

import re

MASK = "*"

# A mainland mobile number: 11 digits starting with 1, optionally written with +86/86 and
# spaces or dashes ("+86 138-1234-5678").
_MOBILE = re.compile(r"(?:\+?86)?(1\d{10})")
_SEPARATORS = re.compile(r"[\s\-()]")


def _keep_ends(value: str, head: int, tail: int, min_length: int) -> str:
    if len(value) < min_length:
        return MASK * len(value)
    return value[:head] + MASK * (len(value) - head - tail) + value[len(value) - tail :]


def mask_phone(phone) -> str:
    """ "13812345678" -> "138****5678"; a landline such as "0776-2821234" keeps its first 3
    and last 2 characters ("077*******34")."""
    if phone is None:
        return ""
    text = str(phone).strip()
    if not text:
        return ""
    mobile = _MOBILE.fullmatch(_SEPARATORS.sub("", text))
    if mobile:
        number = mobile.group(1)
        return number[:3] + MASK * 4 + number[-4:]
    return _keep_ends(text, head=3, tail=2, min_length=7)


def mask_id_number(id_number) -> str:
    """ "45102419900101123X" -> "4510**********123X": the region prefix and the last four
    characters stay; the birth date and sequence are hidden."""
    if id_number is None:
        return ""
    text = str(id_number).strip().upper()
    if not text:
        return ""
    return _keep_ends(text, head=4, tail=4, min_length=12)

"""Validators for personal identifiers: mainland mobile numbers and 18-digit resident
identity numbers (GB 11643-1999, with its ISO 7064 MOD 11-2 check digit)."""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def normalize_mobile(value: str) -> str:
    digits = re.sub(r"[\s-]", "", str(value or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits


def validate_mobile(value: str) -> None:
    if not MOBILE_RE.match(normalize_mobile(value)):
        raise ValidationError(
            _("Not a mainland mobile number (11 digits starting 13–19)."), code="mobile"
        )


def id_check_digit(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def normalize_id_number(value: str) -> str:
    return str(value or "").strip().upper()


def validate_id_number(value: str) -> None:
    number = normalize_id_number(value)
    if not ID_RE.match(number):
        raise ValidationError(
            _("An identity number has 17 digits and a check digit (0–9 or X)."), code="id_format"
        )
    try:
        datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(
            _("The identity number's date of birth is not a real date."), code="id_birth"
        ) from None
    if id_check_digit(number[:17]) != number[17]:
        raise ValidationError(_("The identity number's check digit is wrong."), code="id_check")

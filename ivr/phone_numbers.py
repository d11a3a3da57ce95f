"""Numbers a caller keys in, read the way their own country writes them."""

from __future__ import annotations

import phonenumbers


def region_of(number: str) -> str:
    """The caller's region (US, TR...), from their own E.164 number; US if unknown."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "US"
    return phonenumbers.region_code_for_country_code(parsed.country_code or 1) or "US"


def keyed_number(digits: str, caller: str) -> str | None:
    """E.164 for digits keyed on a phone pad ("2125550123", "00905321234567",
    "05321234567"), read in the caller's region; None if it cannot be a phone number."""
    digits = "".join(ch for ch in digits if ch.isdigit())
    if len(digits) < 6:
        return None
    try:
        parsed = phonenumbers.parse(digits, region_of(caller))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

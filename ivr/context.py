"""What travels with the call to the person who answers: said aloud in the whisper."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flows.model import Flow
from flows.phrases import language_of
from ivr.privacy import HASH_PREFIX, MASK

_DAYS: dict[str, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "tr": ("Pazartesi", "Salı", "Çarşamba", "Perşembe", "Cuma", "Cumartesi", "Pazar"),
    "ar": ("الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
}


def spoken_number(number: str) -> str:
    """Digits one by one, so text-to-speech does not read 'fifteen billion...'."""
    return " ".join(ch for ch in number if ch.isdigit())


def spoken_caller(caller: str) -> str:
    """The caller's number for an agent's ear; a masked or hashed one is not read out."""
    if caller.startswith(HASH_PREFIX):
        return "a number kept private"
    if caller.endswith(MASK) and spoken_number(caller):
        return "a number starting " + spoken_number(caller)
    return spoken_number(caller) or "a withheld number"


def spoken_time(moment: datetime, timezone: str, locale: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    days = _DAYS.get(language_of(locale), _DAYS["en"])
    return f"{days[local.weekday()]} {local:%H:%M}"


def whisper(context: dict[str, Any], flow: Flow) -> str:
    """A short English briefing for the agent before the bridge."""
    parts = [f"Call for {flow.id} from {spoken_caller(context['caller'])}."]
    route = [n for n in context["path"] if n in flow.nodes]
    if route:
        parts.append("Path: " + ", ".join(route) + ".")
    for key, value in context["values"].items():
        parts.append(f"{key.replace('_', ' ')}: {value}.")
    if context["said"]:
        parts.append("They said: " + "; ".join(context["said"][-3:]) + ".")
    return " ".join(parts)

"""What a caller waiting in a queue hears: position, an honest estimate, never the same
sentence twice in a row, and a callback offer once the wait is long.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from flows.model import Flow
from flows.phrases import best_phrase, language_of
from ivr.ports import QueueHistory

HISTORY_WINDOW = timedelta(minutes=30)  # answers older than this say little about now

_PHRASINGS: dict[str, tuple[str, ...]] = {
    "en": (
        "You are number {position} in line. The wait is about {minutes}.",
        "Thanks for holding. {ahead} ahead of you; about {minutes} to go.",
        "Still here for you: you are now number {position}, roughly {minutes} left.",
        "A person will be with you soon. Position {position}, about {minutes}.",
    ),
    "es": (
        "Usted es el número {position} en la fila. La espera es de unos {minutes}.",
        "Gracias por esperar. {ahead} delante de usted; faltan unos {minutes}.",
        "Seguimos con usted: ahora es el número {position}, unos {minutes}.",
    ),
    "tr": (
        "Sırada {position}. sıradasınız. Tahmini bekleme süresi {minutes}.",
        "Beklediğiniz için teşekkürler. Önünüzde {ahead}; yaklaşık {minutes} kaldı.",
        "Hâlâ sizinleyiz: şimdi {position}. sıradasınız, yaklaşık {minutes}.",
    ),
    "ar": (
        "ترتيبك في الانتظار هو {position}. مدة الانتظار حوالي {minutes}.",
        "شكراً لانتظارك. أمامك {ahead}؛ تبقى حوالي {minutes}.",
        "ما زلنا معك: ترتيبك الآن {position}، حوالي {minutes}.",
    ),
}
_MINUTES = {
    "en": ("one minute", "{n} minutes"),
    "es": ("un minuto", "{n} minutos"),
    "tr": ("bir dakika", "{n} dakika"),
    "ar": ("دقيقة واحدة", "{n} دقائق"),
}
_AHEAD = {
    "en": ("no one is", "one caller is", "{n} callers are"),
    "es": ("nadie está", "una persona está", "{n} personas están"),
    "tr": ("kimse yok", "bir kişi var", "{n} kişi var"),
    "ar": ("لا أحد", "متصل واحد", "{n} متصلين"),
}
_OFFER = {
    "en": "To get a call back instead, press {digit} or say call me back. You keep your place.",
    "es": "Para que le devolvamos la llamada, pulse {digit}. Conserva su lugar.",
    "tr": "Sizi geri aramamız için {digit} tuşlayın. Sıranızı kaybetmezsiniz.",
    "ar": "لنعاود الاتصال بك بدلاً من الانتظار، اضغط {digit}. ستحتفظ بدورك.",
}
_MOVED = {
    "en": "Rather than keep you waiting longer, we will call you back. "
    "You keep your place. Goodbye.",
    "es": "Para no hacerle esperar más, le devolveremos la llamada. Conserva su lugar. Adiós.",
    "tr": "Sizi daha fazla bekletmemek için geri arayacağız. Sıranızı kaybetmezsiniz. İyi günler.",
    "ar": "حتى لا تنتظر أكثر، سنعاود الاتصال بك وستحتفظ بدورك. مع السلامة.",
}


@dataclass(frozen=True)
class WaitPlan:
    text: str
    estimate: float  # seconds
    offer_callback: bool
    callback_digit: str | None
    callback_phrases: tuple[str, ...]
    offer_text: str | None
    move_to_callback: bool  # past max_wait: leave the queue for a callback
    pause: float  # seconds until the next announcement


def seconds_per_answer(avg_queue_time: float, queue_size: int, default: float = 60.0) -> float:
    """How long the queue takes to answer one caller, from what Twilio reports right now:
    callers have waited `avg_queue_time` on average and stand, on average, halfway up a
    queue of `queue_size`. With nobody waiting there is no evidence: use the default."""
    if avg_queue_time <= 0 or queue_size <= 0:
        return default
    return max(10.0, avg_queue_time / ((queue_size + 1) / 2))


def seconds_per_answer_recently(
    history: QueueHistory, now: datetime, window: timedelta = HISTORY_WINDOW
) -> float | None:
    """How long the queue takes to answer one caller, from our own recent answers: the
    median time between two answers, each capped by how long the caller answered had
    waited (a gap longer than that wait is time the queue stood empty, not agents being
    busy). One answer alone: its wait. None without answers in the window."""
    recent = sorted((at, waited) for at, waited in history.answers if now - at <= window)
    if not recent:
        return None
    if len(recent) == 1:
        return max(10.0, recent[0][1])
    gaps = [
        min((at - before).total_seconds(), waited)
        for (before, _), (at, waited) in itertools.pairwise(recent)
    ]
    return max(10.0, statistics.median(gaps))


def callbacks_ahead(history: QueueHistory, joined_at: datetime) -> int:
    """Pending callbacks that keep a place in line before a caller who joined then."""
    return sum(1 for place in history.callbacks if place < joined_at)


def estimate_wait(position: int, per_answer: float) -> float:
    """Seconds until a person answers the caller at `position` (1 = next)."""
    return max(1, position) * per_answer


def wait_plan(
    flow: Flow,
    queue: str,
    *,
    position: int,
    waited: float,
    estimate: float,
    announcement: int,
    locale: str | None = None,
) -> WaitPlan:
    settings = flow.queue(queue)
    lang = language_of(locale or flow.locale)
    phrasings = _PHRASINGS.get(lang, _PHRASINGS["en"])
    one_minute, many_minutes = _MINUTES.get(lang, _MINUTES["en"])
    minutes = max(1, math.ceil(estimate / 60))
    nobody, one, many = _AHEAD.get(lang, _AHEAD["en"])
    ahead_n = max(0, position - 1)
    ahead = nobody if ahead_n == 0 else one if ahead_n == 1 else many.format(n=ahead_n)
    text = phrasings[announcement % len(phrasings)].format(
        position=max(1, position),
        minutes=one_minute if minutes == 1 else many_minutes.format(n=minutes),
        ahead=ahead[0].upper() + ahead[1:],
    )
    offer = settings.callback
    offer_now = offer is not None and estimate >= offer.offer_after
    offer_text = (
        _OFFER.get(lang, _OFFER["en"]).format(digit=offer.digit) if offer and offer_now else None
    )
    moved = settings.max_wait is not None and waited >= settings.max_wait
    return WaitPlan(
        text=_MOVED.get(lang, _MOVED["en"]) if moved else text,
        estimate=estimate,
        offer_callback=offer_now and not moved,
        callback_digit=offer.digit if offer else None,
        callback_phrases=tuple(offer.phrases) if offer else (),
        offer_text=offer_text,
        move_to_callback=moved,
        pause=settings.announce_every,
    )


def wants_callback(flow: Flow, queue: str, digits: str, speech: str, locale: str) -> bool:
    offer = flow.queue(queue).callback
    if offer is None:
        return False
    if digits:
        return digits.strip() == offer.digit
    return best_phrase(speech, offer.phrases, language_of(locale)) is not None

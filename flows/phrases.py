"""Escape phrases and the matching of spoken phrases, for every language we ship.

Matching is case-, accent- and punctuation-insensitive and finds a phrase inside a longer
utterance ("I want to talk to a real PERSON!"), word by word so that "personal" is not
"person". Turkish adds suffixes to words ("temsilciye"), so there a word matches when it
starts with the phrase's word; Arabic glues the article and some particles to the front
("الوكيل", "بموظف"), so there those are stripped before comparing.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence

BUILTIN_ESCAPE_PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "agent",
        "representative",
        "operator",
        "human",
        "person",
        "customer service",
        "real person",
        "speak to someone",
    ),
    "es": (
        "agente",
        "representante",
        "operador",
        "operadora",
        "persona",
        "humano",
        "servicio al cliente",
        "atencion al cliente",
    ),
    "tr": (
        "temsilci",
        "operatör",
        "müşteri temsilcisi",
        "müşteri hizmetleri",
        "insan",
        "yetkili",
    ),
    "ar": ("وكيل", "ممثل", "موظف", "خدمة العملاء", "شخص", "انسان"),
    "fr": ("agent", "conseiller", "opérateur", "opératrice", "service client", "humain"),
    "de": ("mitarbeiter", "berater", "kundendienst", "mensch", "agent"),
}

# The English words work everywhere: callers fall back to them whatever the menu's language.
_ALWAYS = BUILTIN_ESCAPE_PHRASES["en"][:6]

_ARABIC_PREFIXES = ("وبال", "فال", "بال", "وال", "لل", "ال", "و", "ب", "ل")
_ARABIC_FOLD = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None}
)


def language_of(locale: str) -> str:
    return locale.split("-")[0].lower()


def escape_phrases(locale: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The built-in phrases for a locale, English's, and the flow's own, without repeats."""
    return _escape_phrases(locale, tuple(extra))


@functools.lru_cache(maxsize=256)  # asked at every prompt and every answer; fixed per flow
def _escape_phrases(locale: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    lang = language_of(locale)
    seen: dict[str, str] = {}
    for phrase in (*BUILTIN_ESCAPE_PHRASES.get(lang, ()), *_ALWAYS, *extra):
        seen.setdefault(" ".join(words(phrase, lang)), phrase)
    return tuple(seen.values())


def words(text: str, language: str) -> list[str]:
    """Lower-case, accent-free words of a text, punctuation removed."""
    text = text.replace("İ", "i").replace("I", "ı" if language in ("tr", "az") else "i")
    text = unicodedata.normalize("NFKD", text.casefold())
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Mn":  # accents and Arabic short vowels
            continue
        kept.append(" " if cat[0] in "PSZC" else ch)
    folded = "".join(kept).replace("ı", "i")
    if language == "ar":
        folded = folded.translate(_ARABIC_FOLD)
    return folded.split()


def _word_matches(said: str, wanted: str, language: str) -> bool:
    if said == wanted:
        return True
    if language == "tr":
        return len(wanted) >= 4 and said.startswith(wanted)
    if language == "ar":
        return any(
            said.startswith(prefix) and said[len(prefix) :] == wanted for prefix in _ARABIC_PREFIXES
        )
    return False


def contains_phrase(utterance: str, phrase: str, language: str) -> bool:
    """Does the phrase occur, word for word, anywhere inside the utterance?"""
    said = words(utterance, language)
    wanted = words(phrase, language)
    if not wanted:
        return False
    for start in range(len(said) - len(wanted) + 1):
        if all(_word_matches(said[start + i], w, language) for i, w in enumerate(wanted)):
            return True
    return False


def best_phrase(utterance: str, phrases: Sequence[str], language: str) -> str | None:
    """The longest of `phrases` found in the utterance (most specific wins), if any."""
    found = [p for p in phrases if contains_phrase(utterance, p, language)]
    return max(found, key=lambda p: len(words(p, language))) if found else None


def same_phrase(a: str, b: str, language: str) -> bool:
    return words(a, language) == words(b, language)


_DIGIT_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    "tr": ("sifir", "bir", "iki", "uc", "dort", "bes", "alti", "yedi", "sekiz", "dokuz"),
    "ar": ("صفر", "واحد", "اثنين", "ثلاثه", "اربعه", "خمسه", "سته", "سبعه", "ثمانيه", "تسعه"),
}


def spoken_digit(utterance: str, language: str) -> str | None:
    """The one key a caller said instead of pressing it: "2", "Two.", "option two"."""
    said = words(utterance, language)
    names = [words(w, language)[0] for w in _DIGIT_WORDS.get(language, ())]
    names_en = [words(w, "en")[0] for w in _DIGIT_WORDS["en"]]
    found = {w for w in said if len(w) == 1 and w.isdigit()}
    for table in (names, names_en):
        found |= {str(table.index(w)) for w in said if w in table}
    return found.pop() if len(found) == 1 else None

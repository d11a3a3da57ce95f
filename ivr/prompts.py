"""Turn a flow prompt into the sentence the caller hears."""

from __future__ import annotations

from flows.model import VARIABLE_RE
from flows.phrases import language_of


def pick_locale(prompt: str | dict[str, str], locale: str) -> str:
    """The prompt's text for the call's locale: exact locale, then language, then first."""
    if isinstance(prompt, str):
        return prompt
    if locale in prompt:
        return prompt[locale]
    lang = language_of(locale)
    for key, text in prompt.items():
        if language_of(key) == lang:
            return text
    return next(iter(prompt.values()))


def render(prompt: str | dict[str, str], locale: str, variables: dict[str, str]) -> str:
    text = pick_locale(prompt, locale)
    return VARIABLE_RE.sub(lambda m: variables.get(m.group(1), ""), text)

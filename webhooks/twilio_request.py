"""A Twilio webhook request as Twilio sent it: every form parameter (blank ones too), the
public URL it called, and whether its signature holds."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    compare,
    get_signature_algorithm,
)

from webhooks.settings import Settings

# Twilio sends a few kB. The signature covers the whole body, so a larger request signed
# correctly must still be read whole (handlers bound each value); past this it is not Twilio.
MAX_BODY = 1_000_000
MAX_VALUE = 200  # numbers, sids, statuses: the database keeps at most this
# Longer ones: what the caller said or keyed (the handlers refuse far longer input) and
# the URL of a failed request, which carries the call's state.
FIELD_LIMITS = {"CallSid": 64, "SpeechResult": 10_000, "Digits": 10_000, "ErrorUrl": 10_000}
# Tabs and line breaks (a %09 in the path is one once decoded) vanish when a URL is parsed,
# so `request.url` has none: the URL rebuilt from the scope drops them too. (The query
# string comes as sent, where HTTP allows neither.)
_URL_DROPS = str.maketrans("", "", "\t\r\n")


class FormParams(ImmutableMultiDict[str, str]):
    """The form as sent. `RequestValidator` asks a multidict for `getall` first and
    falls back on AttributeError: raised for each of Twilio's twenty-odd parameters on
    every request, that cost more than the HMAC. It asks once per parameter, so the
    values of each are gathered once (`getlist` reads through them all every time)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self._values: dict[str, list[str]] = {}
        for key, value in pairs:
            self._values.setdefault(key, []).append(value)

    def getall(self, key: str) -> list[str]:
        return list(self._values.get(key, ()))


@dataclass(frozen=True)
class TwilioRequest:
    url: str  # the public URL Twilio called
    params: FormParams

    def get(self, name: str, default: str = "") -> str:
        """A parameter as the handlers may use it: without NUL characters and cut to what a
        Twilio value can be, so junk in a signed request cannot make the database refuse
        the call's events (the signature is checked on `params` as sent)."""
        value = self.params.get(name, default).replace("\x00", "")
        return value[: FIELD_LIMITS.get(name, MAX_VALUE)]


def public_url(request: Request, settings: Settings) -> str:
    """The URL as Twilio called it: rebuilt from IVR_PUBLIC_URL or the forwarded headers,
    never the internal address the proxy connected to."""
    if settings.public_url:
        # From the scope as `request.url` would write it, without building and parsing
        # the whole URL: this runs on every webhook.
        scope = request.scope
        path: str = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
        query: str = scope.get("query_string", b"").decode()
        path = path.translate(_URL_DROPS)
        return settings.public_url + path + (f"?{query}" if query else "")
    path_and_query = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    scheme = proto or request.url.scheme
    netloc = host or request.headers.get("host") or request.url.netloc
    return f"{scheme}://{netloc}{path_and_query}"


async def read(request: Request, settings: Settings) -> TwilioRequest:
    body = await request.body()
    text = body[:MAX_BODY].decode("utf-8", "replace")
    pairs = parse_qsl(text, keep_blank_values=True)
    return TwilioRequest(public_url(request, settings), FormParams(pairs))


def is_signed(request: Request, twilio: TwilioRequest, settings: Settings) -> bool:
    if settings.auth_token is None:
        return settings.insecure_dev
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        return False
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    validator = RequestValidator(settings.auth_token.get_secret_value())
    # Twilio signs the URL it called, which is the one rebuilt here: one HMAC settles
    # nearly every request. `validate` then also tries it with and without the port
    # (Twilio is not consistent there), two more HMACs that only a mismatch pays for.
    try:
        expected = validator.compute_signature(twilio.url, twilio.params, algorithm)
    except ValueError:  # an algorithm the library does not know: `validate` refuses it
        expected = ""
    if compare(expected, signature):
        return True
    return bool(validator.validate(twilio.url, twilio.params, signature, algorithm))

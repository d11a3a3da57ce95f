"""Server settings, read once from an injected environment mapping."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    auth_token: SecretStr | None = None
    public_url: str | None = None  # https://ivr.example.com: the base Twilio calls
    insecure_dev: bool = False  # accept unsigned requests (local experiments only)
    emergency_number: str | None = None  # dialed when no flow can be used at all
    emergency_queue: str = "support"
    # Who may read /api/*, the dashboard and /metrics (webhooks/access.py).
    api_keys: tuple[SecretStr, ...] = ()  # IVR_API_KEY: one key, or several comma-separated
    basic_auth: SecretStr | None = None  # IVR_BASIC_AUTH: user:password

    @field_validator("basic_auth")
    @classmethod
    def _user_and_password(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            user, _, password = value.get_secret_value().partition(":")
            if not user or not password:
                raise ValueError("IVR_BASIC_AUTH must be user:password")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> Settings:
        token = environ.get("TWILIO_AUTH_TOKEN") or None
        values: dict[str, object] = {
            "auth_token": SecretStr(token) if token else None,
            "public_url": (environ.get("IVR_PUBLIC_URL") or "").rstrip("/") or None,
            "insecure_dev": environ.get("IVR_INSECURE_DEV", "") in ("1", "true", "yes"),
            "emergency_number": environ.get("IVR_EMERGENCY_NUMBER") or None,
            "api_keys": _secrets(environ.get("IVR_API_KEY", "")),
            "basic_auth": SecretStr(environ["IVR_BASIC_AUTH"])
            if environ.get("IVR_BASIC_AUTH")
            else None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        if isinstance(values["api_keys"], str):  # --api-key on the command line
            values["api_keys"] = _secrets(values["api_keys"])
        return cls.model_validate(values)


def _secrets(text: str) -> tuple[SecretStr, ...]:
    """Comma-separated keys, so a new key can be rolled out before the old one is dropped."""
    return tuple(SecretStr(k.strip()) for k in text.split(",") if k.strip())

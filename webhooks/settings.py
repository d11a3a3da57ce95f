"""Server settings, read once from an injected environment mapping."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, SecretStr


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    auth_token: SecretStr | None = None
    public_url: str | None = None  # https://ivr.example.com: the base Twilio calls
    insecure_dev: bool = False  # accept unsigned requests (local experiments only)
    emergency_number: str | None = None  # dialed when no flow can be used at all
    emergency_queue: str = "support"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: object) -> Settings:
        token = environ.get("TWILIO_AUTH_TOKEN") or None
        values: dict[str, object] = {
            "auth_token": SecretStr(token) if token else None,
            "public_url": (environ.get("IVR_PUBLIC_URL") or "").rstrip("/") or None,
            "insecure_dev": environ.get("IVR_INSECURE_DEV", "") in ("1", "true", "yes"),
            "emergency_number": environ.get("IVR_EMERGENCY_NUMBER") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

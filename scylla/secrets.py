"""Keep secrets out of every artifact: API keys and tokens found in the environment are redacted."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

_SECRET_NAME = re.compile(r"(_API_KEY|API_KEY$|_KEY$|^KEY$|_TOKEN$|^TOKEN$|_SECRET|PASSWORD|_AUTH_TOKEN)", re.IGNORECASE)
MASK = "[REDACTED]"


def is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-looking variables, longest first (so overlapping values redact fully)."""
    env = os.environ if env is None else env
    values = {v for k, v in env.items() if is_secret(k) and len(v) >= 8}
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def redact_bytes(data: bytes, secrets: list[str]) -> bytes:
    for value in secrets:
        data = data.replace(value.encode(), MASK.encode())
    return data


def safe_env(env: dict) -> dict:
    """An environment listing for logs: secret variables shown by name only."""
    return {k: (MASK if is_secret(k) else v) for k, v in sorted(env.items())}


BASE_NAMES = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "USER", "LOGNAME", "SHELL")


def base_env(environ: Mapping[str, str] | None = None) -> dict:
    """The minimal environment a tool gets: locale, PATH, user, and the caller's non-secret SCYLLA_*."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items()
            if k in BASE_NAMES or k.startswith("LC_") or (k.startswith("SCYLLA_") and not is_secret(k))}

"""Keep secrets out of every artifact and out of every environment that is not theirs.

Redaction: the values of secret-looking variables (by name) and of every variable the experiment
configures as a key (whatever its name: adapters.key_variables) are masked in whatever Scylla writes.
Hygiene: a tool starts from `base_env` (no key, no HOME) and gets only what it needs on top.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

# names of secret-looking variables (a configured key needs no such name: pass its name to secret_values)
_SECRET_NAME = re.compile(r"(API_?KEY|_KEY$|^KEY$|_KEY_|_TOKEN$|^TOKEN$|_TOKEN_|_SECRET|^SECRET|PASSWORD|PASSWD"
                          r"|CREDENTIAL|PRIVATE_KEY|_PAT$)", re.IGNORECASE)
MASK = "[REDACTED]"
MIN_LENGTH = 8          # shorter values are not masked: "1" or "true" would mask every digit or word
# what every tool gets from the caller: how to find programs, the locale, the terminal, who runs it
BASE = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM", "USER", "LOGNAME", "SHELL")
BASE_PREFIXES = ("LC_",)
# where $SCYLLA_PYTHON finds its packages (the tools' versions recorded are those of the packages it imports)
PYTHON = ("PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "PYTHONUSERBASE", "VIRTUAL_ENV")
# what a program needs to reach a model endpoint from this host: proxies and certificate bundles
NETWORK = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy", "no_proxy",
           "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


def is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def base_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment every tool starts from: BASE, the locale (LC_*) and the caller's SCYLLA_*
    variables that are not secret-named (Scylla's own namespace: tests steer scripted agents with them).
    No HOME: the caller decides it. No key: each tool adds only its own."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items()
            if k in BASE or k.startswith(BASE_PREFIXES) or (k.startswith("SCYLLA_") and not is_secret(k))}


def passed(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables `names` (or `PREFIX_*` patterns) that the environment (the caller's by default) sets,
    as they are."""
    environ = os.environ if environ is None else environ
    names = tuple(names)
    prefixes = tuple(n[:-1] for n in names if n.endswith("*"))
    return {k: v for k, v in environ.items() if k in names or (prefixes and k.startswith(prefixes))}


def secret_values(env: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> list[str]:
    """Values to mask: those of secret-looking variables of `env` (the caller's environment by default)
    and of the variables `names` (the keys the experiment configures), longest first (so overlapping
    values redact fully)."""
    env = os.environ if env is None else env
    named = set(names)
    values = {v for k, v in env.items() if (k in named or is_secret(k)) and len(v) >= MIN_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


def redact_bytes(data: bytes, secrets: list[str]) -> bytes:
    for value in secrets:
        data = data.replace(value.encode(), MASK.encode())
    return data


def safe_env(env: Mapping[str, str], names: Iterable[str] = ()) -> dict[str, str]:
    """An environment listing for logs: secret variables (and those `names`) shown by name only."""
    named = set(names)
    return {k: (MASK if k in named or is_secret(k) else v) for k, v in sorted(env.items())}

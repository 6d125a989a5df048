"""One redaction for everything the project writes: logs, evidence, reports, tracker payloads.

Secrets are recognised by shape (``nvapi-``, ``hf_``, ``ghp_``, ``AKIA``..., ``sk-``, ``xoxb-``,
bearer tokens, JWTs, private-key blocks), by place (presigned-URL signature parameters, the
password in ``user:pass@host``) and by name (the value after ``api_key=``, ``token:``,
``"password": ...``). A name that merely ends in ``key`` (``epochs_key: train.num_epochs``) only
counts when its value looks random, so spec keys and YAML comments survive redaction intact.

Every function here is pure: it never logs, stores or returns an unmasked value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MASK", "SecretFinding", "find_secrets", "is_secret_name", "redact", "redact_obj"]

MASK = "***"

# Values that are obviously not secrets: masks, placeholders, variable references, booleans, and
# what code and docs put after a secret's name (type hints, attribute paths, snake_case names).
_PLACEHOLDER = re.compile(
    r"""^(?:\*+|<[^>]*>|\$\{?[A-Za-z_]\w*\}?|\$\([^)]*\)|\.\.\.|x+|X+|null|none|None|nil|true|false|True|False
    |SET|UNSET|REDACTED|\[REDACTED\]|changeme|dummy
    |str|int|bool|float|bytes|dict|list|Any|Optional|SecretStr
    |[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+           # an env var *name* (api_key_env: HF_TOKEN)
    |[a-z]+(?:_[a-z]+)+                      # a snake_case identifier (token = access_token)
    |[A-Za-z_]+(?:\.[A-Za-z_]+)+             # an attribute path without digits (self.token)
    )$""",
    re.VERBOSE,
)
_RANDOM_CHARS = re.compile(r"^[A-Za-z0-9+/=_\-]+$")

# A name that holds a secret by definition; ``key`` alone needs a random-looking value too.
_SECRET_SUFFIX = r"(?:api[_-]?key|apikey|token|secret|password|passwd|pwd|passphrase|credentials?|key)"
_STRONG_WORDS = re.compile(r"(?i)token|secret|passw|pwd|passphrase|credential|api[_-]?key|apikey|auth|private")
_NAME_VALUE = re.compile(
    r"""(?ix)
    (?P<name>(?<![\w.-])[\w.-]*?"""
    + _SECRET_SUFFIX
    + r""")(?![\w.-])
    (?P<sep>["']?\s*[=:]\s*)(?!=)
    (?P<value>"[^"\n]*"|'[^'\n]*'|<[^>\n]*>|[^\s"',;&(){}\[\]`=][^\s"',;&(){}\[\]`]*)
    """
)


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    group: int | str = 0  # which group holds the secret
    keep: int = 0  # leading characters shown before the mask (``nvapi-***``) so a reader knows what leaked


# Ordered: place-based rules first (a presigned URL's credential parameter before the AKIA rule).
_RULES: tuple[_Rule, ...] = (
    _Rule(
        "presigned_url",
        re.compile(
            r"(?i)([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|X-Goog-Signature|X-Goog-Credential"
            r"|Signature|sig|AWSAccessKeyId|access_token|token)=)([^&\s\"'#<>]+)"
        ),
        2,
    ),
    _Rule("url_password", re.compile(r"(?i)((?<![a-z0-9+.\-])[a-z][a-z0-9+.\-]*://[^/\s:@]+:)([^@\s/]+)(@)"), 2),
    _Rule(
        "private_key",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|(?=\n?\Z))"),
    ),
    _Rule("authorization", re.compile(r"(?i)\b(authorization\s*[=:]\s*(?:bearer|basic|token)?\s*)(\S+)"), 2),
    _Rule("bearer_token", re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=\-]{8,})"), 2),
    _Rule("nvidia_api_key", re.compile(r"\bnvapi-[A-Za-z0-9_\-]{10,}"), keep=6),
    _Rule("huggingface_token", re.compile(r"\bhf_[A-Za-z0-9]{16,}"), keep=3),
    _Rule("github_token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), keep=11),
    _Rule("github_token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), keep=4),
    _Rule("gitlab_token", re.compile(r"\bglpat-[A-Za-z0-9_\-]{16,}"), keep=6),
    _Rule("aws_access_key_id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), keep=4),
    _Rule("openai_key", re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"), keep=3),
    _Rule("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), keep=5),
    _Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")),
)


def _unquote(value: str) -> tuple[str, str]:
    """``'"abc"'`` -> (``abc``, ``"``): the bare value and the quote to put back around the mask."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1], value[0]
    return value, ""


def _looks_random(value: str) -> bool:
    """True for a token-like value (``a8Fk2...``), false for words, paths and dotted spec keys."""
    if len(value) < 8 or not _RANDOM_CHARS.match(value):
        return False
    has_letter = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    return (has_letter and has_digit) or len(value) >= 24


def is_secret_name(name: str) -> bool:
    """True when a field or variable called ``name`` holds a secret whatever its value looks like."""
    lowered = name.lower()
    return bool(re.search(_SECRET_SUFFIX + r"$", lowered)) and bool(_STRONG_WORDS.search(lowered))


def _is_key_name(name: str) -> bool:
    return bool(re.search(_SECRET_SUFFIX + r"$", name.lower()))


def _value_is_secret(name: str, value: str) -> bool:
    bare, _ = _unquote(value)
    if not bare or _PLACEHOLDER.match(bare) or MASK in bare or bare.lower() == name.lower().split(".")[-1]:
        return False
    return is_secret_name(name) or _looks_random(bare)


def _is_code_or_prose(match: re.Match[str]) -> bool:
    """``key = split(x)``, ``token = env[k]`` or ``token: Refuse to submit`` is not a value at all."""
    rest = match.string[match.end("value") :]
    value = match.group("value")
    words = re.fullmatch(r"[A-Za-z][A-Za-z/\-]*", value) is not None
    return rest[:1] in ("(", "[") or (words and re.match(r" [A-Za-z]", rest) is not None)


def _sub_named(text: str, on_hit: Callable[[str, int], None] | None = None) -> str:
    def replace(match: re.Match[str]) -> str:
        name, value = match.group("name"), match.group("value")
        if not _value_is_secret(name, value) or _is_code_or_prose(match):
            return match.group(0)
        if on_hit is not None:
            on_hit(f"named_secret:{name}", match.start("value"))
        _, quote = _unquote(value)
        return f"{name}{match.group('sep')}{quote}{MASK}{quote}"

    return _NAME_VALUE.sub(replace, text)


def _apply(text: str, on_hit: Callable[[str, int], None] | None = None) -> str:
    for rule in _RULES:

        def replace(match: re.Match[str], rule: _Rule = rule) -> str:
            if on_hit is not None:
                on_hit(rule.kind, match.start(rule.group))
            if rule.group == 0:
                return match.group(0)[: rule.keep] + MASK
            whole, start, end = match.group(0), match.start(rule.group), match.end(rule.group)
            offset = match.start(0)
            return whole[: start - offset] + MASK + whole[end - offset :]

        text = rule.pattern.sub(replace, text)
    return _sub_named(text, on_hit)


def redact(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``***`` (a known prefix such as ``nvapi-`` is kept)."""
    if not text:
        return text
    return _apply(text)


def redact_obj(obj: Any) -> Any:
    """A copy of a JSON-like payload (dicts, lists, strings) safe to write or send to a tracker.

    A value under a secret-holding key (``api_key``, ``HF_TOKEN``, ``password``...) is masked
    whole whatever its type; every other string is passed through :func:`redact`.
    """
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Mapping):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            name = str(key)
            if isinstance(value, str | int | float) and not isinstance(value, bool) and _is_key_name(name):
                text = str(value)
                out[key] = MASK if _value_is_secret(name, text) else redact_obj(value)
            else:
                out[key] = redact_obj(value)
        return out
    if isinstance(obj, list | tuple):
        return type(obj)(redact_obj(item) for item in obj)
    return obj


@dataclass(frozen=True)
class SecretFinding:
    """One secret-looking value: where it is and what kind; ``excerpt`` is the line, redacted."""

    line: int
    column: int
    kind: str
    excerpt: str


def find_secrets(text: str) -> list[SecretFinding]:
    """Every secret-looking value in ``text``, line by line (for lint); values never leave masked."""
    findings: list[SecretFinding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        hits: list[tuple[str, int]] = []
        masked = _apply(line, lambda kind, column, hits=hits: hits.append((kind, column)))
        findings += [SecretFinding(number, column + 1, kind, masked.strip()[:300]) for kind, column in hits]
    return findings

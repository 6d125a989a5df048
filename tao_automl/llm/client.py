"""One chat completion through the official ``openai`` client, against any OpenAI-compatible endpoint.

The endpoint comes from settings (``llm_endpoint``, ``llm_model``, ``llm_api_key``), else from the
``AUTOML_LLM_ENDPOINT``/``AUTOML_LLM_MODEL``/``AUTOML_LLM_API_KEY`` environment variables. The key
is handed to the client and nowhere else: records only say whether one is set.

The client's own retries are off (``max_retries=0``): the calling algorithm retries itself so that
every attempt is counted and logged, and a retry after a malformed answer can tell the model what
was wrong.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tao_automl.errors import ConfigurationError
from tao_automl.llm.records import CallOutcome, Usage
from tao_automl.settings import AutoMLSettings

ENV_ENDPOINT = "AUTOML_LLM_ENDPOINT"
ENV_MODEL = "AUTOML_LLM_MODEL"
ENV_API_KEY = "AUTOML_LLM_API_KEY"
#: Sent when no key is configured: local servers need none, and the client must not pick up
#: OPENAI_API_KEY on its own (that would send a key the user never gave this tool).
_NO_KEY = "no-key-configured"
_RESPONSE_CHARS = 4000


@dataclass(frozen=True)
class Endpoint:
    """Where to send chat completions. ``api_key`` is never persisted or printed."""

    base_url: str
    model: str
    api_key: str | None
    key_source: str | None

    def public(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": self.model, "api_key_set": self.api_key is not None}


def resolve_endpoint(settings: AutoMLSettings, algorithm: str) -> Endpoint:
    """Settings first, then the environment; a missing endpoint or model is a ConfigurationError."""
    base_url = settings.llm_endpoint or os.environ.get(ENV_ENDPOINT) or None
    model = settings.llm_model or os.environ.get(ENV_MODEL) or None
    for value, name, env in ((base_url, "llm_endpoint", ENV_ENDPOINT), (model, "llm_model", ENV_MODEL)):
        if not value:
            raise ConfigurationError(
                f"the '{algorithm}' algorithm needs an OpenAI-compatible endpoint and model",
                field=f"automl_settings.{name}",
                hint=f"set {name} (alias {'base_url' if name == 'llm_endpoint' else 'model'}) or the {env} variable",
            )
    if settings.llm_api_key is not None:
        key, source = settings.llm_api_key.get_secret_value(), "settings"
    elif os.environ.get(ENV_API_KEY):
        key, source = os.environ[ENV_API_KEY], ENV_API_KEY
    else:
        key, source = None, None
    return Endpoint(str(base_url), str(model), key, source)


@dataclass(frozen=True)
class ChatResult:
    """The outcome of one attempt: text on success, else an error class and message."""

    outcome: CallOutcome
    text: str | None
    error: str | None
    latency_s: float
    usage: Usage


def _load_openai() -> ModuleType:
    """The ``openai`` package, imported only by the LLM algorithms: it is the ``llm`` extra's."""
    try:
        import openai
    except ImportError:
        raise ConfigurationError(
            "the LLM-guided algorithms (llm, hybrid, autoresearch) need the openai client, which is not installed",
            field="algorithm",
            hint="pip install 'tao-automl[llm]' (or add ,llm to the wheels.tao_automl_<platform> key)",
        ) from None
    return openai


class LLMClient:
    """Chat completions with a timeout, JSON mode and per-attempt outcomes (no hidden retries)."""

    def __init__(self, endpoint: Endpoint, settings: AutoMLSettings, *, backoff_s: float = 0.5) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.backoff_s = backoff_s
        self._openai = openai = _load_openai()
        self._client = openai.OpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key or _NO_KEY,
            timeout=settings.llm_timeout,
            max_retries=0,
        )

    def chat(self, messages: list[dict[str, str]], schema: dict[str, Any], attempt: int = 0) -> ChatResult:
        """One request. Transport failures after the first attempt wait a short, growing backoff first."""
        if attempt:
            time.sleep(min(self.backoff_s * 2 ** (attempt - 1), 8.0))
        kwargs: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": messages,
            "temperature": self.settings.llm_temperature,
            "max_tokens": self.settings.llm_max_tokens,
        }
        mode = self.settings.llm_json_mode
        if mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        elif mode == "json_object_schema":  # llama-cpp-python's server: a grammar built from the schema
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        elif mode == "json_schema":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": True},
            }
        start = time.monotonic()
        openai = self._openai
        try:
            response = self._client.chat.completions.create(**kwargs)
        except openai.APITimeoutError:
            return self._failed("timeout", f"no answer within llm_timeout={self.settings.llm_timeout:g}s", start)
        except openai.APIStatusError as exc:
            return self._failed("http_error", f"HTTP {exc.status_code}: {_short(exc.message)}", start)
        except openai.APIConnectionError as exc:
            return self._failed("connection_error", _short(str(exc)), start)
        except openai.OpenAIError as exc:
            return self._failed("bad_response", f"{type(exc).__name__}: {_short(str(exc))}", start)
        latency = time.monotonic() - start
        usage = Usage()
        if response.usage is not None:
            usage = Usage(
                prompt_tokens=response.usage.prompt_tokens or 0,
                completion_tokens=response.usage.completion_tokens or 0,
            )
        choices = getattr(response, "choices", None) or []
        text = choices[0].message.content if choices and choices[0].message else None
        if not text:
            return ChatResult("bad_response", None, "the answer had no message content", latency, usage)
        return ChatResult("ok", text[:_RESPONSE_CHARS], None, latency, usage)

    @staticmethod
    def _failed(outcome: CallOutcome, error: str, start: float) -> ChatResult:
        return ChatResult(outcome, None, error, time.monotonic() - start, Usage())


def parse_json_answer(text: str) -> dict[str, Any]:
    """The JSON object in an answer; a fenced block or prose around one object is tolerated.

    Raises:
        ValueError: no JSON object could be read.
    """
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped[stripped.find("{") :] if "{" in stripped else stripped
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        start, end = stripped.find("{"), stripped.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("the answer is not JSON") from None
        try:
            data = json.loads(stripped[start : end + 1])
        except json.JSONDecodeError as exc:
            raise ValueError(f"the answer is not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(data, dict):
        raise ValueError(f"the answer must be a JSON object, got {type(data).__name__}")
    return data


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."

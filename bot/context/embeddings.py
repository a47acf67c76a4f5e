"""Optional dense embeddings through LanceDB's embedding-function registry.

Dense vectors are off by default: full-text search needs no model and no network.
Turn them on with a spec ``"<provider>:<model>"`` (setting ``index_embeddings``):

- ``sentence-transformers:all-MiniLM-L6-v2`` - a local model (needs the
  sentence-transformers package and the weights on disk),
- ``openai:text-embedding-3-small`` - OpenAI (``OPENAI_API_KEY``),
- ``ollama:nomic-embed-text`` - a local Ollama server.

Any other name registered with :func:`lancedb.embeddings.register` also works.
"""

from __future__ import annotations

from typing import Protocol

from bot.errors import ConfigError, ModelError


class Embedder(Protocol):
    """Turns text into fixed-size vectors."""

    dimensions: int

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors for indexed texts, one per text."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The vector for a search query."""
        ...


class RegistryEmbedder:
    """An :class:`Embedder` backed by a LanceDB registry embedding function.

    Args:
        spec: ``"<provider>:<model>"``.

    Raises:
        ConfigError: The spec is malformed or names an unknown provider.
    """

    def __init__(self, spec: str) -> None:
        from lancedb.embeddings import get_registry

        provider, sep, model = spec.partition(":")
        if not sep or not provider or not model:
            raise ConfigError(f"embeddings spec {spec!r}: expected '<provider>:<model>'")
        try:
            factory = get_registry().get(provider)
        except KeyError as exc:
            raise ConfigError(f"embeddings spec {spec!r}: unknown provider {provider!r}") from exc
        self.spec = spec
        try:
            self._func = factory.create(name=model)
            self.dimensions = int(self._func.ndims())
        except (ImportError, OSError, ValueError, RuntimeError) as exc:
            raise ModelError(
                f"loading embedding model {spec}: {exc}", provider=provider, model=model
            ) from exc

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors for indexed texts."""
        return [list(map(float, v)) for v in self._func.compute_source_embeddings(texts)]

    def embed_query(self, text: str) -> list[float]:
        """The vector for one query."""
        return list(map(float, self._func.compute_query_embeddings(text)[0]))


def make_embedder(spec: str | None) -> Embedder | None:
    """An embedder for a spec, or None when dense vectors are off (``None``/``""``/``none``)."""
    if not spec or spec.strip().lower() == "none":
        return None
    return RegistryEmbedder(spec.strip())

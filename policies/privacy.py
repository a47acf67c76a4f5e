"""Privacy policy: is this work sensitive, and which routes may it use?

Work is sensitive when the repository says so (``privacy.all_sensitive``), when the
repository matches ``privacy.sensitive_repos``, when the issue or MR carries a label in
``privacy.sensitive_labels``, or when it touches a path matching
``privacy.sensitive_paths``. Sensitive work may only use routes whose provider is
marked ``local``; with none configured it is refused — never sent to a cloud model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from bot.errors import PrivacyViolation
from bot.repoconfig.models import PrivacyConfig, ProviderConfig, RouteConfig


@dataclass(frozen=True)
class Sensitivity:
    """Whether work is sensitive, and why.

    Attributes:
        sensitive: Local models only.
        reasons: Human-readable reasons (``label 'sensitive'``, ``path secrets/a.pem``).
    """

    sensitive: bool
    reasons: tuple[str, ...] = ()


NOT_SENSITIVE = Sensitivity(False)


def _path_matches(path: str, pattern: str) -> bool:
    path = path.lstrip("/")
    if pattern.endswith("/"):
        return path.startswith(pattern.lstrip("/"))
    return fnmatchcase(path, pattern.lstrip("/"))


def classify(
    config: PrivacyConfig,
    *,
    repo: str | None = None,
    labels: Iterable[str] = (),
    paths: Iterable[str] = (),
) -> Sensitivity:
    """Decide whether work on ``repo`` with these labels and paths is sensitive."""
    reasons: list[str] = []
    if config.all_sensitive:
        reasons.append("privacy.all_sensitive is set")
    if repo is not None:
        for pattern in config.sensitive_repos:
            if fnmatchcase(repo.lower(), pattern.lower()):
                reasons.append(f"repository {repo} matches {pattern!r}")
                break
    wanted = {label.strip().lower() for label in config.sensitive_labels}
    for label in labels:
        if label.strip().lower() in wanted:
            reasons.append(f"label {label!r}")
    for path in paths:
        for pattern in config.sensitive_paths:
            if _path_matches(path, pattern):
                reasons.append(f"path {path} matches {pattern!r}")
                break
    return Sensitivity(bool(reasons), tuple(reasons))


def allowed_routes(
    sensitivity: Sensitivity,
    routes: list[RouteConfig],
    providers: Mapping[str, ProviderConfig],
    *,
    role: str,
) -> list[RouteConfig]:
    """The routes this work may use, in order.

    Raises:
        PrivacyViolation: The work is sensitive and no route is on a local provider.
    """
    if not sensitivity.sensitive:
        return list(routes)
    local = [r for r in routes if (p := providers.get(r.provider)) is not None and p.local]
    if not local:
        why = "; ".join(sensitivity.reasons)
        raise PrivacyViolation(
            f"this work is sensitive ({why}) and may only use a local model, but role "
            f"{role} has no route on a local provider. Add one under models.routes.{role} "
            f"in .agentforge/config.yaml (e.g. provider: ollama, with local: true and its "
            f"base_url); it will not be sent to a cloud model."
        )
    return local

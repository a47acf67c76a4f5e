"""Web addresses of issues and merge requests on the forge a run belongs to.

Built from the server's settings (``github_url`` is the API address, ``gitlab_url`` the
instance), so GitHub Enterprise and self-hosted GitLab get the right host. The local
forge has no web pages, so its runs get no links.
"""

from __future__ import annotations

from urllib.parse import quote

from bot.settings import Settings


def web_base(settings: Settings, forge: str) -> str | None:
    """The forge's web root (``https://github.com``), or None when it has none."""
    if forge == "github":
        api = settings.github_url.rstrip("/")
        if api == "https://api.github.com":
            return "https://github.com"
        # GitHub Enterprise Server: https://host/api/v3 is the API of https://host
        return api.removesuffix("/api/v3")
    if forge == "gitlab":
        return settings.gitlab_url.rstrip("/")
    return None


def issue_url(settings: Settings, forge: str, repo: str, number: int | None) -> str | None:
    """The issue's page, or None."""
    base = web_base(settings, forge)
    if base is None or number is None:
        return None
    middle = "issues" if forge == "github" else "-/issues"
    return f"{base}/{quote(repo)}/{middle}/{int(number)}"


def mr_url(settings: Settings, forge: str, repo: str, number: int | None) -> str | None:
    """The merge (pull) request's page, or None."""
    base = web_base(settings, forge)
    if base is None or number is None:
        return None
    middle = "pull" if forge == "github" else "-/merge_requests"
    return f"{base}/{quote(repo)}/{middle}/{int(number)}"

"""Process settings: one object, read from ``AGENTFORGE_*`` variables and an optional file.

Settings are passed explicitly to whatever needs them; there is no global instance,
so one repository's configuration can never leak into another's request. Repository
behaviour (workflow, roles, routing, budgets) is *not* here: it lives in each
repository's ``.agentforge/`` files (:mod:`bot.repoconfig`).

Precedence: constructor arguments > environment > settings file > defaults. The file is
YAML or TOML, named by ``AGENTFORGE_SETTINGS_FILE``; its keys are the field names below
without the prefix (``data_dir: /var/lib/agentforge``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from bot import redact
from bot.errors import SettingsError

ENV_PREFIX = "AGENTFORGE_"
SETTINGS_FILE_ENV = "AGENTFORGE_SETTINGS_FILE"

SecretList = Annotated[list[SecretStr], NoDecode]
StrList = Annotated[list[str], NoDecode]


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every process-level setting. Environment names are ``AGENTFORGE_<FIELD>``.

    Attributes:
        github_token: GitHub token (classic ``repo`` scope, or fine-grained with
            Contents, Issues, Pull requests and Commit statuses read/write).
        github_url: GitHub API root; ``https://HOST/api/v3`` for GitHub Enterprise.
        github_app_id: GitHub App id (instead of a token, with the private key and the
            installation id).
        github_app_private_key_path: File holding the GitHub App private key (PEM).
        github_app_installation_id: The App installation whose token the bot uses.
        gitlab_token: GitLab project or group access token (scopes ``api`` and
            ``write_repository``, role Developer or higher).
        gitlab_url: GitLab instance root, for a self-managed GitLab.
        job_max_attempts: Attempts before a failing job goes ``dead``.
        job_lease_seconds: How long a worker's lease on a job lasts before another
            worker may take it back.
        job_backoff_seconds: Wait before a failed job's first retry; it doubles with
            each attempt, up to a cap.
        log_level: Lowest level logged: ``DEBUG``, ``INFO``, ``WARNING``, ``ERROR`` or
            ``CRITICAL``.
        log_format: ``json`` (one object per line) or ``console`` (for people).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        case_sensitive=False,
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path(".agentforge-data"),
        description="Directory for the embedded stores (DuckDB records, LanceDB index, clones).",
    )

    # --- webhooks
    github_webhook_secret: SecretList = Field(
        default_factory=list,
        description="GitHub webhook secrets, comma-separated (several during rotation).",
    )
    gitlab_webhook_token: SecretList = Field(
        default_factory=list,
        description="GitLab webhook secret tokens (X-Gitlab-Token), comma-separated.",
    )
    gitlab_signing_token: SecretList = Field(
        default_factory=list,
        description="GitLab signing tokens (Standard Webhooks, 'whsec_...'), comma-separated.",
    )
    webhook_timestamp_tolerance: int = Field(
        default=300, ge=1, description="Seconds a signed webhook's timestamp may be off."
    )
    insecure_no_webhook_secret: bool = Field(
        default=False,
        description="Development only: accept unsigned webhooks when no secret is set.",
    )
    max_body_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, description="Largest webhook body accepted."
    )
    repo_allowlist: StrList = Field(
        default_factory=list,
        description="Repositories (full names, '*' globs allowed) the bot acts on; empty = all.",
    )

    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for the server's /admin API; unset = loopback clients only.",
    )

    # --- forges
    github_token: SecretStr | None = None
    github_url: str = "https://api.github.com"
    github_app_id: str | None = None
    github_app_private_key: SecretStr | None = Field(
        default=None, description="PEM text of the GitHub App private key."
    )
    github_app_private_key_path: Path | None = None
    github_app_installation_id: int | None = None
    gitlab_token: SecretStr | None = None
    gitlab_url: str = "https://gitlab.com"
    bot_login: str | None = Field(
        default=None, description="The bot's own account name (its events are ignored)."
    )
    local_dir: Path | None = Field(
        default=None,
        description="A local forge directory: `serve` feeds its events to the queue and "
        "the bot writes to it (see `agentforge local`).",
    )

    # --- CI dispatch (a repository's `dispatch: {mode: ci}`; bot/jobs/ci_dispatch.py)
    dispatch_secret: SecretStr | None = Field(
        default=None,
        description="Signs each job handed to CI runners; the same value is a CI secret "
        "there (`agentforge run` refuses an unsigned dispatched event).",
    )
    gitlab_trigger_token: SecretList = Field(
        default_factory=list,
        description="GitLab pipeline trigger tokens, comma-separated: 'group/project=token' "
        "per project, or one bare token for every project.",
    )
    ci_poll_seconds: float = Field(
        default=15.0, gt=0, description="How often a dispatched job's CI run is checked."
    )
    ci_timeout_seconds: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="Longest a dispatched job waits for its CI run before it is retried.",
    )

    # --- worker
    workers: int = Field(
        default=4,
        ge=1,
        le=256,
        description="In-process worker threads of the heavy queue (role runs), unless "
        "AGENTFORGE_WORKERS_HEAVY is set.",
    )
    workers_heavy: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="Worker threads of the heavy queue (role runs); default AGENTFORGE_WORKERS.",
    )
    workers_light: int = Field(
        default=2,
        ge=1,
        le=256,
        description="Worker threads of the light queue (commands, gate checks): never "
        "held up by role runs.",
    )
    jobs_nice: int = Field(
        default=5,
        ge=0,
        le=19,
        description="How much lower the CPU priority of `serve`'s jobs process (feeder and "
        "workers) is than the server's (nice increment, also applied to its session's "
        "autogroup; 0: the same), so handlers that burn CPU do not delay webhook "
        "acknowledgements. Higher favours acknowledgements over job progress on a busy "
        "machine.",
    )
    job_max_attempts: int = Field(default=5, ge=1, le=100)
    job_lease_seconds: int = Field(default=300, ge=5)
    job_backoff_seconds: float = Field(default=5.0, ge=0)
    reconcile_minutes: float = Field(
        default=15.0,
        ge=0,
        description="Minutes between reconcile sweeps in `serve` (0: never; also one at start).",
    )

    def trigger_token_for(self, project: str) -> str | None:
        """The GitLab pipeline trigger token for ``project`` (see ``gitlab_trigger_token``)."""
        bare = None
        for secret in self.gitlab_trigger_token:
            value = secret.get_secret_value()
            name, sep, token = value.rpartition("=")
            if not sep:
                bare = bare or value
            elif name.strip().lower() == project.lower():
                return token.strip()
        return bare

    def lanes(self) -> dict[str, int]:
        """Worker threads per queue (see :mod:`bot.jobs.priorities`)."""
        return {"light": self.workers_light, "heavy": self.workers_heavy or self.workers}

    # --- context index (bot/context)
    index_max_file_bytes: int = Field(
        default=1_000_000, ge=1, description="Files larger than this are not indexed."
    )
    index_embeddings: str = Field(
        default="",
        description="Dense vectors, '<provider>:<model>' "
        "(e.g. sentence-transformers:all-MiniLM-L6-v2); empty = full-text only.",
    )
    index_history_commits: int = Field(
        default=500, ge=0, description="Commits scanned for co-change and recency signals."
    )

    # --- logging
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")

    @field_validator(
        "github_webhook_secret",
        "gitlab_webhook_token",
        "gitlab_signing_token",
        "gitlab_trigger_token",
        "repo_allowlist",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("local_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # An empty AGENTFORGE_LOCAL_DIR (a CI input left blank) means "no local forge".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("github_url", "gitlab_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment beats the settings file; the file beats defaults."""
        return (init_settings, env_settings, _FileSource(settings_cls))

    # --- derived paths

    @property
    def db_path(self) -> Path:
        """The DuckDB records file."""
        return self.data_dir / "agentforge.duckdb"

    @property
    def index_dir(self) -> Path:
        """The root of the LanceDB search indexes (one sub-directory per repository).

        ``<data_dir>/index`` when the data directory was set (``AGENTFORGE_DATA_DIR``,
        the settings file, or an argument); otherwise the user's data directory
        (platformdirs: ``~/.local/share/agentforge/index`` on Linux). An index is
        rebuildable from git, and keeping it out of the working directory means
        ``agentforge index .`` leaves nothing untracked in a user's repository and
        ``agentforge search`` finds it from any directory.
        """
        if "data_dir" in self.model_fields_set:
            return self.data_dir / "index"
        from platformdirs import user_data_path

        return user_data_path("agentforge", appauthor=False) / "index"

    @property
    def clones_dir(self) -> Path:
        """Where cached clones live."""
        return self.data_dir / "clones"


class _FileSource(PydanticBaseSettingsSource):
    """Reads the optional settings file named by ``AGENTFORGE_SETTINGS_FILE``."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self._data = _read_settings_file(os.environ.get(SETTINGS_FILE_ENV))

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if v is not None}


def _read_settings_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(
            f"{SETTINGS_FILE_ENV}: cannot read settings file {file}: {exc.strerror}",
            variable=SETTINGS_FILE_ENV,
        ) from exc
    try:
        data = tomllib.loads(text) if file.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(
            f"{file}: not valid {'TOML' if file.suffix == '.toml' else 'YAML'}: {exc}",
            variable=SETTINGS_FILE_ENV,
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{file}: expected a mapping of settings at the top level")
    return {str(k).lower(): v for k, v in data.items()}


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one :class:`SettingsError`.

    The message names each bad variable (``AGENTFORGE_WORKERS``) and what is expected,
    never the value of a secret.
    """
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems = []
        first = None
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            variable = f"{ENV_PREFIX}{field.upper()}"
            first = first or variable
            if err["type"] == "extra_forbidden":
                problems.append(f"{field}: unknown setting (in {SETTINGS_FILE_ENV} file)")
            else:
                problems.append(f"{variable}: {err['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems), variable=first) from None
    # Whatever logs or records later, these values are masked (bot.redact).
    redact.register_settings(settings)
    return settings

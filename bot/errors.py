"""AgentForge's exception tree.

Lower-level errors (SDK, HTTP, git, database) are translated into these at the
boundary where they happen, so callers never match on a library's exception or on
message text. ::

    AgentForgeError
    ├── ConfigError                  settings or a repository's .agentforge/ files are wrong
    │   ├── SettingsError            an AGENTFORGE_* variable or the settings file
    │   ├── RepoConfigError          .agentforge/*.yaml / roles/*.md (carries every issue)
    │   ├── CodeOwnersError          a CODEOWNERS file has a line that cannot be read
    │   └── McpServerError           an allowlisted MCP server did not start or list tools
    ├── EventError                   a webhook delivery cannot be turned into an Event
    │   ├── VerificationError        bad or missing signature / token
    │   └── PayloadError             body is not what its event name promises
    │       ├── MalformedPayload     not UTF-8, not JSON, not an object
    │       └── PayloadShapeError    JSON whose shape does not match the event name
    ├── DispatchError                a job handed to CI runners did not complete there
    ├── ForgeError                   a forge call failed (carries forge + operation)
    │   ├── AuthenticationError      token missing, wrong or expired
    │   ├── Forbidden                authenticated but lacking a scope or permission
    │   ├── NotFound                 repository, issue, MR, comment... does not exist
    │   ├── Conflict                 the write collides with existing state
    │   ├── InvalidRequest           the forge rejected the request's content (422)
    │   ├── RateLimited              rate limit hit (carries retry_after seconds)
    │   └── Unavailable              5xx, timeouts, connection errors
    ├── WorkspaceError               local git work
    │   ├── UnsafePath               path traversal, absolute path, .git/ write
    │   ├── WriteRefused             a role's write: outside its writes:, protected, unsafe
    │   ├── GitError                 clone/fetch/commit/push failed
    │   └── SandboxError             a sandboxed command could not be started
    ├── RoleToolError                a role's tool call cannot be done as asked (fed back)
    ├── StoreError                   embedded stores
    │   ├── StoreLocked              another process holds the data directory
    │   ├── QueueUnavailable         the job queue cannot be written
    │   ├── LeaseLost                this worker no longer owns the job it runs
    │   ├── IndexCorrupt             the search index cannot be read
    │   ├── RecordNotFound           no run/phase with that id in the records
    │   └── AuditChainBroken         a hash-chained audit row was tampered with
    ├── ModelError                   a model call failed (carries provider + model)
    │   ├── NoProviderConfigured     no route or credentials for a role
    │   ├── ModelRequestRejected     401/400: retrying cannot help
    │   ├── ContextTooLong           prompt exceeds the model's window
    │   ├── MalformedModelResponse   empty, truncated or invalid tool-call JSON
    │   ├── ModelTransientError      429/5xx/timeout/connection: retry, then fall back
    │   └── ModelUnavailable         retries and fallbacks exhausted
    └── PolicyDenied                 a policy refused the work
        ├── BudgetExceeded           a run/phase/issue/monthly budget would be exceeded
        └── PrivacyViolation         sensitive work with no local route
"""

from __future__ import annotations


class AgentForgeError(Exception):
    """Base of every error AgentForge raises on purpose."""


# --- configuration -----------------------------------------------------------------


class DispatchError(AgentForgeError):
    """A job handed to the forge's CI runners (``dispatch: {mode: ci}``) did not finish
    there: the run was not found, failed, or took too long. The job is retried."""


class ConfigError(AgentForgeError):
    """Configuration is missing or invalid."""


class SettingsError(ConfigError):
    """A process setting (``AGENTFORGE_*`` variable or settings file) is invalid.

    Attributes:
        variable: The environment variable (or file key) that is wrong.
    """

    def __init__(self, message: str, *, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


class RepoConfigError(ConfigError):
    """A repository's ``.agentforge/`` files are invalid.

    Attributes:
        issues: Every problem found, each with file, line and field.
    """

    def __init__(self, issues: list) -> None:
        self.issues = list(issues)
        lines = [str(i) for i in self.issues]
        super().__init__(f"{len(lines)} problem(s) in .agentforge/ config:\n" + "\n".join(lines))


class CodeOwnersError(ConfigError):
    """A CODEOWNERS file cannot be read as the forge's syntax.

    Attributes:
        path: The file (``.github/CODEOWNERS``...).
        line: The 1-based line of the problem.
        problem: What is wrong there.
    """

    def __init__(self, path: str, line: int, problem: str) -> None:
        self.path, self.line, self.problem = path, line, problem
        super().__init__(f"{path}:{line}: {problem}")


class McpServerError(ConfigError):
    """An allowlisted MCP server could not be started, or did not list its tools.

    Attributes:
        server: The server's name in ``.agentforge/config.yaml`` ``mcp.servers``.
    """

    def __init__(self, message: str, *, server: str = "") -> None:
        super().__init__(message)
        self.server = server


# --- events ------------------------------------------------------------------------


class EventError(AgentForgeError):
    """A delivery cannot be accepted as an event."""


class VerificationError(EventError):
    """The delivery's signature or token is missing or does not match.

    The message never contains the received or expected secret.
    """


class PayloadError(EventError):
    """The payload does not match what its event name promises."""


class MalformedPayload(PayloadError):
    """The body is not UTF-8, not JSON, or not a JSON object."""


class PayloadShapeError(PayloadError):
    """The JSON is valid but a field the event needs is missing or of the wrong type."""


# --- forges ------------------------------------------------------------------------


class ForgeError(AgentForgeError):
    """A forge operation failed.

    Attributes:
        forge: Which forge (``github``, ``gitlab``, ``local``).
        operation: What was being done, e.g. ``"reading issue acme/app#3"``.
    """

    def __init__(self, message: str, *, forge: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.forge = forge
        self.operation = operation


class AuthenticationError(ForgeError):
    """The forge rejected the credentials (missing, wrong or expired token)."""


class Forbidden(ForgeError):
    """Authenticated, but the token or actor lacks a scope or permission."""


class NotFound(ForgeError):
    """The repository, issue, merge request or comment does not exist."""


class Conflict(ForgeError):
    """The write collides with existing state (e.g. an MR for that branch exists)."""


class InvalidRequest(ForgeError):
    """The forge refused the request's content (HTTP 422 and kin)."""


class RateLimited(ForgeError):
    """The forge's rate limit was hit.

    Attributes:
        retry_after: Seconds to wait before retrying, if the forge said.
    """

    def __init__(
        self,
        message: str,
        *,
        forge: str = "",
        operation: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, forge=forge, operation=operation)
        self.retry_after = retry_after


class Unavailable(ForgeError):
    """The forge answered 5xx, timed out, or could not be reached."""


# --- git workspace -----------------------------------------------------------------


class WorkspaceError(AgentForgeError):
    """Local git work failed."""


class UnsafePath(WorkspaceError):
    """A file path escapes the work tree or targets ``.git/``."""


class WriteRefused(WorkspaceError):
    """A role's write or delete was refused before it reached the staged change set.

    The message says why in words the agent can act on (it is returned to the model as
    a tool error). Attributes:
        path: The path as the agent gave it.
        reason: ``unsafe_path`` (absolute, ``..``, ``.git/``, symlink), ``outside_writes``
            (matches none of the role's ``writes:`` globs), ``protected`` (matches the
            repository's ``protected_paths``) or ``conflict`` (a file/directory clash, too
            large, nothing to delete).
    """

    def __init__(self, message: str, *, path: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


class GitError(WorkspaceError):
    """A git operation (clone, fetch, commit, push, read) failed."""


class SandboxError(WorkspaceError):
    """A sandboxed command could not be started (missing scratch tree, empty command)."""


# --- role tools --------------------------------------------------------------------


class RoleToolError(AgentForgeError):
    """A role's tool call cannot be done as asked: no such file, binary file, no git view.

    Raised inside a tool so smolagents returns it to the model as a tool error; the run
    goes on.
    """


# --- stores ------------------------------------------------------------------------


class StoreError(AgentForgeError):
    """An embedded store (DuckDB, LanceDB) failed."""


class StoreLocked(StoreError):
    """Another process is the writer of this data directory."""


class QueueUnavailable(StoreError):
    """The durable job queue cannot be written."""


class LeaseLost(StoreError):
    """The running job's lease was taken back (expired and reaped, or released).

    Raised by a heartbeat: another attempt may own the job now, so the handler should
    stop at its next safe point instead of writing more.

    Attributes:
        job_id: The job whose lease was lost.
    """

    def __init__(self, message: str, *, job_id: int | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class IndexCorrupt(StoreError):
    """The search index cannot be read and must be rebuilt."""


class RecordNotFound(StoreError):
    """A run or phase named by id is not in the records."""


class AuditChainBroken(StoreError):
    """An audit row's hash does not match its content or its predecessor.

    Attributes:
        seq: The first bad row's sequence number (None if unknown).
        reason: ``content_changed``, ``chain_broken`` or ``seq_gap``.
    """

    def __init__(self, message: str, *, seq: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.seq = seq
        self.reason = reason


# --- models ------------------------------------------------------------------------


class ModelError(AgentForgeError):
    """A model call failed.

    Attributes:
        provider: Provider name (``anthropic``, ``openai``, ``ollama``...).
        model: Model id.
    """

    def __init__(self, message: str, *, provider: str = "", model: str = "") -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model


class NoProviderConfigured(ModelError):
    """No usable model route (or no credentials) for a role."""


class ModelRequestRejected(ModelError):
    """The provider rejected the request in a way retrying cannot fix (401, 400)."""


class ContextTooLong(ModelError):
    """The prompt does not fit the model's context window."""


class MalformedModelResponse(ModelError):
    """Empty, truncated or unparseable completion, or tool-call arguments not JSON."""


class ModelTransientError(ModelError):
    """One attempt failed in a way a retry may fix (429, 5xx, timeout, connection).

    Attributes:
        status: HTTP status, or None for timeouts and connection errors.
        retry_after: Seconds the provider asked us to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        model: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.status = status
        self.retry_after = retry_after


class ModelUnavailable(ModelError):
    """Every retry and fallback route failed."""


# --- policies ----------------------------------------------------------------------


class PolicyDenied(AgentForgeError):
    """A policy refused the proposed work or action."""


class BudgetExceeded(PolicyDenied):
    """A call would exceed a token, step or money budget.

    Attributes:
        scope: Which budget (``run``, ``phase``, ``issue``, ``repo_month``).
        limit: The configured limit.
        spent: What was already spent in that scope.
    """

    def __init__(self, message: str, *, scope: str = "", limit: float = 0.0, spent: float = 0.0):
        super().__init__(message)
        self.scope = scope
        self.limit = limit
        self.spent = spent


class PrivacyViolation(PolicyDenied):
    """Sensitive work would be sent to a non-local model, and no local route exists."""

"""Wire-level fakes of the forges' REST APIs, built on pytest-httpserver.

Each fake keeps state (repositories, issues, comments, merge requests, labels,
reviews, permissions), answers with the real API's response shapes and is strict: a
route it does not know answers 404 ``{"message": "unexpected call"}`` and is recorded in
:attr:`FakeServer.unexpected`, so a test can fail on it. Faults (5xx, timeouts, rate
limits) are queued with :meth:`FakeServer.inject`; a fault marked ``after_apply`` lets
the write happen and then fails the response, which is how a forge that times out
*after* creating a comment looks to the client.

Git traffic never goes through the fake: each repository is a bare repository in a
temporary directory, and the API's clone URL is its ``file://`` path.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

Handler = Callable[..., Response]


@dataclass
class Fault:
    """One injected failure.

    Attributes:
        status: HTTP status to answer (None with ``delay`` set = answer normally, late).
        headers: Extra response headers (rate-limit headers).
        body: JSON body of the failure.
        delay: Seconds to sleep before answering (longer than the client's timeout
            simulates a timeout).
        after_apply: Run the real handler first (the write happens), then fail.
        method: Only requests with this method match (None = any).
        path: Only paths containing this text match (None = any).
    """

    status: int | None = 502
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    after_apply: bool = False
    method: str | None = None
    path: str | None = None

    def matches(self, request: Request) -> bool:
        """Whether this fault applies to ``request``."""
        if self.method and request.method != self.method.upper():
            return False
        return not (self.path and self.path not in request.path)


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    status: int = 0


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with the forge's content type."""
    return Response(
        json.dumps(data),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=utf-8",
    )


class FakeServer:
    """A stateful, strict HTTP fake: a route table plus fault injection.

    Subclasses call :meth:`route` in their constructor and implement handlers taking
    ``(request, **path_params)``.
    """

    def __init__(self) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.no_handler_status_code = 404
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self.calls: list[Call] = []
        self.unexpected: list[Call] = []
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._dispatch)
        self.server.start()

    # --- lifecycle

    @property
    def url(self) -> str:
        """Base URL of the fake, without a trailing slash."""
        return self.server.url_for("/").rstrip("/")

    def close(self) -> None:
        """Stop the server in the background.

        werkzeug's shutdown waits for its 0.5 s poll; nothing needs to wait for that (each
        fake has its own port), so tests do not pay it.
        """
        if self.server.is_running():
            threading.Thread(target=self.server.stop, daemon=True).start()

    # --- routing and faults

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve ``method`` on paths fully matching ``pattern`` (named groups are params)."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def inject(self, fault: Fault, times: int = 1) -> None:
        """Queue ``fault`` for the next ``times`` matching requests."""
        with self._lock:
            self._faults.extend([fault] * times)

    def calls_to(self, method: str, path_re: str) -> list[Call]:
        """Requests received with ``method`` on a path matching ``path_re``."""
        rx = re.compile(path_re)
        return [c for c in self.calls if c.method == method.upper() and rx.fullmatch(c.path)]

    def _take_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(request):
                    return self._faults.pop(i)
        return None

    def _dispatch(self, request: Request) -> Response:
        raw = request.get_data()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        call = Call(
            method=request.method,
            path=self.path_of(request),
            query=dict(request.args),
            body=body,
            headers=dict(request.headers),
        )
        with self._lock:
            self.calls.append(call)
        fault = self._take_fault(request)
        if fault is not None and not fault.after_apply:
            response = self._fault_response(fault, None)
        else:
            response = self._handle(request, call)
            if fault is not None:
                response = self._fault_response(fault, response)
        call.status = response.status_code
        return response

    def _handle(self, request: Request, call: Call) -> Response:
        for method, rx, handler in self._routes:
            match = rx.fullmatch(call.path)  # what path_of() chose: raw or decoded
            if match and method == request.method:
                denied = self.authenticate(request)
                if denied is not None:
                    return denied
                with self._lock:
                    return handler(request, call.body, **match.groupdict())
        with self._lock:
            self.unexpected.append(call)
        return json_response({"message": "unexpected call"}, 404)

    def _fault_response(self, fault: Fault, normal: Response | None) -> Response:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status is None and normal is not None:
            return normal
        body = fault.body if fault.body is not None else {"message": "injected fault"}
        return json_response(body, fault.status or 502, fault.headers)

    def path_of(self, request: Request) -> str:
        """The path routes are matched against (and calls recorded with)."""
        return request.path

    def authenticate(self, request: Request) -> Response | None:
        """Return an error response when ``request`` is not authenticated."""
        return None


class BareRepo:
    """A bare git repository standing in for the forge's copy of one repository."""

    def __init__(self, path: Path, default_branch: str = "main") -> None:
        self.path = path
        self.repo = pygit2.init_repository(str(path), bare=True, initial_head=default_branch)
        self._sig = pygit2.Signature("Fake Forge", "fake@example.invalid")
        self.commit(default_branch, {"README.md": "# fake\n"}, base=None, message="initial")

    @property
    def url(self) -> str:
        """The ``file://`` URL git clones from."""
        return self.path.resolve().as_uri()

    def head(self, branch: str) -> str | None:
        """The sha at ``branch``, or None if it does not exist."""
        ref = self.repo.references.get(f"refs/heads/{branch}")
        return str(ref.target) if ref is not None else None

    def commit(
        self,
        branch: str,
        files: dict[str, str | bytes | None],
        base: str | None = "main",
        message: str = "",
    ) -> str:
        """Commit ``files`` on ``branch`` (created from ``base`` if new); returns the sha.

        This is how a test puts files at a ref: ``fake.add_repo(...)`` (or
        ``add_project``) returns the repository, and ``git.commit("main", {"a/b.md":
        "text"})`` makes them readable through the contents/files routes at ``main``
        and at the returned sha. Content may be text, bytes (a binary file) or None
        (delete the file).
        """
        parent_sha = self.head(branch) or (self.head(base) if base else None)
        parents = [pygit2.Oid(hex=parent_sha)] if parent_sha else []
        tree = self.repo[parent_sha].tree if parent_sha else None
        builder_root = self._write_tree(tree, files)
        oid = self.repo.create_commit(
            f"refs/heads/{branch}",
            self._sig,
            self._sig,
            message or f"update {branch}",
            builder_root,
            parents,
        )
        return str(oid)

    def _write_tree(
        self, tree: pygit2.Tree | None, files: dict[str, str | bytes | None]
    ) -> pygit2.Oid:
        builder = self.repo.TreeBuilder(tree) if tree is not None else self.repo.TreeBuilder()
        nested: dict[str, dict[str, str | bytes | None]] = {}
        for name, content in files.items():
            head, _, rest = name.partition("/")
            if rest:
                nested.setdefault(head, {})[rest] = content
            elif content is None:
                if builder.get(head) is not None:
                    builder.remove(head)
            else:
                data = content.encode() if isinstance(content, str) else content
                builder.insert(head, self.repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB)
        for directory, sub in nested.items():
            existing = tree[directory] if tree is not None and directory in tree else None
            sub_tree = self.repo[existing.id] if existing is not None else None
            written = self._write_tree(sub_tree, sub)
            if len(self.repo[written]) == 0:
                if builder.get(directory) is not None:
                    builder.remove(directory)
            else:
                builder.insert(directory, written, pygit2.GIT_FILEMODE_TREE)
        return builder.write()

    # --- reads the fakes' contents routes share

    def resolve(self, ref: str) -> pygit2.Commit | None:
        """The commit a branch, tag or (full or abbreviated) sha names, or None."""
        for name in (f"refs/heads/{ref}", f"refs/tags/{ref}"):
            found = self.repo.references.get(name)
            if found is not None:
                return found.peel(pygit2.Commit)
        if not re.fullmatch(r"[0-9a-f]{4,40}", ref or ""):
            return None
        try:
            return self.repo.revparse_single(ref).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError):
            return None

    def entry(self, ref: str, path: str) -> pygit2.Object | None:
        """The blob or tree at ``path`` (``""``: the root tree) in ``ref``, or None."""
        commit = self.resolve(ref)
        if commit is None:
            return None
        if not path:
            return commit.tree
        try:
            return self.repo[commit.tree[path].id]
        except KeyError:
            return None

    def changes(self, base: str, head: str) -> list[dict[str, str]]:
        """Files changed from the merge base of ``base`` and ``head`` to ``head``.

        Each is ``{"status": added|deleted|modified|renamed, "old_path", "new_path"}``.
        """
        head_commit, base_commit = self.resolve(head), self.resolve(base)
        if head_commit is None or base_commit is None:
            return []
        merge_base = self.repo.merge_base(base_commit.id, head_commit.id) or base_commit.id
        diff = self.repo.diff(self.repo[merge_base].peel(pygit2.Commit).tree, head_commit.tree)
        diff.find_similar()
        names = {1: "added", 2: "deleted", 3: "modified", 4: "renamed"}
        return [
            {
                "status": names.get(int(d.status), "modified"),
                "old_path": d.old_file.path,
                "new_path": d.new_file.path,
            }
            for d in diff.deltas
        ]


def now_iso() -> str:
    """The current UTC time the way both forges print it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

"""A Hugging Face Hub look-alike that unmodified ``huggingface_hub`` talks to.

It serves real HTTP on 127.0.0.1 and keeps one bare git repository per Hub
repository, so branches, tags, commits and shas behave like the Hub's. It
speaks the subset of the Hub API that ``huggingface_hub`` uses to create
repositories and branches, commit files, list trees and refs, read repository
information and download files, including the typed errors that the client
turns into ``RepositoryNotFoundError``, ``RevisionNotFoundError`` and
``EntryNotFoundError`` (the ``X-Error-Code`` header).

Files always travel inside commits (every preupload is answered with
``"regular"``), so no LFS or Xet storage is needed.

Tests can inspect what the server saw (``requests()``), look at the git
repositories directly (``git()``), mark organizations as trusted kernel
publishers (``set_org()``) and inject download faults (``add_fault()``).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, quote, unquote, urlsplit

#: URL segment of the API (``/api/<segment>/...``) -> repository type.
API_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
#: Repository type -> prefix of its web and download URLs.
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/", "kernel": "kernels/"}
_TYPED_PREFIXES = {"datasets": "dataset", "spaces": "space", "kernels": "kernel"}

_SHA = re.compile(r"^[0-9a-f]{40}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Hub test server",
    "GIT_AUTHOR_EMAIL": "hub@localhost",
    "GIT_COMMITTER_NAME": "Hub test server",
    "GIT_COMMITTER_EMAIL": "hub@localhost",
    "LC_ALL": "C",
}
_GITATTRIBUTES = b"*.bin filter=lfs diff=lfs merge=lfs -text\n*.safetensors filter=lfs diff=lfs merge=lfs -text\n"


class HubError(Exception):
    """An error answer: status, message and (for typed client errors) an ``X-Error-Code``."""

    def __init__(self, status: int, message: str, code: Optional[str] = None,
                 headers: Optional[dict[str, str]] = None, body: Optional[dict[str, Any]] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.body = body


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received."""

    method: str
    path: str
    user_agent: str
    authorized: bool
    range: Optional[str] = None


@dataclass
class Fault:
    """A download fault: matching ``resolve`` requests fail or stall.

    ``pattern`` is matched (fnmatch) against the path of the file in the
    repository. ``action`` is ``"error"`` (answer ``status``) or ``"stall"``
    (send the headers and half the body, then hang until ``release()``).
    ``times`` limits how often the fault fires (``None``: until removed).
    """

    pattern: str
    action: str = "error"
    status: int = 500
    times: Optional[int] = None
    hit: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    count: int = 0

    def release(self) -> None:
        self.released.set()


# ---------------------------------------------------------------------------
# Git storage
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str  # "blob" or "tree"
    oid: str
    size: int
    path: str


class GitRepo:
    """A bare git repository that stores one Hub repository."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------

    def run(self, *args: str, input: Optional[bytes] = None, env: Optional[dict[str, str]] = None,
            check: bool = True) -> bytes:
        full_env = dict(os.environ)
        full_env.update(_GIT_ENV)
        if env:
            full_env.update(env)
        result = subprocess.run(["git", "--git-dir", str(self.path), *args], input=input,
                                capture_output=True, env=full_env)
        if check and result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
        return result.stdout

    def config_get(self, key: str) -> Optional[str]:
        out = self.run("config", "--get", key, check=False).decode().strip()
        return out or None

    def config_set(self, key: str, value: str) -> None:
        self.run("config", key, value)

    @classmethod
    def create(cls, path: Path, private: bool) -> "GitRepo":
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--bare", "-q", str(path)], check=True, capture_output=True,
                       env={**os.environ, **_GIT_ENV})
        repo = cls(path)
        repo.run("symbolic-ref", "HEAD", "refs/heads/main")
        repo.config_set("hub.private", "true" if private else "false")
        repo.config_set("hub.created", str(time.time()))
        # Like the Hub, a new repository starts with one commit holding .gitattributes.
        blob = repo.run("hash-object", "-w", "--stdin", input=_GITATTRIBUTES).decode().strip()
        tree = repo.run("mktree", input=f"100644 blob {blob}\t.gitattributes\n".encode()).decode().strip()
        commit = repo.run("commit-tree", tree, "-m", "initial commit").decode().strip()
        repo.run("update-ref", "refs/heads/main", commit, "0" * 40)
        return repo

    # -- reading ---------------------------------------------------------------

    def resolve(self, revision: str) -> Optional[str]:
        """Commit sha of a branch, tag, ``refs/pr/N`` or full commit sha."""
        if not revision or revision.startswith("-") or ".." in revision or "\\" in revision:
            return None
        if revision.startswith("refs/"):
            candidates = [revision] if re.fullmatch(r"refs/(heads|tags|pr)/[^\s]+", revision) else []
        elif _SHA.fullmatch(revision):
            candidates = [revision]
        else:
            candidates = [f"refs/heads/{revision}", f"refs/tags/{revision}"]
        for candidate in candidates:
            out = self.run("rev-parse", "--verify", "-q", f"{candidate}^{{commit}}", check=False).decode().strip()
            if _SHA.fullmatch(out):
                return out
        return None

    def branch_head(self, branch: str) -> Optional[str]:
        out = self.run("rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}", check=False).decode().strip()
        return out if _SHA.fullmatch(out) else None

    def refs(self) -> list[tuple[str, str]]:
        out = self.run("for-each-ref", "--format=%(refname) %(objectname)").decode()
        return [tuple(line.split(" ", 1)) for line in out.splitlines() if line]  # type: ignore[misc]

    def commit_time(self, sha: str) -> float:
        return float(self.run("log", "-1", "--format=%ct", sha).decode().strip())

    def object_at(self, sha: str, path: str) -> Optional[tuple[str, str]]:
        """``(type, oid)`` of ``path`` in commit ``sha``; ``None`` when missing."""
        if not path:
            oid = self.run("rev-parse", f"{sha}^{{tree}}").decode().strip()
            return "tree", oid
        oid = self.run("rev-parse", "--verify", "-q", f"{sha}:{path}", check=False).decode().strip()
        if not _SHA.fullmatch(oid):
            return None
        kind = self.run("cat-file", "-t", oid).decode().strip()
        return kind, oid

    def ls_tree(self, tree_oid: str, prefix: str, recursive: bool) -> list[TreeEntry]:
        args = ["ls-tree", "-l", "-z"]
        if recursive:
            args += ["-r", "-t"]
        out = self.run(*args, tree_oid).decode("utf-8", errors="surrogateescape")
        entries = []
        for record in out.split("\0"):
            if not record:
                continue
            meta, path = record.split("\t", 1)
            mode, kind, oid, size = meta.split()
            full = f"{prefix}/{path}" if prefix else path
            entries.append(TreeEntry(mode, kind, oid, 0 if size == "-" else int(size), full))
        return entries

    def files(self, sha: str) -> dict[str, tuple[str, int]]:
        """Every file of commit ``sha``: path -> (blob oid, size)."""
        tree = self.run("rev-parse", f"{sha}^{{tree}}").decode().strip()
        return {e.path: (e.oid, e.size) for e in self.ls_tree(tree, "", True) if e.kind == "blob"}

    def read_blob(self, oid: str) -> bytes:
        return self.run("cat-file", "blob", oid)

    # -- writing ---------------------------------------------------------------

    def _remove_from_index(self, paths: list[str], env: dict[str, str]) -> None:
        # Mode 0 in --index-info removes the entry (no work tree needed).
        lines = b"".join(b"0 " + b"0" * 40 + b"\t" + p.encode() + b"\0" for p in paths)
        self.run("update-index", "-z", "--index-info", input=lines, env=env)

    def commit(self, ref: str, base: str, operations: list[tuple[str, str, Optional[bytes]]],
               message: str, expect_old: Optional[str]) -> str:
        """Apply ``operations`` to ``base`` and move ``ref`` to the new commit.

        ``operations`` are ``("add", path, content)``, ``("delete", path, None)``
        and ``("delete-folder", path, None)``. ``ref`` is only updated if it
        still points to ``expect_old`` (``None``: it must not exist yet).
        """
        with tempfile.TemporaryDirectory(prefix="hub-commit-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.run("read-tree", base, env=env)
            current = set(self.run("ls-files", "-z", env=env).decode("utf-8", errors="surrogateescape")
                          .split("\0")) - {""}
            for kind, path, content in operations:
                if kind == "add":
                    assert content is not None
                    oid = self.run("hash-object", "-w", "--stdin", input=content).decode().strip()
                    # --replace: a file may take the place of a directory and vice versa.
                    self.run("update-index", "--add", "--replace", "--cacheinfo", f"100644,{oid},{path}", env=env)
                    current = {p for p in current if not p.startswith(f"{path}/") and
                               not path.startswith(f"{p}/")} | {path}
                elif kind == "delete":
                    if path not in current:
                        raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                    self._remove_from_index([path], env)
                    current.discard(path)
                else:
                    inside = sorted(p for p in current if p.startswith(f"{path}/"))
                    if not inside:
                        raise HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                    self._remove_from_index(inside, env)
                    current.difference_update(inside)
            tree = self.run("write-tree", env=env).decode().strip()
        new = self.run("commit-tree", tree, "-p", base, "-F", "-", input=message.encode()).decode().strip()
        old = expect_old if expect_old is not None else "0" * 40
        result = subprocess.run(["git", "--git-dir", str(self.path), "update-ref", ref, new, old],
                                capture_output=True, env={**os.environ, **_GIT_ENV})
        if result.returncode != 0:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        return new


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Optional[dict[str, str]] = None) -> "Response":
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _valid_path(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and all(p not in ("", ".", "..") for p in parts) \
        and parts[0] != ".git" and "\0" not in path


class HubServer:
    """The test Hub. Use as a context manager, or call ``start()`` / ``stop()``."""

    def __init__(self, root: Optional[Path] = None, *, orgs: Optional[dict[str, dict[str, Any]]] = None,
                 page_size: int = 1000, require_token_for_writes: bool = True):
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="hub-server-"))
        self.page_size = page_size
        self.require_token_for_writes = require_token_for_writes
        self._orgs: dict[str, dict[str, Any]] = {}
        self._repos: dict[tuple[str, str], GitRepo] = {}
        self._repos_lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._faults: list[Fault] = []
        self._api_outages: list[tuple[str, str, int]] = []
        self._state_lock = threading.Lock()
        for name, settings in (orgs or {}).items():
            self.set_org(name, **settings)
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> "HubServer":
        handler = type("HubHandler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for fault in self._faults:
            fault.release()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- test helpers --------------------------------------------------------------

    def set_org(self, name: str, trusted: Optional[bool] = None, **fields: Any) -> None:
        """Declare an organization; ``trusted`` sets its ``trustedKernelPublisher`` flag."""
        overview: dict[str, Any] = {
            "name": name,
            "fullname": fields.pop("fullname", name),
            "avatarUrl": f"https://example.invalid/avatars/{name}.png",
            "isVerified": False,
            "isFollowing": False,
            "numUsers": 1,
            "numModels": 0,
            "numSpaces": 0,
            "numDatasets": 0,
            "numFollowers": 0,
            "numPapers": 0,
        }
        if trusted is not None:
            overview["trustedKernelPublisher"] = trusted
        overview.update(fields)
        with self._state_lock:
            self._orgs[name] = overview

    def repo_dir(self, repo_id: str, repo_type: str = "model") -> Path:
        namespace, name = repo_id.split("/")
        return self.root / f"{repo_type}s" / namespace / f"{name}.git"

    def git(self, repo_id: str, *args: str, repo_type: str = "model") -> str:
        """Run git in the repository's bare git directory (for assertions)."""
        return GitRepo(self.repo_dir(repo_id, repo_type)).run(*args).decode()

    def create_repo(self, repo_id: str, repo_type: str = "model", private: bool = False) -> None:
        self._create(repo_type, repo_id, private)

    def requests(self) -> list[RequestRecord]:
        with self._state_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._state_lock:
            self._requests.clear()

    def add_fault(self, pattern: str, action: str = "error", status: int = 500,
                  times: Optional[int] = None) -> Fault:
        if action not in ("error", "stall"):
            raise ValueError(f"unknown fault action {action!r}")
        fault = Fault(pattern=pattern, action=action, status=status, times=times)
        with self._state_lock:
            self._faults.append(fault)
        return fault

    def fail_api(self, method: str, pattern: str, status: int = 503) -> None:
        """Answer ``status`` to API requests with this method whose path matches ``pattern`` (fnmatch).

        Simulates a Hub that goes down part-way through a sequence of calls;
        ``clear_faults()`` ends it.
        """
        with self._state_lock:
            self._api_outages.append((method, pattern, status))

    def clear_faults(self) -> None:
        with self._state_lock:
            self._api_outages.clear()
            faults, self._faults = self._faults, []
        for fault in faults:
            fault.release()

    # -- internals -----------------------------------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._state_lock:
            self._requests.append(record)

    def _outage_for(self, method: str, path: str) -> Optional[int]:
        with self._state_lock:
            for outage_method, pattern, status in self._api_outages:
                if outage_method == method and fnmatch.fnmatchcase(path, pattern):
                    return status
        return None

    def _fault_for(self, path: str) -> Optional[Fault]:
        with self._state_lock:
            for fault in self._faults:
                if fnmatch.fnmatchcase(path, fault.pattern) and (fault.times is None or fault.count < fault.times):
                    fault.count += 1
                    return fault
        return None

    def _repo(self, repo_type: str, repo_id: str, authorized: bool) -> GitRepo:
        key = (repo_type, repo_id)
        with self._repos_lock:
            repo = self._repos.get(key)
            if repo is None:
                namespace, _, name = repo_id.partition("/")
                path = self.repo_dir(repo_id, repo_type) if _NAME.fullmatch(namespace) and _NAME.fullmatch(name) else None
                if path is not None and (path / "HEAD").is_file():
                    repo = self._repos[key] = GitRepo(path)
        if repo is None or (repo.config_get("hub.private") == "true" and not authorized):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def _create(self, repo_type: str, repo_id: str, private: bool) -> tuple[bool, GitRepo]:
        key = (repo_type, repo_id)
        with self._repos_lock:
            path = self.repo_dir(repo_id, repo_type)
            if key in self._repos or (path / "HEAD").is_file():
                repo = self._repos.setdefault(key, GitRepo(path))
                return False, repo
            repo = self._repos[key] = GitRepo.create(path, private)
            return True, repo


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: HubServer  # set on the subclass made in HubServer.start()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet server
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        # Echo the host spelling the client used: the client compares it with its endpoint.
        return f"http://{self.headers.get('Host', '127.0.0.1')}"

    @property
    def authorized(self) -> bool:
        return (self.headers.get("Authorization") or "").startswith("Bearer ")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        self.hub._record(RequestRecord(method, self.path, self.headers.get("User-Agent", ""), self.authorized,
                                       self.headers.get("Range")))
        # Split the raw path before unquoting: revisions arrive as quote(rev, safe="").
        segments = [unquote(s) for s in split.path.split("/")[1:]]
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            outage = self.hub._outage_for(method, split.path) if segments[:1] == ["api"] else None
            if outage is not None:
                raise HubError(outage, "Service unavailable (injected outage)")
            if segments[:1] == ["api"]:
                response = self._api(method, segments[1:], query, body)
            else:
                response = self._resolve(method, segments)
                if response is None:  # already streamed
                    return
        except HubError as e:
            payload = e.body if e.body is not None else {"error": e.message}
            headers = {"X-Error-Message": e.message, **e.headers}
            if e.code:
                headers["X-Error-Code"] = e.code
            response = Response.json(payload, e.status, headers)
        except Exception:  # noqa: BLE001 - report server bugs to the client as 500s
            response = Response.json({"error": traceback.format_exc()}, 500)
        self._send(response, head=method == "HEAD")

    def _send(self, response: Response, head: bool = False) -> None:
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if "Content-Length" not in response.headers:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if not head:
            self.wfile.write(response.body)

    def _json_body(self, body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise HubError(400, "Invalid JSON body") from None
        if not isinstance(data, dict):
            raise HubError(400, "Expected a JSON object")
        return data

    def _require_write(self) -> None:
        if self.hub.require_token_for_writes and not self.authorized:
            raise HubError(401, "You must be authenticated to access this resource")

    # -- /api ------------------------------------------------------------------------

    def _api(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> Response:
        if rest == ["repos", "create"] and method == "POST":
            return self._create_repo(self._json_body(body))
        if rest == ["repos", "delete"] and method == "DELETE":
            return self._delete_repo(self._json_body(body))
        if rest == ["validate-yaml"] and method == "POST":
            return Response.json({"errors": [], "warnings": []})
        if rest == ["whoami-v2"] and method == "GET":
            if not self.authorized:
                raise HubError(401, "Invalid credentials in Authorization header")
            return Response.json({"type": "user", "name": "test-user", "fullname": "Test User",
                                  "orgs": [{"name": n} for n in self.hub._orgs], "auth": {"type": "access_token"}})
        if rest == ["agent-harnesses"] and method == "GET":
            return Response.json({"standardEnvVars": [], "harnesses": {}})
        if len(rest) == 3 and rest[0] == "organizations" and rest[2] == "overview" and method == "GET":
            with self.hub._state_lock:
                overview = self.hub._orgs.get(rest[1])
            if overview is None:
                raise HubError(404, "Organization not found")
            return Response.json(overview)
        if len(rest) >= 3 and rest[0] in API_TYPES:
            return self._repo_api(method, API_TYPES[rest[0]], f"{rest[1]}/{rest[2]}", rest[3:], query, body)
        raise HubError(404, "Sorry, we can't find the page you are looking for.")

    def _create_repo(self, data: dict[str, Any]) -> Response:
        self._require_write()
        name, organization = data.get("name"), data.get("organization")
        repo_type = data.get("type") or "model"
        if repo_type not in URL_PREFIXES:
            raise HubError(400, f"Invalid repo type: {repo_type}")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise HubError(400, "Invalid repository name")
        if not isinstance(organization, str) or not _NAME.fullmatch(organization):
            raise HubError(400, "This test server needs an explicit namespace (organization)")
        private = data.get("visibility") == "private" or data.get("private") is True
        repo_id = f"{organization}/{name}"
        url = f"{self.base_url}/{URL_PREFIXES[repo_type]}{repo_id}"
        created, _ = self.hub._create(repo_type, repo_id, private)
        if not created:
            raise HubError(409, f"You already created this {repo_type} repo", body={
                "error": f"You already created this {repo_type} repo", "url": url})
        return Response.json({"url": url, "name": repo_id, "id": hashlib.sha1(url.encode()).hexdigest()[:24]})

    def _delete_repo(self, data: dict[str, Any]) -> Response:
        self._require_write()
        repo_type = data.get("type") or "model"
        repo_id = f"{data.get('organization')}/{data.get('name')}"
        repo = self.hub._repo(repo_type, repo_id, self.authorized)
        with self.hub._repos_lock:
            self.hub._repos.pop((repo_type, repo_id), None)
            shutil.rmtree(repo.path)
        return Response()

    def _repo_api(self, method: str, repo_type: str, repo_id: str, tail: list[str],
                  query: dict[str, str], body: bytes) -> Response:
        repo = self.hub._repo(repo_type, repo_id, self.authorized)
        if method == "GET" and (not tail or (len(tail) == 2 and tail[0] == "revision")):
            return self._repo_info(repo, repo_type, repo_id, tail[1] if tail else "main")
        if method == "GET" and tail == ["refs"]:
            return self._refs(repo, query.get("include_prs") in ("1", "true", "True"))
        if method == "GET" and len(tail) >= 2 and tail[0] == "tree":
            return self._tree(repo, tail[1], "/".join(tail[2:]).strip("/"), query)
        if method == "GET" and len(tail) == 2 and tail[0] == "commits":
            return self._commits(repo, tail[1])
        if method == "POST" and len(tail) == 2 and tail[0] == "preupload":
            return self._preupload(repo, tail[1], self._json_body(body))
        if method == "POST" and len(tail) == 2 and tail[0] == "commit":
            return self._commit(repo, repo_type, repo_id, tail[1], body, query.get("create_pr") == "1")
        if len(tail) == 2 and tail[0] == "branch" and method in ("POST", "DELETE"):
            return self._branch(repo, method, tail[1], self._json_body(body))
        if len(tail) == 2 and tail[0] == "tag" and method in ("POST", "DELETE"):
            return self._tag(repo, method, tail[1], self._json_body(body))
        if tail == ["settings"] and method == "PUT":
            self._require_write()
            data = self._json_body(body)
            if "private" in data or "visibility" in data:
                private = data.get("visibility") == "private" or data.get("private") is True
                repo.config_set("hub.private", "true" if private else "false")
            return Response.json({})
        raise HubError(404, "Sorry, we can't find the page you are looking for.")

    def _resolve_rev(self, repo: GitRepo, revision: str) -> str:
        sha = repo.resolve(revision)
        if sha is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return sha

    def _repo_info(self, repo: GitRepo, repo_type: str, repo_id: str, revision: str) -> Response:
        sha = self._resolve_rev(repo, revision)
        info: dict[str, Any] = {
            "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24],
            "id": repo_id,
            "author": repo_id.split("/")[0],
            "sha": sha,
            "lastModified": _iso(repo.commit_time(sha)),
            "createdAt": _iso(float(repo.config_get("hub.created") or 0)),
            "private": repo.config_get("hub.private") == "true",
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": [{"rfilename": path} for path in sorted(repo.files(sha))],
        }
        if repo_type == "model":
            info["modelId"] = repo_id
        return Response.json(info)

    def _refs(self, repo: GitRepo, include_prs: bool) -> Response:
        data: dict[str, list[dict[str, str]]] = {"branches": [], "tags": [], "converts": []}
        prs = []
        for ref, sha in repo.refs():
            if ref.startswith("refs/heads/"):
                data["branches"].append({"name": ref[len("refs/heads/"):], "ref": ref, "targetCommit": sha})
            elif ref.startswith("refs/tags/"):
                data["tags"].append({"name": ref[len("refs/tags/"):], "ref": ref, "targetCommit": sha})
            elif ref.startswith("refs/pr/"):
                prs.append({"name": ref[len("refs/pr/"):], "ref": ref, "targetCommit": sha})
        if include_prs:
            data["pullRequests"] = prs
        return Response.json(data)

    def _tree(self, repo: GitRepo, revision: str, path: str, query: dict[str, str]) -> Response:
        sha = self._resolve_rev(repo, revision)
        found = repo.object_at(sha, path)
        if found is None or found[0] != "tree":
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": sha})
        recursive = query.get("recursive") in ("1", "true", "True")
        entries = []
        for entry in repo.ls_tree(found[1], path, recursive):
            if entry.kind == "blob":
                entries.append({"type": "file", "oid": entry.oid, "size": entry.size, "path": entry.path})
            elif entry.kind == "tree":
                entries.append({"type": "directory", "oid": entry.oid, "size": 0, "path": entry.path})
        start = int(query.get("cursor") or 0)
        page = entries[start:start + self.hub.page_size]
        headers = {}
        if start + self.hub.page_size < len(entries):
            params = "&".join(f"{k}={quote(v)}" for k, v in query.items() if k != "cursor")
            rev = quote(revision, safe="")
            suffix = f"/{quote(path)}" if path else ""
            link = f"{self.base_url}{urlsplit(self.path).path.split('/tree/')[0]}/tree/{rev}{suffix}"
            headers["Link"] = f'<{link}?{params}&cursor={start + self.hub.page_size}>; rel="next"'
        return Response.json(page, headers=headers)

    def _commits(self, repo: GitRepo, revision: str) -> Response:
        sha = self._resolve_rev(repo, revision)
        out = repo.run("log", "--format=%H%x00%ct%x00%s%x00%b%x01", sha).decode()
        commits = []
        for record in out.split("\x01"):
            record = record.strip("\n")
            if not record:
                continue
            oid, ctime, title, message = record.split("\x00")
            commits.append({"id": oid, "title": title, "message": message.strip(),
                            "authors": [{"user": "test-user"}], "date": _iso(float(ctime))})
        return Response.json(commits)

    def _preupload(self, repo: GitRepo, revision: str, data: dict[str, Any]) -> Response:
        self._require_write()
        sha = self._resolve_rev(repo, revision)
        existing = repo.files(sha)
        answer = []
        for item in data.get("files", []):
            path = item.get("path")
            if not isinstance(path, str) or not _valid_path(path):
                raise HubError(400, f"Invalid path: {path!r}")
            entry: dict[str, Any] = {"path": path, "uploadMode": "regular", "shouldIgnore": False}
            if path in existing:
                entry["oid"] = existing[path][0]
            answer.append(entry)
        return Response.json({"files": answer, "commitOid": sha})

    def _commit(self, repo: GitRepo, repo_type: str, repo_id: str, revision: str, body: bytes,
                create_pr: bool) -> Response:
        self._require_write()
        header: Optional[dict[str, Any]] = None
        operations: list[tuple[str, str, Optional[bytes]]] = []
        for line in body.splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError):
                raise HubError(400, "Invalid NDJSON commit payload") from None
            if key == "header":
                header = value
                continue
            path = value.get("path") if isinstance(value, dict) else None
            if not isinstance(path, str) or not _valid_path(path.rstrip("/")):
                raise HubError(400, f"Invalid path in commit: {path!r}")
            if key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise HubError(400, "Only base64 file contents are supported")
                operations.append(("add", path, base64.b64decode(value.get("content", ""))))
            elif key == "deletedFile":
                operations.append(("delete", path, None))
            elif key == "deletedFolder":
                operations.append(("delete-folder", path.rstrip("/"), None))
            elif key == "lfsFile":
                raise HubError(400, "This server stores files in git only: upload in 'regular' mode")
            else:
                raise HubError(400, f"Unsupported commit operation {key!r}")
        if header is None or not header.get("summary"):
            raise HubError(400, "Commit summary is required")
        message = header["summary"]
        if header.get("description"):
            message += "\n\n" + header["description"]
        parent = header.get("parentCommit")

        with repo.lock:
            if create_pr:
                head = repo.branch_head(revision)
                if head is None:
                    raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
                base = head
                if parent:
                    base = repo.resolve(parent) if len(parent) == 40 else \
                        repo.run("rev-parse", "--verify", "-q", f"{parent}^{{commit}}", check=False).decode().strip()
                    if not base or not _SHA.fullmatch(base):
                        raise HubError(404, f"Invalid parent commit: {parent}", "RevisionNotFound")
                numbers = [int(ref.rsplit("/", 1)[1]) for ref, _ in repo.refs() if ref.startswith("refs/pr/")]
                number = max(numbers, default=0) + 1
                ref = f"refs/pr/{number}"
                new = repo.commit(ref, base, operations, message, None)
                repo.config_set(f"hub.pr{number}.target", revision)
                pr_url = f"{self.base_url}/{URL_PREFIXES[repo_type]}{repo_id}/discussions/{number}"
            else:
                if revision.startswith("refs/pr/"):
                    ref = revision
                    head = repo.resolve(revision)
                else:
                    ref = f"refs/heads/{revision}"
                    head = repo.branch_head(revision)
                if head is None:
                    raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
                if parent and not head.startswith(parent):
                    raise HubError(412, "A commit has happened since. Please refresh and try again.")
                new = repo.commit(ref, head, operations, message, head)
                pr_url = None
        return Response.json({
            "success": True,
            "commitOid": new,
            "commitUrl": f"{self.base_url}/{URL_PREFIXES[repo_type]}{repo_id}/commit/{new}",
            "commitMessage": message,
            "hookOutput": "",
            "pullRequestUrl": pr_url,
        })

    def _branch(self, repo: GitRepo, method: str, branch: str, data: dict[str, Any]) -> Response:
        self._require_write()
        if not branch or branch.startswith(("-", "refs/")) or ".." in branch or _SHA.fullmatch(branch):
            raise HubError(400, f"Invalid branch name: {branch}")
        check = subprocess.run(["git", "check-ref-format", f"refs/heads/{branch}"], capture_output=True)
        if check.returncode != 0:
            raise HubError(400, f"Invalid branch name: {branch}")
        with repo.lock:
            head = repo.branch_head(branch)
            if method == "DELETE":
                if head is None:
                    raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
                repo.run("update-ref", "-d", f"refs/heads/{branch}", head)
                return Response.json({})
            if head is not None:
                raise HubError(409, f"Reference already exists: refs/heads/{branch}")
            start = data.get("startingPoint") or "main"
            sha = self._resolve_rev(repo, start)
            repo.run("update-ref", f"refs/heads/{branch}", sha, "0" * 40)
        return Response.json({})

    def _tag(self, repo: GitRepo, method: str, name: str, data: dict[str, Any]) -> Response:
        self._require_write()
        with repo.lock:
            if method == "DELETE":
                if repo.resolve(f"refs/tags/{name}") is None:
                    raise HubError(404, f"Invalid rev id: {name}", "RevisionNotFound")
                repo.run("update-ref", "-d", f"refs/tags/{name}")
                return Response.json({})
            # POST /tag/{revision} {"tag": name}
            tag = data.get("tag")
            if not isinstance(tag, str) or not tag or tag.startswith("-") or ".." in tag:
                raise HubError(400, "Invalid tag name")
            sha = self._resolve_rev(repo, name)
            if repo.resolve(f"refs/tags/{tag}") is not None:
                raise HubError(409, f"Tag already exists: {tag}")
            repo.run("update-ref", f"refs/tags/{tag}", sha, "0" * 40)
        return Response.json({})

    # -- /{prefix}{repo_id}/resolve/{revision}/{path} ------------------------------------

    def _resolve(self, method: str, segments: list[str]) -> Optional[Response]:
        if method not in ("GET", "HEAD"):
            raise HubError(405, "Method not allowed")
        if len(segments) >= 5 and segments[0] in _TYPED_PREFIXES and segments[3] == "resolve":
            repo_type, repo_id, rest = _TYPED_PREFIXES[segments[0]], f"{segments[1]}/{segments[2]}", segments[4:]
        elif len(segments) >= 4 and segments[2] == "resolve":
            repo_type, repo_id, rest = "model", f"{segments[0]}/{segments[1]}", segments[3:]
        else:
            raise HubError(404, "Sorry, we can't find the page you are looking for.")
        revision, path = rest[0], "/".join(rest[1:])
        repo = self.hub._repo(repo_type, repo_id, self.authorized)
        sha = self._resolve_rev(repo, revision)
        found = repo.object_at(sha, path) if path else None
        if found is None or found[0] != "blob":
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": sha})
        oid = found[1]
        content = repo.read_blob(oid)
        size = len(content)
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": sha,
            "ETag": f'"{oid}"',
            "Accept-Ranges": "bytes",
        }
        status, start, end = 200, 0, size
        range_header = self.headers.get("Range")
        if range_header:
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
            if match is None:
                raise HubError(416, "Invalid range")
            start = int(match[1])
            end = min(int(match[2]) + 1, size) if match[2] else size
            if start >= size and size > 0:
                raise HubError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{max(end - 1, start)}/{size}"
        body = content[start:end]
        headers["Content-Length"] = str(len(body))
        fault = self.hub._fault_for(path) if method == "GET" else None
        if fault is None:
            return Response(status, body, headers)
        fault.hit.set()
        if fault.action == "error":
            raise HubError(fault.status, "Injected server error")
        # Stall: half the body, then hang until released, then drop the connection.
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        fault.released.wait(timeout=120)
        self.close_connection = True
        return None

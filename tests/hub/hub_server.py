"""A small in-memory server speaking the part of the Hugging Face Hub protocol that `huggingface_hub` uses.

It lets the test suite exercise the real client (``HfApi``, ``hf_hub_download``, ``transformers`` and ``datasets``
loading and pushing) with no network: point ``HF_ENDPOINT`` at :attr:`HubServer.url` (set it before
``huggingface_hub`` is imported, e.g. in the environment of a subprocess) and set ``HF_HUB_DISABLE_XET=1`` (this
server does not implement Xet storage, so the client must use the legacy LFS protocol).

What is implemented, following the client in ``huggingface_hub`` (``hf_api.py``, ``_commit_api.py``, ``lfs.py``,
``file_download.py``):

* ``GET /api/whoami-v2``; ``POST /api/repos/create``; ``POST /api/validate-yaml``; ``GET /api/agent-harnesses``
  (an empty registry);
* ``GET /api/{models,datasets,spaces}/{repo}[/revision/{rev}]`` (repo info, ``siblings`` with ``?blobs=true``);
* ``GET /api/{type}s/{repo}/tree/{rev}[/{path}]`` (``recursive``, ``expand``), ``POST .../paths-info/{rev}``,
  ``GET .../refs``;
* ``POST /api/{type}s/{repo}/preupload/{rev}`` (regular vs LFS, decided like the Hub: ``.gitattributes`` LFS
  patterns, binary content or size >= 10 MiB) and ``POST .../commit/{rev}`` (NDJSON, atomic: an invalid operation
  rejects the whole commit; ``parentCommit`` is checked);
* the LFS batch API ``POST /[{type}s/]{repo}.git/info/lfs/objects/batch`` with a ``PUT`` upload URL on this server
  that checks the SHA-256;
* ``HEAD``/``GET /[{type}s/]{repo}/resolve/{rev}/{path}`` with ``ETag`` (git blob id, or SHA-256 for LFS files),
  ``X-Repo-Commit``, ``X-Linked-Etag``/``X-Linked-Size`` and ``Content-Length``, single byte ranges (HTTP 206).

Errors carry the ``X-Error-Code`` header (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) that the client
turns into its typed exceptions. Writes need an ``Authorization: Bearer`` header; any token is accepted and
belongs to the user ``tester`` (there are no permissions or private-repo checks). ``reject_commits = True`` makes
every commit fail, to test that a failed push changes nothing. Not implemented: branches other than ``main``, pull
requests, tags, ``.gitignore`` (``shouldIgnore`` is always false), multipart LFS uploads. Commit ids are
deterministic SHA-1s, not real git commit hashes; blob ids are real git blob ids.

Run it by hand with ``python tests/hub/hub_server.py --port 8765`` and ``HF_ENDPOINT=http://127.0.0.1:8765``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fnmatch
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

USER = "tester"
REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
LFS_BATCH_PATH = ["info", "lfs", "objects", "batch"]  # after "{namespace}/{name}.git"
DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in ("*.bin", "*.safetensors", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.onnx", "*.npy", "*.npz",
                    "*.pkl", "*.pickle", "*.arrow", "*.parquet", "*.wav", "*.flac", "*.mp3", "*.ogg", "*.zip",
                    "*.gz", "*.tar", "*.zst")
)


def git_blob_id(content: bytes) -> str:
    """The git object id of a blob (what the Hub reports as a regular file's ``oid`` and ``ETag``)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file that stands for an LFS object in the git tree."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class HubHTTPError(Exception):
    """An error response: status, message and the optional ``X-Error-Code`` the client dispatches on."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None,
                 body: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}
        self.body = {"error": message, **(body or {})}


@dataclass(frozen=True)
class FileEntry:
    """A file of a commit: regular (``content``) or LFS (``lfs_sha256``; the bytes live in the LFS store)."""

    size: int
    content: bytes | None = None
    lfs_sha256: str | None = None
    last_commit: str = ""

    @property
    def blob_id(self) -> str:
        return git_blob_id(self.content if self.lfs_sha256 is None else lfs_pointer(self.lfs_sha256, self.size))

    @property
    def etag(self) -> str:
        return self.lfs_sha256 or self.blob_id


@dataclass
class Commit:
    oid: str
    title: str
    date: str
    files: dict[str, FileEntry]


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit:
        """Branch name or full commit id -> commit; unknown revisions raise ``RevisionNotFound``."""
        oid = self.branches.get(revision, revision)
        if oid not in self.commits:
            raise HubHTTPError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return self.commits[oid]


class HubStorage:
    """Repositories and LFS objects, in memory, guarded by one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self._counter = 0

    def repo(self, repo_type: str, repo_id: str) -> Repo:
        try:
            return self.repos[(repo_type, repo_id)]
        except KeyError:
            raise HubHTTPError(404, "Repository not found", "RepoNotFound") from None

    def new_commit(self, repo: Repo, title: str, files: dict[str, FileEntry]) -> Commit:
        """Record a commit on ``main``; files changed by it get it as their last commit."""
        self._counter += 1
        parent = repo.branches.get("main", "")
        oid = hashlib.sha1(f"{repo.repo_type}/{repo.repo_id}/{parent}/{self._counter}/{title}".encode()).hexdigest()
        previous = repo.commits[parent].files if parent else {}

        def stamp(path: str, entry: FileEntry) -> FileEntry:
            old = previous.get(path)
            if entry.last_commit:
                return entry
            if old is not None and (old.content, old.lfs_sha256) == (entry.content, entry.lfs_sha256):
                return old
            return replace(entry, last_commit=oid)

        commit = Commit(oid, title, now_iso(), {path: stamp(path, entry) for path, entry in files.items()})
        repo.commits[oid] = commit
        repo.branches["main"] = oid
        return commit


def _parse_bool(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


def _tree_entry(path: str, entry: FileEntry | None, commits: dict[str, Commit], expand: bool) -> dict:
    """One item of the tree / paths-info API (``entry`` is ``None`` for a directory)."""
    if entry is None:
        item = {"type": "directory", "oid": hashlib.sha1(f"tree {path}".encode()).hexdigest(), "size": 0, "path": path}
    else:
        item = {"type": "file", "oid": entry.blob_id, "size": entry.size, "path": path}
        if entry.lfs_sha256:
            item["lfs"] = {"oid": entry.lfs_sha256, "size": entry.size,
                           "pointerSize": len(lfs_pointer(entry.lfs_sha256, entry.size))}
    if expand and entry is not None and entry.last_commit in commits:
        commit = commits[entry.last_commit]
        item["lastCommit"] = {"id": commit.oid, "title": commit.title, "date": commit.date}
    return item


def _directories(files: dict[str, FileEntry]) -> set[str]:
    return {"/".join(path.split("/")[:i]) for path in files for i in range(1, path.count("/") + 1)}


class HubRequestHandler(BaseHTTPRequestHandler):
    """Routes requests to the Hub endpoints; ``self.server`` is a :class:`HubServer`."""

    server_version = "wav2tok-test-hub/1.0"
    protocol_version = "HTTP/1.0"

    # ------------------------------------------------------------------ plumbing
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
        if self.server.verbose:
            super().log_message(format, *args)

    def _body(self) -> bytes:
        """The request body, plain or ``Transfer-Encoding: chunked`` (used by streamed LFS uploads)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json",
              headers: dict[str, str] | None = None, head: bool = False, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, payload, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _require_token(self) -> None:
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            raise HubHTTPError(401, "Invalid username or password.")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.strip("/").split("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            self.server.route(self, method, segments, query)
        except HubHTTPError as error:
            headers = {"X-Error-Message": error.message, **error.headers}
            if error.code:
                headers["X-Error-Code"] = error.code
            self._send(error.status, json.dumps(error.body).encode(), headers=headers,
                       head=method == "HEAD")

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")


class HubServer(ThreadingHTTPServer):
    """The Hub-protocol server. ``start()`` serves from a daemon thread; ``stop()`` closes the socket.

    Example (the client side must see ``HF_ENDPOINT`` when `huggingface_hub` is imported, so use a subprocess):

    >>> server = HubServer().start()
    >>> server.url.startswith("http://127.0.0.1:")
    True
    >>> server.stop()
    """

    daemon_threads = True

    def __init__(self, port: int = 0, storage: HubStorage | None = None, verbose: bool = False):
        super().__init__(("127.0.0.1", port), HubRequestHandler)
        self.storage = storage or HubStorage()
        self.verbose = verbose
        self.reject_commits = False  # fault injection: answer every commit with HTTP 422
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self.serve_forever, name="hub-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()

    # ------------------------------------------------------------------ routing
    def route(self, h: HubRequestHandler, method: str, seg: list[str], query: dict[str, str]) -> None:
        if method == "GET" and seg == ["api", "whoami-v2"]:
            h._require_token()
            return h._json({"type": "user", "name": USER, "fullname": USER, "orgs": [],
                            "auth": {"type": "access_token", "accessToken": {"role": "write"}}})
        if method == "GET" and seg == ["api", "agent-harnesses"]:
            return h._json({"standardEnvVars": [], "harnesses": {}})
        if method == "POST" and seg == ["api", "repos", "create"]:
            return self.create_repo(h)
        if method == "POST" and seg == ["api", "validate-yaml"]:
            h._body()
            return h._json({"errors": [], "warnings": []})
        if method == "PUT" and len(seg) == 2 and seg[0] == "lfs-upload":
            return self.lfs_put(h, seg[1])
        if seg[0] == "api" and len(seg) >= 4 and seg[1] in REPO_TYPES:
            return self.api_repo(h, method, REPO_TYPES[seg[1]], f"{seg[2]}/{seg[3]}", seg[4:], query)
        repo_type = REPO_TYPES.get(seg[0]) if seg[0] in ("datasets", "spaces") else "model"
        rest = seg[1:] if repo_type != "model" else seg
        if method == "POST" and len(rest) == 6 and rest[1].endswith(".git") and rest[2:] == LFS_BATCH_PATH:
            return self.lfs_batch(h, repo_type, f"{rest[0]}/{rest[1][:-4]}")
        if method in ("GET", "HEAD") and len(rest) >= 5 and rest[2] == "resolve":
            return self.resolve(h, method, repo_type, f"{rest[0]}/{rest[1]}", unquote(rest[3]),
                                unquote("/".join(rest[4:])))
        raise HubHTTPError(404, f"no route for {method} /{'/'.join(seg)}")

    def api_repo(self, h, method: str, repo_type: str, repo_id: str, rest: list[str], query: dict[str, str]) -> None:
        with self.storage.lock:
            repo = self.storage.repo(repo_type, repo_id)
            if method == "GET" and not rest:
                return self.repo_info(h, repo, repo.resolve("main"), query)
            if method == "GET" and len(rest) == 2 and rest[0] == "revision":
                return self.repo_info(h, repo, repo.resolve(unquote(rest[1])), query)
            if method == "GET" and rest == ["refs"]:
                branches = [{"name": name, "ref": f"refs/heads/{name}", "targetCommit": oid}
                            for name, oid in repo.branches.items()]
                return h._json({"branches": branches, "tags": [], "converts": []})
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                commit = repo.resolve(unquote(rest[1]))
                return self.tree(h, repo, commit, unquote("/".join(rest[2:])), query)
            if method == "POST" and len(rest) == 2 and rest[0] == "paths-info":
                commit = repo.resolve(unquote(rest[1]))
                form = parse_qs(h._body().decode())
                expand = _parse_bool(form.get("expand", ["false"])[-1])
                dirs = _directories(commit.files)
                found = [p for p in form.get("paths", []) if p in commit.files or p in dirs]
                return h._json([_tree_entry(p, commit.files.get(p), repo.commits, expand) for p in found])
            if method == "POST" and len(rest) == 2 and rest[0] == "preupload":
                return self.preupload(h, repo, repo.resolve(unquote(rest[1])))
            if method == "POST" and len(rest) == 2 and rest[0] == "commit":
                return self.commit(h, repo, unquote(rest[1]))
        raise HubHTTPError(404, f"no route for {method} /api/{repo_type}s/{repo_id}/{'/'.join(rest)}")

    # ------------------------------------------------------------------ repositories
    def create_repo(self, h: HubRequestHandler) -> None:
        h._require_token()
        payload = json.loads(h._body() or b"{}")
        repo_type = payload.get("type") or "model"
        name = payload.get("name") or ""
        if repo_type not in URL_PREFIXES or not re.fullmatch(r"[\w.-]+", name):
            raise HubHTTPError(400, f"invalid repository type {repo_type!r} or name {name!r}")
        repo_id = f"{payload.get('organization') or USER}/{name}"
        url = f"{self.url}/{URL_PREFIXES[repo_type]}{repo_id}"
        with self.storage.lock:
            if (repo_type, repo_id) in self.storage.repos:
                raise HubHTTPError(409, f"You already created this {repo_type} repo", body={"url": url})
            repo = Repo(repo_type, repo_id, payload.get("visibility") == "private" or bool(payload.get("private")),
                        now_iso())
            self.storage.repos[(repo_type, repo_id)] = repo
            content = DEFAULT_GITATTRIBUTES.encode()
            self.storage.new_commit(repo, "initial commit", {".gitattributes": FileEntry(len(content), content)})
        h._json({"url": url, "name": repo_id, "id": repo_id})

    def repo_info(self, h, repo: Repo, commit: Commit, query: dict[str, str]) -> None:
        blobs = _parse_bool(query.get("blobs"))
        siblings = []
        for path, entry in sorted(commit.files.items()):
            sibling = {"rfilename": path}
            if blobs:
                sibling.update(size=entry.size, blobId=entry.blob_id)
                if entry.lfs_sha256:
                    sibling["lfs"] = {"sha256": entry.lfs_sha256, "size": entry.size,
                                      "pointerSize": len(lfs_pointer(entry.lfs_sha256, entry.size))}
            siblings.append(sibling)
        h._json({"_id": repo.repo_id, "id": repo.repo_id, "author": repo.repo_id.split("/")[0], "sha": commit.oid,
                 "lastModified": commit.date, "createdAt": repo.created_at, "private": repo.private,
                 "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [], "siblings": siblings})

    def tree(self, h, repo: Repo, commit: Commit, path: str, query: dict[str, str]) -> None:
        recursive, expand = _parse_bool(query.get("recursive")), _parse_bool(query.get("expand"))
        dirs = _directories(commit.files)
        if path and path not in dirs:
            raise HubHTTPError(404, f"{path} does not exist on {commit.oid}", "EntryNotFound",
                               {"X-Repo-Commit": commit.oid})
        prefix = f"{path}/" if path else ""
        items = []
        for name in sorted(dirs | set(commit.files)):
            if not name.startswith(prefix) or (not recursive and "/" in name[len(prefix):]):
                continue
            items.append(_tree_entry(name, commit.files.get(name), repo.commits, expand))
        h._json(items)

    # ------------------------------------------------------------------ uploads
    def preupload(self, h, repo: Repo, commit: Commit) -> None:
        payload = json.loads(h._body())
        attributes = commit.files.get(".gitattributes")
        gitattributes = attributes.content.decode() if attributes is not None and attributes.content else ""
        lfs_patterns = [line.split()[0] for line in gitattributes.splitlines() if "filter=lfs" in line]
        files = []
        for item in payload["files"]:
            path, size, sample = item["path"], int(item["size"]), base64.b64decode(item["sample"])
            name = path.rsplit("/", 1)[-1]
            lfs = (size >= LFS_SIZE_THRESHOLD or b"\0" in sample
                   or any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p) for p in lfs_patterns))
            existing = commit.files.get(path)
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                          "oid": existing.etag if existing else None})
        h._json({"files": files, "commitOid": commit.oid})

    def lfs_batch(self, h, repo_type: str, repo_id: str) -> None:
        h._require_token()
        payload = json.loads(h._body())
        with self.storage.lock:
            self.storage.repo(repo_type, repo_id)
            objects = []
            for obj in payload.get("objects", []):
                item = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
                if obj["oid"] not in self.storage.lfs_objects:
                    item["actions"] = {"upload": {"href": f"{self.url}/lfs-upload/{obj['oid']}", "header": {}}}
                objects.append(item)
        h._send(200, json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode(),
                content_type="application/vnd.git-lfs+json")

    def lfs_put(self, h, sha256: str) -> None:
        content = h._body()
        if hashlib.sha256(content).hexdigest() != sha256:
            raise HubHTTPError(400, "uploaded content does not match its SHA-256")
        with self.storage.lock:
            self.storage.lfs_objects[sha256] = content
        h._send(200)

    def commit(self, h, repo: Repo, revision: str) -> None:
        """Apply an NDJSON commit atomically: every operation is checked before the new commit is recorded."""
        h._require_token()
        if self.reject_commits:
            raise HubHTTPError(422, "commit rejected (HubServer.reject_commits is set)")
        if revision != "main":
            raise HubHTTPError(400, f"this server only commits to 'main', not {revision!r}")
        lines = [json.loads(line) for line in h._body().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubHTTPError(400, "a commit starts with a header line")
        header = lines[0]["value"]
        head = repo.resolve("main")
        if header.get("parentCommit") and header["parentCommit"] != head.oid:
            raise HubHTTPError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(head.files)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value", {})
            path = value.get("path", "")
            if not path or path.startswith("/") or ".." in path.split("/"):
                raise HubHTTPError(400, f"invalid path {path!r}")
            if key == "file":
                content = base64.b64decode(value["content"])
                files[path] = FileEntry(len(content), content)
            elif key == "lfsFile":
                oid = value["oid"]
                if oid not in self.storage.lfs_objects:
                    raise HubHTTPError(400, f"LFS object {oid} of {path} was never uploaded")
                files[path] = FileEntry(len(self.storage.lfs_objects[oid]), lfs_sha256=oid)
            elif key == "deletedFile":
                if files.pop(path, None) is None:
                    raise HubHTTPError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            elif key == "deletedFolder":
                prefix = path.rstrip("/") + "/"
                files = {p: e for p, e in files.items() if not p.startswith(prefix)}
            else:
                raise HubHTTPError(400, f"unsupported commit operation {key!r}")
        commit = self.storage.new_commit(repo, header.get("summary") or "update", files)
        url = f"{self.url}/{URL_PREFIXES[repo.repo_type]}{repo.repo_id}/commit/{commit.oid}"
        h._json({"success": True, "commitOid": commit.oid, "commitUrl": url, "hookOutput": "",
                 "pullRequestUrl": None})

    # ------------------------------------------------------------------ downloads
    def resolve(self, h, method: str, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        with self.storage.lock:
            repo = self.storage.repo(repo_type, repo_id)
            commit = repo.resolve(revision)
            entry = commit.files.get(path)
            if entry is None:
                raise HubHTTPError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.oid})
            content = entry.content if entry.lfs_sha256 is None else self.storage.lfs_objects[entry.lfs_sha256]
        headers = {"ETag": f'"{entry.etag}"', "X-Repo-Commit": commit.oid, "Accept-Ranges": "bytes"}
        if entry.lfs_sha256:
            headers.update({"X-Linked-Etag": f'"{entry.lfs_sha256}"', "X-Linked-Size": str(entry.size)})
        status, body = 200, content
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", h.headers.get("Range", ""))
        if match and (match[1] or match[2]):
            start = int(match[1]) if match[1] else max(0, len(content) - int(match[2]))
            end = min(int(match[2]), len(content) - 1) if match[1] and match[2] else len(content) - 1
            if start >= len(content) and content:
                raise HubHTTPError(416, "Requested range not satisfiable",
                                   headers={"Content-Range": f"bytes */{len(content)}"})
            status, body = 206, content[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{start + len(body) - 1}/{len(content)}"
        h._send(status, body, content_type="application/octet-stream", headers=headers, head=method == "HEAD")


def client_env(url: str, home: str, token: str = "hf_test_token") -> dict[str, str]:
    """Environment of a client subprocess talking to the server at ``url`` (no Xet: the server speaks LFS; ``home``
    is its ``HOME`` and ``HF_HOME``)."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": home, "HF_HOME": home, "HF_ENDPOINT": url, "HF_TOKEN": token,
            "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error", "OMP_NUM_THREADS": "1"}


def run_python(script: str, env: dict[str, str], timeout: float = 240) -> dict:
    """Run a script in a fresh interpreter (the client side must see ``HF_ENDPOINT`` when `huggingface_hub` is
    imported); it prints one JSON object as its last line, which is returned."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, env=env,
                         timeout=timeout)
    assert out.returncode == 0, f"subprocess failed:\n{out.stderr[-4000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


class LocalHub:
    """A [`HubServer`] that can be stopped and brought back on the same port with the same data.

    Example:

    >>> hub = LocalHub()
    >>> with hub.stopped():  # nothing listens on hub.url here
    ...     pass
    >>> hub.files("tester/none")
    Traceback (most recent call last):
    ...
    hub_server.HubHTTPError: Repository not found
    >>> hub.close()
    """

    def __init__(self):
        self.server = HubServer().start()
        self.url = self.server.url

    @property
    def storage(self) -> HubStorage:
        return self.server.storage

    def files(self, repo_id: str, repo_type: str = "model") -> dict[str, bytes]:
        """Path -> content of the head of ``main`` (LFS files resolved)."""
        repo = self.storage.repo(repo_type, repo_id)
        files = repo.resolve("main").files
        lfs = self.storage.lfs_objects
        return {path: lfs[e.lfs_sha256] if e.lfs_sha256 else e.content for path, e in files.items()}

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        port, storage = self.server.server_address[1], self.server.storage
        self.server.stop()
        try:
            yield
        finally:
            self.server = HubServer(port, storage=storage).start()

    def close(self) -> None:
        self.server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve an in-memory Hugging Face Hub for local tests.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args()
    server = HubServer(args.port, verbose=True)
    print(f"HF_ENDPOINT={server.url} HF_HUB_DISABLE_XET=1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()

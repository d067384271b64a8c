"""Helpers for the Hub tests: run client code in subprocesses, write and push small kernels."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .server import HubServer

TOKEN = "hf_test_token"


def run_python(code: str, env: Mapping[str, str], timeout: float = 300,
               check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (so HF_ENDPOINT and friends are read at import)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=dict(env), capture_output=True,
                            text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"python exited with {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def last_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON document printed on the last line of standard output."""
    return json.loads(result.stdout.strip().splitlines()[-1])


def hub_api(server: HubServer) -> Any:
    """An in-process ``HfApi`` for ``server`` (explicit endpoint: HF_ENDPOINT is read at import time)."""
    from huggingface_hub import HfApi

    return HfApi(endpoint=server.url, token=TOKEN)


def variant_files(variant: str, *, name: str = "noarch", version: int = 1, backend: str = "cpu",
                  init: str = "VALUE = 42\n", metadata: Union[dict[str, Any], str, None] = None,
                  extra: Optional[dict[str, bytes]] = None) -> dict[str, bytes]:
    """The files of a small Python-only build variant, keyed by their path in the repository.

    ``metadata`` replaces the generated ``metadata.json``: a string is written
    as is (so it can be corrupt) and ``""`` leaves the file out.
    """
    if metadata is None:
        metadata = {"id": f"_{name.replace('-', '_')}_{backend}_test", "name": name, "version": version,
                    "license": "Apache-2.0", "backend": {"type": backend}}
        if backend in ("cuda", "rocm"):
            metadata["backend"]["archs"] = ["8.0"]
    prefix = f"build/{variant}/"
    files = {f"{prefix}__init__.py": init.encode()}
    module = name.replace("-", "_")
    files[f"{prefix}{module}/__init__.py"] = b"from .. import *\n"
    if metadata != "":
        text = metadata if isinstance(metadata, str) else json.dumps(metadata, indent=2) + "\n"
        files[f"{prefix}metadata.json"] = text.encode()
    for path, content in (extra or {}).items():
        files[f"{prefix}{path}"] = content
    return files


def push(server: HubServer, repo_id: str, files: Mapping[str, bytes], *, branch: str = "main",
         repo_type: str = "kernel", deletes: tuple[str, ...] = (), message: str = "test files") -> str:
    """Create the repository and branch if needed and commit ``files`` there; returns the commit sha."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api = hub_api(server)
    api.create_repo(repo_id, repo_type=repo_type, exist_ok=True)
    if branch != "main":
        api.create_branch(repo_id, branch=branch, repo_type=repo_type, exist_ok=True)
    operations: list[Any] = [CommitOperationDelete(path_in_repo=p) for p in deletes]
    operations += [CommitOperationAdd(path_in_repo=p, path_or_fileobj=c) for p, c in files.items()]
    return api.create_commit(repo_id, operations, commit_message=message, revision=branch,
                             repo_type=repo_type).oid


def write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

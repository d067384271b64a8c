"""The test Hub answers unmodified huggingface_hub like the Hub does (in-process, explicit endpoint)."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from hub_server import HubServer
from hub_server.helpers import TOKEN, hub_api, push
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)


@pytest.fixture
def hub(tmp_path: Path):
    with HubServer(tmp_path / "hub", orgs={"trusted-org": {"trusted": True}, "plain-org": {}}, page_size=3) as server:
        yield server


def test_repositories_branches_and_commits(hub: HubServer) -> None:
    api = hub_api(hub)
    url = api.create_repo("trusted-org/k", repo_type="kernel")
    assert url == f"{hub.url}/kernels/trusted-org/k"
    assert api.create_repo("trusted-org/k", repo_type="kernel", exist_ok=True) == url  # 409 carries the url
    with pytest.raises(HfHubHTTPError) as info:
        api.create_repo("trusted-org/k", repo_type="kernel")
    assert info.value.response.status_code == 409
    # A new repository has one commit with .gitattributes, like on the Hub.
    assert api.list_repo_files("trusted-org/k", repo_type="kernel") == [".gitattributes"]
    main = api.list_repo_refs("trusted-org/k", repo_type="kernel").branches[0]
    assert main.name == "main" and hub.git("trusted-org/k", "rev-parse", "main", repo_type="kernel").strip() == \
        main.target_commit

    api.create_branch("trusted-org/k", branch="v1", repo_type="kernel")
    api.create_branch("trusted-org/k", branch="v1", repo_type="kernel", exist_ok=True)
    commit = api.create_commit("trusted-org/k", [CommitOperationAdd("a/b.txt", b"one"),
                                                 CommitOperationAdd("c.txt", b"two")],
                               commit_message="add", revision="v1", repo_type="kernel")
    assert commit.commit_url == f"{hub.url}/kernels/trusted-org/k/commit/{commit.oid}"
    info = api.repo_info("trusted-org/k", repo_type="kernel", revision="v1")
    assert info.sha == commit.oid and info.last_modified is not None
    # Stale parent: the commit is refused (412) and the branch is unchanged.
    with pytest.raises(HfHubHTTPError) as error:
        api.create_commit("trusted-org/k", [CommitOperationDelete("c.txt")], commit_message="del",
                          revision="v1", repo_type="kernel", parent_commit=main.target_commit)
    assert error.value.response.status_code == 412
    second = api.create_commit("trusted-org/k", [CommitOperationDelete("a/")], commit_message="del",
                               revision="v1", repo_type="kernel", parent_commit=commit.oid)
    files = api.list_repo_files("trusted-org/k", repo_type="kernel", revision="v1")
    assert sorted(files) == [".gitattributes", "c.txt"]
    assert hub.git("trusted-org/k", "rev-parse", f"{second.oid}~1", repo_type="kernel").strip() == commit.oid
    # Tags and shas are revisions too.
    api.create_tag("trusted-org/k", tag="first", revision=commit.oid, repo_type="kernel")
    assert api.repo_info("trusted-org/k", repo_type="kernel", revision="first").sha == commit.oid
    assert api.repo_info("trusted-org/k", repo_type="kernel", revision=commit.oid).sha == commit.oid


def test_typed_errors(hub: HubServer) -> None:
    api = hub_api(hub)
    push(hub, "plain-org/k", {"x.txt": b"x"})
    with pytest.raises(RepositoryNotFoundError):
        api.repo_info("plain-org/missing", repo_type="kernel")
    with pytest.raises(RepositoryNotFoundError):
        api.repo_info("plain-org/k", repo_type="model")  # Repository types are separate namespaces.
    with pytest.raises(RevisionNotFoundError):
        api.repo_info("plain-org/k", repo_type="kernel", revision="v9")
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_tree("plain-org/k", repo_type="kernel", revision="0" * 40).__next__()
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree("plain-org/k", repo_type="kernel", path_in_repo="build"))
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("plain-org/k", "missing.txt", repo_type="kernel", endpoint=hub.url, token=TOKEN,
                        cache_dir=hub.root / "cache")
    response = httpx2.get(f"{hub.url}/kernels/plain-org/k/resolve/main/missing.txt")
    assert response.status_code == 404 and response.headers["X-Error-Code"] == "EntryNotFound"
    assert response.headers["X-Repo-Commit"] == api.repo_info("plain-org/k", repo_type="kernel").sha
    # Writes need a token, like on the Hub.
    with pytest.raises(HfHubHTTPError) as info:
        HfApi(endpoint=hub.url, token=False).create_repo("plain-org/other", repo_type="kernel")
    assert info.value.response.status_code == 401


def test_tree_listing_pages_and_downloads(hub: HubServer, tmp_path: Path) -> None:
    files = {f"build/v/f{i}.py": f"# {i}\n".encode() for i in range(7)}
    sha = push(hub, "plain-org/many", files)
    api = hub_api(hub)
    listed = [e.path for e in api.list_repo_tree("plain-org/many", repo_type="kernel", recursive=True)]
    assert sorted(listed) == sorted([".gitattributes", "build", "build/v", *files])  # Over three pages of 3.
    assert any("cursor=" in r.path for r in hub.requests())
    snapshot = snapshot_download("plain-org/many", repo_type="kernel", revision="main", endpoint=hub.url,
                                 token=TOKEN, cache_dir=tmp_path / "cache", allow_patterns=["build/v/f1*"])
    assert Path(snapshot).name == sha
    assert (Path(snapshot) / "build/v/f1.py").read_bytes() == b"# 1\n"
    assert sorted(p.name for p in (Path(snapshot) / "build/v").iterdir()) == ["f1.py"]
    # Range requests resume downloads.
    response = httpx2.get(f"{hub.url}/kernels/plain-org/many/resolve/{sha}/build/v/f3.py",
                          headers={"Range": "bytes=2-"})
    assert response.status_code == 206 and response.content == b"3\n"
    assert response.headers["Content-Range"] == "bytes 2-3/4"
    head = httpx2.head(f"{hub.url}/kernels/plain-org/many/resolve/main/build/v/f3.py")
    assert head.headers["X-Repo-Commit"] == sha and head.headers["Content-Length"] == "4"
    assert head.headers["ETag"].strip('"') == hub.git("plain-org/many", "rev-parse", "main:build/v/f3.py",
                                                      repo_type="kernel").strip()


def test_private_repositories_and_pull_requests(hub: HubServer) -> None:
    api = hub_api(hub)
    api.create_repo("plain-org/secret", repo_type="kernel", private=True)
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub.url, token=False).repo_info("plain-org/secret", repo_type="kernel")
    assert api.repo_info("plain-org/secret", repo_type="kernel").private is True
    head = api.repo_info("plain-org/secret", repo_type="kernel").sha
    pr = api.create_commit("plain-org/secret", [CommitOperationAdd("new.txt", b"new")], commit_message="pr",
                           repo_type="kernel", create_pr=True)
    assert pr.pr_url == f"{hub.url}/kernels/plain-org/secret/discussions/1" and pr.pr_revision == "refs/pr/1"
    assert api.repo_info("plain-org/secret", repo_type="kernel").sha == head  # main is untouched
    refs = api.list_repo_refs("plain-org/secret", repo_type="kernel", include_pull_requests=True)
    assert [(r.ref, r.target_commit) for r in refs.pull_requests or []] == [("refs/pr/1", pr.oid)]


def test_organization_overview_carries_the_trust_flag(hub: HubServer) -> None:
    api = hub_api(hub)
    assert api.get_organization_overview("trusted-org").trustedKernelPublisher is True
    assert not hasattr(api.get_organization_overview("plain-org"), "trustedKernelPublisher")
    with pytest.raises(HfHubHTTPError) as info:
        api.get_organization_overview("nobody")
    assert info.value.response.status_code == 404

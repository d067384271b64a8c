"""Publisher trust: which kernels may run without ``trust_remote_code=True``.

A kernel runs when its publisher (the repository's owner) is an organization
the Hub marks ``trustedKernelPublisher``, and the revision is one the
publisher published: a branch or tag of the repository, or a commit one of
them leads to. Pull requests (``refs/pr/N``, which anyone may open) and
commits on no branch or tag need ``trust_remote_code=True``. A positive
publisher answer is remembered per endpoint for :data:`TRUST_TTL_SECONDS`
(and used offline); a commit found on a branch or tag is remembered for good.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Union

from .cache import cache_root
from .client import network_errors, one_line, request_failed
from .errors import UntrustedPublisherError
from .ids import is_commit_sha, is_pull_request_ref

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi

    from .resolve import HubTarget

logger = logging.getLogger(__name__)

#: How long a positive publisher-trust answer from the Hub is reused without asking again.
TRUST_TTL_SECONDS = 24 * 60 * 60

TrustRemoteCode = Union[bool, list, tuple]
_HOW = "pass trust_remote_code=True to load it anyway"


def trust_file() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "kernels" / "trusted-publishers.json"


def published_commits_file() -> Path:
    return trust_file().with_name("published-commits.json")


def _read_record(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_record(path: Path, data: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:
        pass  # A record only saves a request next time.


def _read_trust() -> dict[str, Any]:
    return _read_record(trust_file())


def _remember_trust(endpoint: str, org: str) -> None:
    data = _read_trust()
    entry = data.get(endpoint)
    data[endpoint] = {**(entry if isinstance(entry, dict) else {}), org: time.time()}
    _write_record(trust_file(), data)


def is_allow_listed(repo_id: str, trust_remote_code: TrustRemoteCode) -> bool:
    """Whether the caller trusts ``repo_id`` itself: ``True``, or a list of repository ids naming it."""
    if trust_remote_code is True:
        return True
    if isinstance(trust_remote_code, (list, tuple)):
        bad = [entry for entry in trust_remote_code if not isinstance(entry, str)]
        if bad:
            raise TypeError(f"trust_remote_code must be True, False or a list of repository ids, got {bad[0]!r} in it")
        return repo_id in trust_remote_code
    if trust_remote_code is not False:
        raise TypeError(f"trust_remote_code must be True, False or a list of strings, got {trust_remote_code!r}")
    return False


def _recorded_trust(endpoint: str, org: str, offline: bool) -> bool:
    entry = _read_trust().get(endpoint)
    checked_at = entry.get(org) if isinstance(entry, dict) else None
    return isinstance(checked_at, (int, float)) and (offline or time.time() - checked_at < TRUST_TTL_SECONDS)


def check_trusted_publisher(api: "HfApi", repo_id: str, trust_remote_code: TrustRemoteCode,
                            offline: bool = False) -> None:
    """Raise :class:`UntrustedPublisherError` unless the publisher of ``repo_id`` may be loaded.

    ``trust_remote_code=True`` allows any publisher, and a list of repository
    ids allows those repositories (an allow-list, as upstream ``kernels``
    reads it). Otherwise the Hub's organization overview must carry
    ``trustedKernelPublisher: true``. Offline, a publisher with no recorded
    answer is let through with a warning, as upstream does: only cached
    kernels load offline, and they were trust-checked when downloaded.
    """
    if is_allow_listed(repo_id, trust_remote_code):
        return
    org = repo_id.split("/", 1)[0]
    if _recorded_trust(api.endpoint, org, offline):
        return
    if offline:
        message = (f"Skipping publisher trust check for '{repo_id}' because Hugging Face Hub is in offline mode "
                   "(nothing can be downloaded, so only a kernel already in the cache loads)")
        logger.warning(message)
        return
    from huggingface_hub.errors import HfHubHTTPError

    try:
        overview = api.get_organization_overview(org)
        trusted = getattr(overview, "trustedKernelPublisher", False) is True
    except network_errors() as e:
        status = e.response.status_code if isinstance(e, HfHubHTTPError) and e.response is not None else None
        if status != 404:
            raise UntrustedPublisherError(
                f"could not check whether {org!r} is a trusted kernel publisher ({one_line(e)}); {_HOW}"
            ) from None
        trusted = False  # Users and unknown organizations are not trusted publishers.
    if not trusted:
        raise UntrustedPublisherError(f"{repo_id} is not from a trusted kernel publisher ({org!r}); {_HOW}")
    _remember_trust(api.endpoint, org)


def _repo_key(target: "HubTarget") -> str:
    return f"{target.repo_type}/{target.repo_id}"


def _cached_ref_commits(target: "HubTarget") -> Iterable[str]:
    """Commits huggingface_hub recorded for the branches and tags it resolved (``<repo>/refs/<name>``)."""
    from huggingface_hub.file_download import repo_folder_name

    refs = cache_root() / repo_folder_name(repo_id=target.repo_id, repo_type=target.repo_type) / "refs"
    if not refs.is_dir():
        return
    for path in refs.rglob("*"):
        name = path.relative_to(refs).as_posix()
        if name.startswith("refs/") and not name.startswith(("refs/heads/", "refs/tags/")):
            continue  # refs/pr/N and other non-branch refs were resolved too, but are not published.
        if path.is_file() and not path.is_symlink():
            try:
                yield path.read_text(encoding="ascii").strip()
            except (OSError, ValueError):
                continue


def _recorded_published(endpoint: str, target: "HubTarget", sha: str) -> bool:
    entry = _read_record(published_commits_file()).get(endpoint)
    recorded = entry.get(_repo_key(target)) if isinstance(entry, dict) else None
    if isinstance(recorded, list) and sha in recorded:
        return True
    return sha in set(_cached_ref_commits(target))


def _remember_published(endpoint: str, target: "HubTarget", sha: str) -> None:
    data = _read_record(published_commits_file())
    entry = data.get(endpoint) if isinstance(data.get(endpoint), dict) else {}
    recorded = entry.get(_repo_key(target)) if isinstance(entry.get(_repo_key(target)), list) else []
    entry[_repo_key(target)] = sorted(set(recorded) | {sha})
    data[endpoint] = entry
    _write_record(published_commits_file(), data)


def _published_on_hub(api: "HfApi", target: "HubTarget", commit: str) -> bool:
    """Whether ``commit`` (a sha or its prefix) is a branch or tag tip, or an ancestor of one."""
    try:
        refs = api.list_repo_refs(target.repo_id, repo_type=target.repo_type)
        tips = list(dict.fromkeys(ref.target_commit for ref in [*refs.branches, *refs.tags]))
        if any(tip.startswith(commit) for tip in tips):
            return True
        for tip in tips:
            history = api.list_repo_commits(target.repo_id, revision=tip, repo_type=target.repo_type)
            if any(entry.commit_id.startswith(commit) for entry in history):
                return True
    except network_errors() as e:
        raise request_failed(f"checking that {target.repo_id}@{commit} is on a branch or tag", api.endpoint, e) \
            from None
    return False


def _looks_like_commit(revision: str) -> bool:
    return is_commit_sha(revision) or (7 <= len(revision) < 40 and all(c in "0123456789abcdef" for c in revision))


def check_published_revision(api: "HfApi", target: "HubTarget", revision: str, offline: bool) -> None:
    """Raise :class:`UntrustedPublisherError` unless ``revision`` is one the publisher published.

    Branches and tags (by name, or ``refs/heads/…`` / ``refs/tags/…``) are;
    a commit is when a branch or tag leads to it; a pull request is not.
    """
    label = f"{target.repo_id}@{revision}"
    rule = "only the publisher's branches and tags, and the commits they lead to, are trusted"
    if is_pull_request_ref(revision):
        raise UntrustedPublisherError(f"{label} is a pull request, which anyone can open: {rule}; {_HOW}")
    if revision.startswith("refs/") and not revision.startswith(("refs/heads/", "refs/tags/")):
        raise UntrustedPublisherError(f"{label} is not a branch or tag: {rule}; {_HOW}")
    if not _looks_like_commit(revision):
        return  # A branch or tag name: the publisher put it there.
    commit = target.sha or revision
    if _recorded_published(api.endpoint, target, commit):
        return
    if offline:
        raise UntrustedPublisherError(f"cannot check whether {label} is on a branch or tag of {target.repo_id} "
                                      f"while HF_HUB_OFFLINE is set: {rule}; {_HOW}")
    if not _published_on_hub(api, target, commit):
        raise UntrustedPublisherError(f"{label} is not on any branch or tag of {target.repo_id}: {rule}; {_HOW}")
    if is_commit_sha(commit):
        _remember_published(api.endpoint, target, commit)

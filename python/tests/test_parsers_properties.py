"""Property tests for the parsers of untrusted input on the loader side.

``metadata.json`` (from the Hub or the cache), ``kernels.lock``, revision
strings and repository ids: any input either parses or raises one error of
the documented type whose message is one line; none hangs (each case runs
under a deadline) and none writes outside the test's temporary directory.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernels.hub import check_revision_args, validate_repo_id, validate_revision
from kernels.loader import read_metadata
from kernels.lockfile import LockfileError, decode_lockfile, parse_lockfile
from kernels.metadata import MetadataError

CASES = settings(max_examples=900, deadline=2000, database=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=20)
METADATA_KEYS = ["id", "name", "version", "license", "backend", "python-depends", "python-depends-backends",
                 "upstream", "type", "archs"]
metadata_like = st.dictionaries(st.sampled_from(METADATA_KEYS), json_values, max_size=7)
LOCK_KEYS = ["repo_id", "sha", "variants", "hash", "hash_type"]
lock_like = st.lists(st.dictionaries(st.sampled_from(LOCK_KEYS), json_values, max_size=4), max_size=3)


def _corrupt(data: bytes) -> st.SearchStrategy[bytes]:
    return st.sampled_from([data, b"\xff" + data, b"[" * 50_000 + data, data + b"9" * 5000, data[: len(data) // 2]])


def _json_bytes(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return strategy.map(lambda value: json.dumps(value).encode()).flatmap(_corrupt)


def _one_line(error: BaseException) -> None:
    assert str(error) and "\n" not in str(error), repr(error)


def _read_metadata_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metadata.json"
        path.write_bytes(data)
        try:
            read_metadata(path)
        except MetadataError as e:
            _one_line(e)
            assert str(path) in str(e)


@CASES
@given(st.one_of(st.binary(max_size=200), _json_bytes(metadata_like)))
def test_metadata_json_parses_or_is_one_metadata_error(data: bytes) -> None:
    _read_metadata_bytes(data)


@CASES
@given(st.one_of(st.binary(max_size=200), _json_bytes(lock_like), _json_bytes(json_values)))
def test_kernels_lock_parses_or_is_one_lockfile_error(data: bytes) -> None:
    try:
        parse_lockfile(decode_lockfile(data, "kernels.lock"), "kernels.lock")
    except LockfileError as e:
        _one_line(e)
        assert str(e).startswith("kernels.lock: ")


revision_text = st.one_of(
    st.text(max_size=300),
    st.from_regex(r"(refs/(pr|heads|tags)/)?[A-Za-z0-9._/-]{1,60}", fullmatch=True),
    st.from_regex(r"[0-9a-f]{7,40}", fullmatch=True),
)


@CASES
@given(st.one_of(revision_text, scalars), st.one_of(st.none(), st.integers(), st.booleans(), st.text(max_size=3)))
def test_revision_arguments_are_accepted_or_one_value_error(revision: Any, version: Any) -> None:
    try:
        check_revision_args(revision, version)
    except ValueError as e:
        _one_line(e)
        return
    if revision is not None:
        assert validate_revision(revision) == revision


@CASES
@given(st.one_of(st.text(max_size=120), st.from_regex(r"[A-Za-z0-9._-]{1,20}/[A-Za-z0-9._-]{1,20}", fullmatch=True),
                 scalars))
def test_repo_ids_are_accepted_or_one_value_error(repo_id: Any) -> None:
    try:
        assert validate_repo_id(repo_id) == repo_id
    except ValueError as e:
        _one_line(e)


# --- kernel-status.toml (read from a kernel repository on the Hub) ------------------------------------

status_documents = st.one_of(
    st.text(max_size=200),
    st.dictionaries(st.sampled_from(["kind", "destination", "revision", "extra"]), scalars, max_size=4).map(
        lambda d: "\n".join(f"{k} = {json.dumps(v)}" for k, v in d.items() if v is not None)),
    st.integers(min_value=1, max_value=3000).map(lambda depth: "kind = " + "[" * depth + "]" * depth),
    st.integers(min_value=1, max_value=6000).map(lambda digits: "kind = 1" + "0" * digits),
)


@CASES
@given(status_documents)
def test_kernel_status_files_parse_or_fail_in_one_line(content: str) -> None:
    from kernels.status import KernelStatus, Redirect

    try:
        status = KernelStatus.from_toml(content)
    except ValueError as e:
        message = str(e)
        assert "\n" not in message and "kernel-status.toml" in message or "Unknown kernel status kind" in message
        return
    assert isinstance(status, Redirect) and "/" in status.destination and status.revision

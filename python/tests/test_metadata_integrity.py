"""metadata.json as upstream's current builder writes it: digest, kernels-minver, provenance, newer keys."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import kernels
from kernels.integrity import DigestMismatchError, KernelsTooOldError, hash_variant
from kernels.loader import get_local_kernel, read_metadata
from kernels.metadata import Metadata, MetadataError

BASE = {"id": "greet_0_cpu", "name": "greet", "version": 1, "license": "apache-2.0", "backend": {"type": "cpu"},
        "python-depends": []}


def _variant(root: Path, *, digest: bool = True, **extra: object) -> Path:
    variant = root / "build" / "torch-universal"
    (variant / "sub").mkdir(parents=True)
    (variant / "__init__.py").write_text("from .sub.value import VALUE\n")
    (variant / "sub" / "__init__.py").write_text("")
    (variant / "sub" / "value.py").write_text("VALUE = 42\n")
    data = {**BASE, "id": f"greet_{abs(hash(str(root))) % 10**8}_cpu", **extra}
    if digest:
        data["digest"] = hash_variant(variant).to_dict()
    (variant / "metadata.json").write_text(json.dumps(data))
    return variant


def test_digest_format_is_base64_sha_per_file_without_metadata_or_bytecode(tmp_path: Path) -> None:
    (tmp_path / "_extension.so").write_bytes(b"hello world")
    (tmp_path / "metadata.json").write_text("{}")
    (tmp_path / "metadata.json.sigstore").write_text("sig")
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"x")
    (tmp_path / "pkg" / "metadata.json").write_text("{}")
    (tmp_path / "stray.pyc").write_bytes(b"x")
    digest = hash_variant(tmp_path)
    assert digest.algorithm == "sha256"
    # sha256(b"hello world"), base64: the value upstream's digest tests use.
    assert digest.files == {"_extension.so": "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
                            "pkg/metadata.json": "RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o="}
    assert hash_variant(tmp_path, "sha512").files["_extension.so"].startswith("MJ7MSJwS1utMxA9QyQLytNDtd+5R")


def test_a_matching_digest_loads_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    variant = _variant(tmp_path)
    with caplog.at_level(logging.WARNING, logger="kernels"):
        assert get_local_kernel(variant).VALUE == 42
    assert "digest" not in caplog.text


@pytest.mark.parametrize(("change", "named"), [
    (lambda v: (v / "sub" / "value.py").write_text("VALUE = 666\n"), "file sub/value.py was modified"),
    (lambda v: (v / "sub" / "extra.py").write_text(""), "unknown file sub/extra.py"),
    (lambda v: (v / "sub" / "value.py").unlink(), "missing file sub/value.py"),
])
def test_files_that_differ_from_the_digest_are_refused_naming_the_file(tmp_path: Path, change, named: str) -> None:
    variant = _variant(tmp_path)
    change(variant)
    with pytest.raises(DigestMismatchError) as info:
        get_local_kernel(variant)
    message = str(info.value)
    assert "\n" not in message and named in message and str(variant / "metadata.json") in message
    assert isinstance(info.value, RuntimeError)


def test_no_digest_loads_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    variant = _variant(tmp_path, digest=False)
    with caplog.at_level(logging.WARNING, logger="kernels"):
        assert get_local_kernel(variant).VALUE == 42
    assert "does not record a digest" in caplog.text


def test_kernels_minver_newer_than_ours_is_refused(tmp_path: Path) -> None:
    variant = _variant(tmp_path, **{"kernels-minver": "99.0.0"})
    with pytest.raises(KernelsTooOldError, match=r"requires kernels>=99\.0\.0, but version "):
        get_local_kernel(variant)
    ok = _variant(tmp_path / "ok", **{"kernels-minver": "0.1.0"})
    assert get_local_kernel(ok).VALUE == 42


def test_dirty_provenance_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    provenance = {"kernel-builder": {"version": "0.1.0", "commit": "a" * 40, "dirty": False},
                  "kernel": {"commit": "b" * 40, "dirty": True}}
    variant = _variant(tmp_path, provenance=provenance)
    with caplog.at_level(logging.WARNING, logger="kernels"):
        get_local_kernel(variant)
    assert "dirty git tree (kernel source had uncommitted changes)" in caplog.text


def test_newer_keys_are_read_and_unknown_future_keys_tolerated(tmp_path: Path) -> None:
    data = {**BASE, "source": "https://github.com/org/greet", "kernels-minver": "0.19.0",
            "kernel-depends": [{"repo-id": "org/dep", "version": 2}], "build-layout": "files",
            "provenance": {"kernel-builder": {"version": "0.19.0"}}, "some-future-key": {"x": 1}}
    metadata = Metadata.from_dict(data)
    assert metadata.source == "https://github.com/org/greet" and metadata.kernels_minver == "0.19.0"
    assert metadata.kernel_depends[0].repo_id == "org/dep" and metadata.kernel_depends[0].version == 2
    assert metadata.provenance is not None and metadata.provenance.builder_git is None
    assert not metadata.provenance.dirty
    with pytest.raises(MetadataError, match=r"^metadata.json: unknown key 'some-future-key'"):
        Metadata.from_dict(data, strict=True)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("digest", {"algorithm": "md5", "files": {}}, "'digest.algorithm' must be one of sha256, sha512"),
    ("digest", {"algorithm": "sha256", "files": []}, "'digest.files' must map file paths"),
    ("kernels-minver", "soon", "'kernels-minver' must be a version"),
    ("kernel-depends", [{"repo-id": "a/b"}], "need either a 'version' or a 'revision'"),
    ("provenance", {"kernel-builder": {"version": "1", "commit": "xyz", "dirty": False}},
     "'provenance.kernel-builder.commit' must be a 40-character git commit id"),
    ("source", 3, "'source' must be a string"),
])
def test_malformed_known_keys_are_one_line_naming_file_and_key(tmp_path: Path, key: str, value: object,
                                                               message: str) -> None:
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps({**BASE, key: value}))
    with pytest.raises(MetadataError) as info:
        read_metadata(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value) and "\n" not in str(info.value)


def test_to_dict_round_trips_the_newer_keys() -> None:
    data = {**BASE, "source": "s", "kernels-minver": "0.19.0", "kernel-depends": [{"repo-id": "o/d", "revision": "main"}],
            "digest": {"algorithm": "sha256", "files": {"a.py": "x"}},
            "provenance": {"kernel-builder": {"version": "1", "commit": "a" * 40, "dirty": True}}}
    assert Metadata.from_dict(Metadata.from_dict(data).to_dict()) == Metadata.from_dict(data)
    assert kernels.__version__

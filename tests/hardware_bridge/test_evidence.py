"""The content-addressed evidence store: layout, write-once, verification."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from hardware_bridge.evidence import EvidenceError, EvidenceStore
from tests.hardware_bridge.http_helpers import JPEG


def test_blob_is_stored_under_its_sha256(tmp_path):
    """put returns the SHA-256 and the file sits at ab/cdef... with exactly those bytes."""
    store = EvidenceStore(tmp_path)
    digest = store.put(JPEG)
    assert digest == hashlib.sha256(JPEG).hexdigest()
    path = tmp_path / digest[:2] / digest[2:]
    assert path.read_bytes() == JPEG
    assert store.path(digest) == path
    assert digest in store and store.verify(digest)
    assert store.get(digest) == JPEG


def test_existing_blob_is_never_overwritten(tmp_path):
    """Putting the same bytes again leaves the first file (same inode) in place."""
    store = EvidenceStore(tmp_path)
    digest = store.put(JPEG)
    inode = os.stat(store.path(digest)).st_ino
    assert store.put(JPEG) == digest
    assert os.stat(store.path(digest)).st_ino == inode
    assert not [p for p in store.path(digest).parent.iterdir() if p.name.startswith(".incoming")]


def test_stored_file_is_read_only(tmp_path):
    """Evidence files are written 0o444."""
    store = EvidenceStore(tmp_path)
    digest = store.put(b"evidence")
    assert store.path(digest).stat().st_mode & 0o777 == 0o444


def test_tampered_blob_is_detected_and_left_alone(tmp_path):
    """A file that no longer matches its name fails get/verify/put and is not replaced."""
    store = EvidenceStore(tmp_path)
    digest = store.put(JPEG)
    path = store.path(digest)
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    assert not store.verify(digest)
    with pytest.raises(EvidenceError, match="does not match"):
        store.get(digest)
    with pytest.raises(EvidenceError, match="does not match"):
        store.put(JPEG)
    assert path.read_bytes() == b"tampered"


def test_unknown_and_malformed_digests(tmp_path):
    """An absent blob is a KeyError; a name that is not a hex SHA-256 is a ValueError."""
    store = EvidenceStore(tmp_path)
    with pytest.raises(KeyError):
        store.get("0" * 64)
    for bad in ("../../etc/passwd", "ABCDEF" + "0" * 58, "0" * 63):
        with pytest.raises(ValueError):
            store.path(bad)
        assert bad not in store


def test_concurrent_puts_of_one_blob_store_it_once(tmp_path):
    """Eight threads putting the same bytes all get the digest; one file, no leftovers."""
    store = EvidenceStore(tmp_path)
    data = os.urandom(200_000)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(store.put(data))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    digest = hashlib.sha256(data).hexdigest()
    assert results == [digest] * 8
    assert [p.name for p in store.path(digest).parent.iterdir()] == [digest[2:]]


def test_unwritable_root_raises_evidence_error(tmp_path):
    """A root that is a file (so nothing can be created under it) raises EvidenceError, not OSError."""
    root = tmp_path / "evidence"
    store = EvidenceStore(root)
    blocker = root / hashlib.sha256(b"x").hexdigest()[:2]
    blocker.write_bytes(b"not a folder")
    with pytest.raises(EvidenceError, match="cannot write"):
        store.put(b"x")

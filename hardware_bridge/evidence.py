"""A content-addressed, write-once store for evidence images (ETLE photos, camera XML).

Each blob is kept under ``{root}/{h[:2]}/{h[2:]}`` where ``h`` is the hex SHA-256
of its bytes, and that digest is what goes into an Observation's payload
(``image_sha256``), so the payload proves which picture it refers to (the chain
of custody, DOMAIN §5.2).

Writing is write-once and verified: the bytes go to a temporary file in the
target folder, are flushed to disk, read back and hashed, and only a file whose
hash matches is linked into place with :func:`os.link`, which refuses to
replace an existing file. An existing blob is never overwritten; putting the
same bytes again checks the stored file instead. Stored files are made
read-only (``0o444``).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["EvidenceError", "EvidenceStore", "sha256_hex"]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class EvidenceError(RuntimeError):
    """The evidence store cannot take or give a blob (disk error, or a stored file that no
    longer matches its name); the message names the file."""


def sha256_hex(data: bytes) -> str:
    """The lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class EvidenceStore:
    """Blobs by SHA-256 under ``root`` (created when missing).

    Examples
    --------
    >>> import tempfile
    >>> store = EvidenceStore(tempfile.mkdtemp())
    >>> digest = store.put(b"\\xff\\xd8\\xff...\\xff\\xd9")
    >>> store.get(digest) == b"\\xff\\xd8\\xff...\\xff\\xd9"
    True
    >>> store.path(digest).relative_to(store.root).parts[0] == digest[:2]
    True
    """

    def __init__(self, root: str | Path = "var/evidence") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        """Where the blob with hex SHA-256 ``digest`` lives (whether or not it exists)."""
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise ValueError(f"not a lowercase hex SHA-256 digest: {digest!r}")
        return self.root / digest[:2] / digest[2:]

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and _HEX64.match(digest) is not None and self.path(digest).exists()

    def put(self, data: bytes) -> str:
        """Store ``data`` (once) and return its hex SHA-256.

        Raises
        ------
        EvidenceError
            If the file cannot be written, if what was written does not hash to
            the digest (a disk error), or if a blob already stored under this
            digest no longer matches it (it is left untouched for inspection).
        """
        digest = sha256_hex(data)
        final = self.path(digest)
        if final.exists():
            self._check(final, digest)
            return digest
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".incoming-")
        except OSError as exc:
            raise EvidenceError(f"cannot write evidence under {final.parent}: {exc}") from exc
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            written = _file_digest(tmp)
            if written != digest:
                raise EvidenceError(f"evidence {digest} was written as {written} (disk error?)")
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, final)  # refuses to replace: write-once even under a race
            except FileExistsError:
                self._check(final, digest)
        except OSError as exc:
            raise EvidenceError(f"cannot write evidence {final}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return digest

    def get(self, digest: str) -> bytes:
        """The blob with ``digest``, verified against it.

        Raises
        ------
        KeyError
            If no such blob is stored.
        EvidenceError
            If the stored file no longer hashes to ``digest``.
        """
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyError(digest) from None
        if sha256_hex(data) != digest:
            raise EvidenceError(f"evidence file {path} does not match its digest (tampered or corrupted)")
        return data

    def verify(self, digest: str) -> bool:
        """Whether the blob ``digest`` is stored and still hashes to its name."""
        path = self.path(digest)
        return path.exists() and _file_digest(path) == digest

    @staticmethod
    def _check(path: Path, digest: str) -> None:
        if _file_digest(path) != digest:
            raise EvidenceError(f"evidence file {path} does not match its digest (tampered or corrupted); "
                                "left untouched")

"""Proof files on disk (registration.md §4): checked by their first bytes, stored under
`instance/proofs/{yyyy}/{mm}/{random id}.{ext}`, never served as static files.

The database row and the file must agree, so a file is written before its transaction commits
and removed again if that transaction rolls back; a file whose row is deleted is removed only
after the deleting transaction commits (a rollback must not leave a row without its file).
"""
import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from did_app import clock

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_PROOF_BYTES = 25 * 1024 * 1024
MAX_FILES = 5
TYPE_MESSAGE = "Files must be PDF, PNG or JPEG."
SIZE_MESSAGE = "Each file must be 10 MB or smaller."
TOTAL_MESSAGE = "A proof's files must be 25 MB or smaller together."
COUNT_MESSAGE = "A proof holds 1–5 files."

# first bytes → (extension, content type); the name a browser sends is never trusted
SIGNATURES = (
    (b"%PDF-", "pdf", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(extension, content type) of a PDF, PNG or JPEG by its first bytes; None for anything else."""
    for magic, ext, content_type in SIGNATURES:
        if head.startswith(magic):
            return ext, content_type
    return None


def root() -> Path:
    return Path(current_app.instance_path) / "proofs"


def relative_path(ext: str) -> str:
    """`{yyyy}/{mm}/{random id}.{ext}`, relative to `root()`; the random id is unguessable."""
    today = clock.now()
    return f"{today:%Y}/{today:%m}/{secrets.token_urlsafe(18)}.{ext}"


def write(session, data: bytes, ext: str) -> str:
    """Write the bytes to a new file and return its relative path. The file is removed again if
    the session's transaction rolls back, so a refused or failed upload leaves nothing on disk."""
    rel = relative_path(ext)
    target = root() / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    session.info.setdefault(WRITTEN, []).append(rel)
    return rel


def delete_after_commit(session, paths: list[str]) -> None:
    """Remove these files once the session's transaction commits; keep them if it rolls back."""
    session.info.setdefault(DOOMED, []).extend(paths)


# the pending work is kept in session.info, so it belongs to that session's transaction only
WRITTEN, DOOMED = "proof_files_written", "proof_files_doomed"


@event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    session.info.pop(WRITTEN, None)
    for rel in session.info.pop(DOOMED, []):
        unlink(rel)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    session.info.pop(DOOMED, None)
    for rel in session.info.pop(WRITTEN, []):
        unlink(rel)


def resolve(rel: str) -> Path | None:
    """The absolute path of a stored file, or None when `rel` would leave the proofs folder."""
    base = root().resolve()
    target = (base / rel).resolve()
    return target if target.is_relative_to(base) and target.is_file() else None


def unlink(rel: str) -> None:
    target = resolve(rel)
    if target is not None:
        target.unlink(missing_ok=True)

"""Documents a borrower sends with a dispute: what is accepted (PDF, JPEG, PNG, recognised by their first bytes, not by
the name a browser gives them), how large, and where they are kept — ``settings.DISPUTE_UPLOADS_DIR``, outside every
folder the web server serves: only the managers' page hands one out, to a signed-in user who may see the case."""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File

# The first bytes of each accepted kind, and the name it is stored under.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
}
CONTENT_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}
PREFIX = "dispute-upload:"


def sniff(head: bytes) -> str:
    """The kind of a document from its first bytes ("pdf", "png", "jpg"), '' for anything else."""
    for kind, signatures in SIGNATURES.items():
        if any(head.startswith(signature) for signature in signatures):
            return kind
    return ""


def upload_kind(upload: File) -> str:
    """The kind of an uploaded file, read from its content (the stream is rewound)."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    return sniff(head)


def max_bytes() -> int:
    return int(settings.DISPUTE_UPLOAD_MAX_BYTES)


def store(*, case_id: int, upload: File, kind: str) -> str:
    """Write the document under a random name in the case's folder (readable by the service's user only) and return
    its reference for the hold (``dispute-upload:<case>/<name>``)."""
    folder = Path(settings.DISPUTE_UPLOADS_DIR) / str(case_id)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.{kind}"
    path = folder / name
    upload.seek(0)
    with open(path, "xb") as out:
        path.chmod(0o600)
        while chunk := upload.read(64 * 1024):
            out.write(chunk)
    return f"{PREFIX}{case_id}/{name}"


def path_of(document_ref: str) -> Path | None:
    """The stored file of a reference ``store`` returned (None for any other reference or a path that escapes)."""
    if not document_ref.startswith(PREFIX):
        return None
    root = Path(settings.DISPUTE_UPLOADS_DIR).resolve()
    path = (root / document_ref.removeprefix(PREFIX)).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def remove(document_ref: str) -> None:
    path = path_of(document_ref)
    if path is not None:
        path.unlink(missing_ok=True)

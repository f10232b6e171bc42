"""A case's documents (letters and notices as PDFs): downloaded from the case page by those who may see the case,
checked against the SHA-256 recorded when the document was made."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from collections_app.selectors import case_get_for_user
from collections_app.views.common import require_role
from core.web import SignedInRequest
from notifications.models import DocumentIntegrityError
from notifications.selectors import document_of_case

logger = logging.getLogger(__name__)


@require_GET
def case_document(request: SignedInRequest, case_id: int, document_id: int) -> HttpResponse:
    """The document's PDF as a download (404 for a case the user may not see, or another case's document)."""
    require_role(request)
    case = case_get_for_user(user=request.user, case_id=case_id)
    document = document_of_case(case_id=case.pk, document_id=document_id)
    if document is None:
        raise Http404("No such document")
    return verified_download(
        document.pdf_bytes,
        DocumentIntegrityError,
        sha256=document.sha256,
        filename=document.filename,
        content_type="application/pdf",
        what=f"document {document.pk}",
        refused=_("This document's file no longer matches its recorded SHA-256."),
    )


def verified_download(read: Callable[[], bytes], integrity_error: type[Exception], *, sha256: str, filename: str,
                      content_type: str, what: str, refused: str) -> HttpResponse:  # fmt: skip
    """A stored file checked against its recorded SHA-256 as an attachment (a document's PDF, an evidence pack's
    ZIP): 409 with ``refused`` when ``read`` finds it changed; never cached."""
    try:
        content = read()
    except integrity_error:
        logger.error("%s failed its SHA-256 check: not handed out", what)
        return HttpResponse(refused, status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # RFC 9530: the SHA-256 of what is sent, for anyone who checks the download against the case page.
    response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:"
    response["Cache-Control"] = "private, no-store"  # personal data: never kept by a browser or proxy cache
    return response

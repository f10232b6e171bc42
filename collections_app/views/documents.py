"""A case's documents (letters and notices as PDFs): downloaded from the case page by those who may see the case,
checked against the SHA-256 recorded when the document was made."""

from __future__ import annotations

import base64
import logging

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
    try:
        content = document.pdf_bytes()
    except DocumentIntegrityError:
        logger.error("document %s failed its SHA-256 check: not handed out", document.pk)
        return HttpResponse(_("This document's file no longer matches its recorded SHA-256."), status=409,
                            content_type="text/plain; charset=utf-8")  # fmt: skip
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    # RFC 9530: the SHA-256 of what is sent, for anyone who checks the download against the case page.
    response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(document.sha256)).decode()}:"
    response["Cache-Control"] = "private, no-store"  # personal data: never kept by a browser or proxy cache
    return response

"""A case's legal evidence pack (issue 16.5): managers and admins who may see the case download it (the latest, or
``?version=N``) and build it on demand, from the escalation pages and the case page. The download is checked against
the SHA-256 recorded when the pack was built."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from collections_app.models import EvidencePackIntegrityError
from collections_app.selectors import case_get_for_user, evidence_pack_of_case
from collections_app.services.evidence import EvidenceError, evidence_pack_build
from collections_app.views.common import require_role
from collections_app.views.documents import verified_download
from core.roles import ADMIN, MANAGER
from core.web import SignedInRequest

logger = logging.getLogger(__name__)


@require_GET
def case_evidence_pack(request: SignedInRequest, case_id: int) -> HttpResponse:
    """The pack's ZIP as a download (403 for collectors, 404 for a case the user may not see or with no pack)."""
    require_role(request, MANAGER, ADMIN)
    case = case_get_for_user(user=request.user, case_id=case_id)
    version = request.GET.get("version", "")
    pack = evidence_pack_of_case(case_id=case.pk, version=int(version) if version.isdigit() else None)
    if pack is None or (version and not version.isdigit()):
        raise Http404("No evidence pack")
    return verified_download(
        pack.zip_bytes,
        EvidencePackIntegrityError,
        sha256=pack.sha256,
        filename=pack.filename,
        content_type="application/zip",
        what=f"evidence pack {pack.pk}",
        refused=_("This evidence pack's file no longer matches its recorded SHA-256."),
    )


@require_POST
def case_evidence_pack_build(request: SignedInRequest, case_id: int) -> HttpResponse:
    """Build the pack now (a new version only when the evidence changed), then back to the page it was asked from."""
    require_role(request, MANAGER, ADMIN)
    case = case_get_for_user(user=request.user, case_id=case_id)
    try:
        result = evidence_pack_build(case_id=case.pk, actor=request.user, reason="asked for on the page")
    except EvidenceError as exc:
        messages.error(request, _("The evidence pack could not be built: %(reason)s") % {"reason": exc})
    else:
        if result.created:
            messages.success(request, _("Evidence pack version %(version)s built.") % {"version": result.pack.version})
        else:
            messages.info(
                request,
                _("Nothing changed since evidence pack version %(version)s: it is still the latest.")
                % {"version": result.pack.version},
            )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = reverse("case-detail", args=[case.pk])
    return HttpResponseRedirect(target)

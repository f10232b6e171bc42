"""Every page and API endpoint answers every kind of caller as the permission matrix below says.

The matrix is written by hand from the rules (README "Roles", docs/architecture.md, the views' docstrings): it is the
specification, not a copy of what the code does. The routes come from the URL resolver, so a page or endpoint that is
added without a line here fails ``test_every_route_is_in_the_permission_matrix``: every new page and endpoint sits in
the matrix.

One small world: two teams (A and B), each with a manager and a collector, one case per team in legal review with
its borrower, loan, an active bankruptcy hold, a scheduled visit, an earlier broken promise, a plan waiting for
approval, an outbox message, a cease-and-desist restriction, a payment, a ledger entry, a gate decision and a
recorded call through the provider. The callers ask about team A's records.

Writes: a refused caller (401, 403, 404, a redirect to the sign-in page, or the answers marked ``NOT_FOUND_400`` and
``IGNORED``) must leave every table of the project as it was. Every request runs in a savepoint that is rolled back,
so an allowed write does not change what the next caller sees.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from collections_app import uploads
from collections_app.models import Complaint, Dispute
from collections_app.services.complaints import complaint_record
from collections_app.services.evidence import evidence_pack_build
from compliance.models import VulnerabilityRecord
from notifications.mail import unsubscribe_token
from notifications.models import InboundMessage
from notifications.services import document_render, portal_link_issue
from tests.factories import (
    CallDispositionFactory,
    CallRecordingFactory,
    CallReviewFactory,
    CaseFactory,
    CertificationFactory,
    CollectorCallFactory,
    ContactEventFactory,
    DecisionFactory,
    HoldFactory,
    OutboundMessageFactory,
    PaymentFactory,
    PaymentPlanFactory,
    PhoneFactory,
    PromiseFactory,
    RestrictionFactory,
    SweepRunFactory,
    UserFactory,
    VisitFactory,
    team_with,
    user_with_role,
)

pytestmark = pytest.mark.django_db
QA_ITEMS = ("identification", "mini_miranda", "no_false_threats", "within_hours")  # the US checklist


# ---------------------------------------------------------------------------------------------------------------
# What an answer may be
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """An expected answer: the status, where a redirect goes, which teams' records a list shows, whether the
    caller was refused (then nothing may have been written) or did what they asked (then something was)."""

    status: int
    location: str = ""  # "login" / "admin:login": a redirect to that sign-in page; "" any other place
    sees: str | None = None  # a list: exactly the records of these teams ("A", "B", "AB")
    refused: bool = False
    writes: bool = False
    page_shown: bool = False  # a refusal that shows the page again: reading it is audited (VIEW_AUDIT), nothing else

    def __str__(self) -> str:
        text = f"{self.status}"
        if self.location:
            text += f"→{self.location}"
        if self.sees is not None:
            text += f" sees {self.sees or 'nothing'}"
        return text + (" (refused)" if self.refused else "") + (" (writes)" if self.writes else "")


LOGIN = Cell(302, location="login", refused=True)  # to the sign-in page, with ?next=
ADMIN_LOGIN = Cell(302, location="admin:login", refused=True)
BACK = Cell(302)  # back to a page; a case page's action that cannot proceed (409, 400) says so in a message there
DONE = Cell(302, writes=True)  # back to the page, done
# The case page again, the form as typed with the refusal beside its field (showing a vulnerability record writes the
# audit row of that view: VUL-01, every view audited).
FORM_AGAIN = Cell(200, refused=True, page_shown=True)
VIEW_AUDIT = {"compliance_vulnerabilityaudit"}
OK, CREATED = Cell(200, writes=True), Cell(201, writes=True)  # a write through the API that happened
SIGNED_OUT = Cell(302, location="login")  # signed out, to the sign-in page
IGNORED = Cell(302, refused=True)  # back to the page, with nothing done: the records are not the caller's
NOT_FOUND_400 = Cell(400, refused=True)  # a record outside the caller's scope is "no such" record (row errors)
A, B, AB = Cell(200, sees="A"), Cell(200, sees="B"), Cell(200, sees="AB")
REFUSALS = {401, 403, 404, 405}

CALLERS = ("anonymous", "no_role", "other_collector", "collector", "other_manager", "manager", "admin")
NO_ROLE = (LOGIN, 403)  # pages: every page needs a login; a signed-in user without a role gets 403

# ---------------------------------------------------------------------------------------------------------------
# The matrix: (route, method) → one answer per caller, in the order of CALLERS:
#   anonymous, a user with no role, team B's collector, team A's collector (the case's), team B's manager,
#   team A's manager, an admin.
# "route[x]" is the route with its path parameter ``action`` / ``name`` set to x.
# ---------------------------------------------------------------------------------------------------------------
SEES_OWN_TEAM = (LOGIN, 403, B, A, B, A, AB)
CASE_PAGE = (LOGIN, 403, 404, 200, 404, 200, 200)
CASE_ACTION = (LOGIN, 403, 404, DONE, 404, DONE, DONE)
CASE_ACTION_NOT_NOW = (LOGIN, 403, 404, BACK, 404, BACK, BACK)  # allowed to try; refused for the case's state
MANAGERS_ACTION = (LOGIN, 403, 404, 403, 404, DONE, DONE)  # needs a manager's permission
MANAGERS_PAGE = (LOGIN, 403, 403, 403, 200, 200, 200)
API_SEES_OWN_TEAM = (401, 403, B, A, B, A, AB)
API_CASE = (401, 403, 404, 200, 404, 200, 200)
API_CASE_CONFLICT = (401, 403, 404, 409, 404, 409, 409)  # allowed to try; the case is not in the state for it
API_CASE_WRITE = (401, 403, 404, OK, 404, OK, OK)
API_CASE_CREATE = (401, 403, 404, CREATED, 404, CREATED, CREATED)
API_MANAGERS_ON_CASE = (401, 403, 404, 403, 404, OK, OK)
API_MANAGERS_CREATE = (401, 403, 403, 403, NOT_FOUND_400, CREATED, CREATED)  # another team's record: "no such"
API_ADMINS_ONLY = (401, 403, 403, 403, 403, 403, 200)

MATRIX: dict[tuple[str, str], tuple[Cell | int, ...]] = {
    # Pages
    ("home", "GET"): (*NO_ROLE, 200, 200, 200, 200, 200),
    ("case-queue", "GET"): SEES_OWN_TEAM,  # every open case (?view=all); "can act now" depends on the hour
    # The next case to work: a redirect to it, or to the queue when nothing can be done now.
    ("case-next", "GET"): (LOGIN, 403, BACK, BACK, BACK, BACK, BACK),
    ("case-detail", "GET"): CASE_PAGE,
    # A borrower's page: visible with one of the borrower's cases (the case rule); a promise covering their loans.
    ("borrower-detail", "GET"): CASE_PAGE,
    ("borrower-promise", "POST"): CASE_ACTION,
    ("sms-preview", "GET"): CASE_PAGE,
    ("case-call-card", "GET"): CASE_PAGE,
    # A call's recording: the case's collector, the team's manager, admins; 404 for everyone else (REC-01).
    ("case-recording", "GET"): CASE_PAGE,
    # A letter or notice as a PDF: whoever may see the case (404 for anyone else, and for another case's document).
    ("case-document", "GET"): CASE_PAGE,
    ("messages-overview", "GET"): MANAGERS_PAGE,
    ("performance", "GET"): MANAGERS_PAGE,
    ("escalations", "GET"): (LOGIN, 403, 403, 403, B, A, AB),  # legal review
    # Cases in legal with their evidence packs: the world's cases wait in legal review, so no team's case is listed
    # (and none leaks); tests/collections_app/test_evidence_pack.py lists one.
    ("escalations-legal", "GET"): (LOGIN, 403, 403, 403, Cell(200, sees=""), Cell(200, sees=""), Cell(200, sees="")),
    # The case's legal evidence pack: managers and admins who may see the case download it and build it (the world
    # built one before the last records were added, so building again makes version 2).
    ("case-evidence-pack", "GET"): (LOGIN, 403, 403, 403, 404, 200, 200),
    ("case-evidence-pack-build", "POST"): (LOGIN, 403, 403, 403, 404, DONE, DONE),
    ("escalations-plans", "GET"): (LOGIN, 403, 403, 403, B, A, AB),
    ("escalations-disputes", "GET"): (LOGIN, 403, 403, 403, B, A, AB),
    # The document a borrower sent with a dispute: managers and admins who may see the case (404 for another team's).
    ("dispute-document", "GET"): (LOGIN, 403, 403, 403, 404, 200, 200),
    ("escalations-exceptions", "GET"): (LOGIN, 403, 403, 403, B, A, AB),
    ("escalations-denials", "GET"): (LOGIN, 403, 403, 403, B, A, AB),
    # Complaints (CMP-01): the managers' queue, acknowledge, resolve, the response document, a flagged text decided.
    ("escalations-complaints", "GET"): (LOGIN, 403, 403, 403, B, A, AB),
    ("complaint-acknowledge", "POST"): (LOGIN, 403, 403, 403, 404, DONE, DONE),
    ("complaint-resolve", "POST"): (LOGIN, 403, 403, 403, 404, DONE, DONE),
    ("complaint-document", "GET"): (LOGIN, 403, 403, 403, 404, 200, 200),
    ("possible-complaint", "POST"): (LOGIN, 403, 403, 403, 404, DONE, DONE),
    # Confirmed (the step before only shows the count and writes nothing; see tests/collections_app).
    # Collector oversight: QA results (a collector sees only their own row), the sampled calls and one call's review
    # (its collector reads it once scored; the team's manager and admins score it), the training records (CERT-01).
    ("qa-results", "GET"): (LOGIN, 403, 200, 200, 200, 200, 200),
    ("qa-reviews", "GET"): (LOGIN, 403, 403, 403, 200, 200, 200),
    ("qa-review", "GET"): (LOGIN, 403, 404, 200, 404, 200, 200),
    ("qa-review", "POST"): (LOGIN, 403, 404, 403, 404, DONE, DONE),
    ("certifications", "GET"): MANAGERS_PAGE,
    # Another team's manager cannot name team A's collector: the form again, with the error beside the field.
    ("certifications", "POST"): (LOGIN, 403, 403, 403, NOT_FOUND_400, DONE, DONE),
    ("certification-withdraw", "POST"): (LOGIN, 403, 403, 403, 404, DONE, DONE),
    ("escalations-decide", "POST"): (LOGIN, 403, 403, 403, IGNORED, DONE, DONE),
    ("plan-decide", "POST"): (LOGIN, 403, 403, 403, 404, DONE, DONE),
    ("cases-reassign", "POST"): (LOGIN, 403, 403, 403, IGNORED, DONE, DONE),
    ("case-action[call-start]", "POST"): CASE_ACTION,  # the gate refuses the call, and its decision is kept
    ("case-action[call-log]", "POST"): CASE_ACTION,
    ("case-action[recording-hold]", "POST"): MANAGERS_ACTION,  # a legal hold on a recording: managers and admins
    ("case-action[note]", "POST"): CASE_ACTION,
    ("case-action[promise]", "POST"): CASE_ACTION,
    ("case-action[plan]", "POST"): CASE_ACTION_NOT_NOW,  # a plan is waiting for approval already
    ("case-action[hold]", "POST"): CASE_ACTION,
    ("case-action[hold-lift]", "POST"): MANAGERS_ACTION,  # a bankruptcy hold: managers and admins lift it
    ("case-action[forbearance]", "POST"): CASE_ACTION,
    # A dispute received (DSP-01) and its verification prepared: whoever works the case.
    ("case-action[dispute]", "POST"): CASE_ACTION,
    ("case-action[dispute-verification]", "POST"): CASE_ACTION,  # FB-01: the case's collector and managers record it
    # A returned formal notice sent again (FN-01): whoever works the case; refused (a message) when nothing came back.
    ("case-action[formal-notice-resend]", "POST"): CASE_ACTION_NOT_NOW,
    # The gate refuses (bankruptcy) and managers do not visit: the form comes back with the reason beside its field.
    ("case-action[visit]", "POST"): (LOGIN, 403, 404, FORM_AGAIN, 404, FORM_AGAIN, FORM_AGAIN),
    ("case-action[visit-record]", "POST"): CASE_ACTION,
    ("case-action[grace]", "POST"): CASE_ACTION,
    ("case-action[sms]", "POST"): CASE_ACTION,
    # A vulnerability record (VUL-01): whoever works the case records, updates or ends it (the details are for
    # managers and admins only: tests/collections_app/test_vulnerability_pages.py).
    ("case-action[vulnerability]", "POST"): CASE_ACTION,
    ("case-action[vulnerability-end]", "POST"): CASE_ACTION,
    ("case-action[complaint]", "POST"): CASE_ACTION,  # CMP-01: staff record a complaint they received
    # BS-01: a crisis breathing space's treatment end, managers and admins; team A's hold is a bankruptcy (no
    # treatment end: the form again with why).
    ("case-action[breathing-space-treatment]", "POST"): (LOGIN, 403, 404, 403, 404, FORM_AGAIN, FORM_AGAIN),
    ("case-action[transition-escalate_formal_notice]", "POST"): CASE_ACTION_NOT_NOW,  # in legal review already
    ("case-action[transition-request_legal]", "POST"): CASE_ACTION_NOT_NOW,
    ("case-action[transition-approve_legal]", "POST"): MANAGERS_ACTION,
    ("case-action[transition-reject_legal]", "POST"): MANAGERS_ACTION,
    ("case-action[transition-close]", "POST"): MANAGERS_ACTION,
    # The API (a token; without one 401)
    ("api-root", "GET"): (401, 200, 200, 200, 200, 200, 200),  # links only, like the description
    ("api-schema", "GET"): (401, 200, 200, 200, 200, 200, 200),  # SERVE_PERMISSIONS: any signed-in user
    ("api-docs", "GET"): (LOGIN, 200, 200, 200, 200, 200, 200),  # a page (session), same rule
    ("api-case-list", "GET"): API_SEES_OWN_TEAM,
    ("api-case-detail", "GET"): API_CASE,
    ("api-case-transition[escalate_formal_notice]", "POST"): API_CASE_CONFLICT,
    ("api-case-transition[request_legal]", "POST"): API_CASE_CONFLICT,
    ("api-case-transition[approve_legal]", "POST"): API_MANAGERS_ON_CASE,
    ("api-case-transition[reject_legal]", "POST"): API_MANAGERS_ON_CASE,
    ("api-case-transition[close]", "POST"): API_MANAGERS_ON_CASE,
    ("api-case-grace", "POST"): API_CASE_WRITE,
    ("api-case-evidence-pack", "GET"): (401, 403, 404, 403, 404, 200, 200),  # managers and admins only
    ("api-case-evidence-pack", "POST"): (401, 403, 404, 403, 404, CREATED, CREATED),
    ("api-case-notes", "GET"): API_CASE,
    ("api-case-notes", "POST"): API_CASE_CREATE,
    ("api-case-promises", "GET"): API_CASE,
    ("api-case-promises", "POST"): API_CASE_CREATE,
    ("api-case-payment-plans", "GET"): API_CASE,
    ("api-case-payment-plans", "POST"): API_CASE_CONFLICT,  # a plan is waiting for approval already
    ("api-case-forbearance", "GET"): API_CASE,
    ("api-case-forbearance", "POST"): API_CASE_CREATE,
    ("api-case-disputes", "GET"): API_CASE,
    ("api-case-disputes", "POST"): API_CASE_CREATE,
    ("api-case-dispute-verification", "POST"): API_CASE_WRITE,
    ("api-case-visits", "GET"): API_CASE,
    ("api-case-visits", "POST"): (401, 403, 404, 400, 404, 400, 400),  # the gate refuses: bankruptcy
    ("api-case-visit-outcome", "POST"): API_CASE_WRITE,
    ("api-message-list", "GET"): API_SEES_OWN_TEAM,
    ("api-message-detail", "GET"): API_CASE,
    ("api-sweep-list", "GET"): API_ADMINS_ONLY,
    ("api-sweep-list", "POST"): (401, 403, 403, 403, 403, 403, 400),  # a date in the future: allowed to try
    ("api-sweep-detail", "GET"): API_ADMINS_ONLY,
    ("api-borrower-list", "GET"): API_SEES_OWN_TEAM,
    ("api-borrower-list", "POST"): (401, 403, 403, 403, CREATED, CREATED, CREATED),  # a new borrower
    ("api-borrower-detail", "GET"): API_CASE,
    ("api-borrower-detail", "PUT"): API_MANAGERS_ON_CASE,
    ("api-loan-list", "GET"): API_SEES_OWN_TEAM,
    ("api-loan-list", "POST"): API_MANAGERS_CREATE,
    ("api-loan-detail", "GET"): API_CASE,
    ("api-payments", "GET"): API_SEES_OWN_TEAM,
    ("api-payments", "POST"): API_MANAGERS_CREATE,
    ("api-payments-bulk", "POST"): API_MANAGERS_CREATE,
    ("api-loans-bulk", "POST"): API_MANAGERS_CREATE,  # a new loan for team A's borrower
    ("api-compliance-check", "POST"): API_CASE_WRITE,  # a dry run, but the decision is kept
    ("api-borrower-restrictions", "GET"): API_CASE,
    ("api-borrower-restrictions", "POST"): API_CASE_CREATE,
    ("api-borrower-consents", "GET"): API_CASE,
    ("api-borrower-consents", "POST"): API_CASE_CREATE,  # NYC-01's written consent: whoever works the case
    ("api-restriction-lift", "POST"): API_MANAGERS_ON_CASE,  # cease and desist: managers and admins lift it
    ("api-borrower-vulnerability", "GET"): API_CASE,  # the read is audited
    ("api-borrower-vulnerability", "PUT"): API_CASE_WRITE,  # team A's borrower has a record: updated (200)
    ("api-vulnerability-end", "POST"): API_CASE_WRITE,
    # CMP-01 for the lender's systems: complaints of the cases the caller sees; recorded on a case the caller sees
    # (another team's case is "no such case", 400); acknowledged and resolved by managers and admins.
    ("api-complaint-list", "GET"): API_SEES_OWN_TEAM,
    ("api-complaint-list", "POST"): (401, 403, NOT_FOUND_400, CREATED, NOT_FOUND_400, CREATED, CREATED),
    ("api-complaint-detail", "GET"): API_CASE,
    ("api-complaint-acknowledge", "POST"): API_MANAGERS_ON_CASE,
    ("api-complaint-resolve", "POST"): API_MANAGERS_ON_CASE,
    # Collector oversight, read-only for the lender's systems: collectors their own, managers their teams'.
    ("api-certifications", "GET"): API_SEES_OWN_TEAM,
    ("api-call-reviews", "GET"): API_SEES_OWN_TEAM,
    ("api-contacts", "GET"): API_SEES_OWN_TEAM,
    ("api-contacts", "POST"): API_CASE_CREATE,
    # Public by design: no sign-in (webhooks check Twilio's signature instead: unsigned is 403 for everyone).
    ("login", "GET"): (200, 302, 302, 302, 302, 302, 302),  # signed in: on to the portfolio
    ("login", "POST"): (200, 302, 302, 302, 302, 302, 302),  # a wrong password: the form again
    ("logout", "POST"): (LOGIN, *[SIGNED_OUT] * 6),
    # The language switcher: open before signing in too (the sign-in page), back to the page it came from; a
    # signed-in user's choice is kept as theirs.
    ("set_language", "POST"): (302, 302, 302, 302, 302, 302, 302),
    ("healthz", "GET"): (200, 200, 200, 200, 200, 200, 200),
    ("favicon", "GET"): (302, 302, 302, 302, 302, 302, 302),  # to the static file
    ("twilio-message-status", "POST"): (403, 403, 403, 403, 403, 403, 403),
    ("twilio-call-status", "POST"): (403, 403, 403, 403, 403, 403, 403),
    ("twilio-inbound-sms", "POST"): (403, 403, 403, 403, 403, 403, 403),
    ("twilio-collector-call-status", "POST"): (403, 403, 403, 403, 403, 403, 403),
    ("twilio-collector-call-recording", "POST"): (403, 403, 403, 403, 403, 403, 403),
    ("twilio-collector-call-disclosure", "POST"): (403, 403, 403, 403, 403, 403, 403),
    # The borrower's page: the signed link is the key, whoever holds it (a staff session changes nothing). Opening
    # it is audited as the borrower's visit; the identity check, with none asked for, leads back to the page.
    ("portal-page", "GET"): (Cell(200, writes=True),) * 7,
    ("portal-check", "POST"): (BACK,) * 7,
    # An e-mail's unsubscribe link: the signed token is the key, whoever holds it. Opening it asks and changes nothing;
    # the button (or the mail program's one-click POST, without cookies) records the opt-out.
    ("email-unsubscribe", "GET"): (200,) * 7,
    ("email-unsubscribe", "POST"): (Cell(200, writes=True),) * 7,
    # The mail provider's events are signed with the shared secret: unsigned is 403 for everyone.
    ("email-events", "POST"): (403,) * 7,
    # Paying there: an amount under the policy's minimum comes back beside its field, nothing started; a payment the
    # link's borrower never started (an unknown key) does not open, nor takes a card.
    # The borrower's actions (portal/actions.py), for the link's own loan: each form opens (nothing written); sent
    # empty, it comes back with the errors beside the fields and nothing written. A promise's or call back's
    # confirmation with nothing to confirm sends back to its form (a plan's and the preferences' show what stands).
    # This loan is already disputed (its hold): the dispute form shows that instead.
    ("portal-promise", "GET"): (200,) * 7,
    ("portal-promise", "POST"): (FORM_AGAIN,) * 7,
    ("portal-promise-done", "GET"): (Cell(303),) * 7,
    ("portal-plan", "GET"): (200,) * 7,
    ("portal-plan", "POST"): (FORM_AGAIN,) * 7,
    ("portal-plan-done", "GET"): (200,) * 7,
    ("portal-dispute", "GET"): (Cell(303),) * 7,
    ("portal-dispute", "POST"): (Cell(303, refused=True),) * 7,
    ("portal-dispute-done", "GET"): (200,) * 7,
    ("portal-callback", "GET"): (200,) * 7,
    ("portal-callback", "POST"): (FORM_AGAIN,) * 7,
    ("portal-callback-done", "GET"): (Cell(303),) * 7,
    ("portal-preferences", "GET"): (200,) * 7,
    ("portal-preferences", "POST"): (FORM_AGAIN,) * 7,
    ("portal-preferences-done", "GET"): (200,) * 7,
    ("portal-pay", "POST"): (FORM_AGAIN,) * 7,
    ("portal-payment", "GET"): (403,) * 7,
    ("portal-card", "POST"): (403,) * 7,
    # Stripe's webhook checks Stripe's signature: unsigned is 400 for everyone (what Stripe expects of a bad event).
    ("stripe-webhook", "POST"): (400, 400, 400, 400, 400, 400, 400),
    ("twilio-voice-menu", "POST"): (403, 403, 403, 403, 403, 403, 403),
}
PUBLIC = {
    "login",
    "logout",
    "set_language",
    "healthz",
    "favicon",
    "stripe-webhook",
    "email-events",
    *(n for n, _ in MATRIX if n.startswith("twilio-")),
}

# The Django admin: staff only (the admin role). Anonymous callers are sent to sign in like on any page, signed-in
# users who are not staff to the admin's own sign-in page. The admin role's permissions cover the four apps and the
# periodic tasks, users (view, add, change) and groups (view); not API tokens or sign-in lockout records (403).
STAFF_ONLY = (LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)
STAFF_REFUSED = (*STAFF_ONLY[:-1], 403)
ADMIN_MATRIX: dict[str, tuple[Cell | int, ...]] = {
    "admin:index": (ADMIN_LOGIN, *STAFF_ONLY[1:]),  # the index itself is open to the admin's sign-in
    "admin:login": (200, 200, 200, 200, 200, 200, 302),  # the form, or on to the index for staff
    **{
        f"admin:{model.replace('.', '_')}_changelist": STAFF_ONLY
        for model in (
            "auth.group",
            "auth.user",
            "collections_app.calldisposition",
            "collections_app.callreview",
            "collections_app.casenote",
            "collections_app.casetransition",
            "collections_app.collectioncase",
            "collections_app.collectionpolicy",
            "collections_app.collectorprofile",
            "collections_app.dispute",
            "collections_app.fieldvisit",
            "collections_app.forbearance",
            "collections_app.hold",
            "collections_app.installmentpolicy",
            "collections_app.paymentplan",
            "collections_app.promisetopay",
            "collections_app.sweeprun",
            "collections_app.team",
            "compliance.collectorcertification",
            "compliance.consentevent",
            "core.usersettings",
            "compliance.contactevent",
            "compliance.debtclock",
            "compliance.decision",
            "compliance.jurisdictionprofile",
            "compliance.restriction",
            "django_celery_beat.clockedschedule",
            "django_celery_beat.crontabschedule",
            "django_celery_beat.intervalschedule",
            "django_celery_beat.periodictask",
            "django_celery_beat.solarschedule",
            "loans.borrower",
            "loans.emailaddress",
            "loans.installment",
            "loans.loan",
            "loans.loanproduct",
            "loans.payment",
            "loans.paymentcheckout",
            "loans.phonenumber",
            "notifications.callrecording",
            "notifications.collectorcall",
            "notifications.document",
            "notifications.inboundmessage",
            "notifications.messagetemplate",
            "notifications.outboundmessage",
            "notifications.portalevent",
            "notifications.portallink",
            "notifications.providerpause",
        )
    },
    **{
        f"admin:{model.replace('.', '_')}_changelist": STAFF_REFUSED
        for model in (
            "authtoken.tokenproxy",
            "axes.accessattempt",
            "axes.accessfailurelog",
            "axes.accesslog",
        )
    },
}
# The rest of the admin (add, change, delete, history pages, sign-out, password change, scripts) is behind the same
# AdminSite.admin_view guard as the index: named here so that only a new *kind* of admin page fails the coverage test.
ADMIN_INTERNALS = re.compile(
    r"admin:(\w+_(add|change|delete|history)|logout|password_change|password_change_done|jsi18n|view_on_site"
    r"|autocomplete|app_list|\?)$"
)
ADMIN_SPOT_CHECKS: dict[str, tuple[Cell | int, ...]] = {
    "admin:collections_app_collectioncase_change": STAFF_ONLY,
    "admin:loans_borrower_add": STAFF_ONLY,
    "admin:auth_user_delete": STAFF_REFUSED,  # the admin role does not delete users
}


# ---------------------------------------------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class TeamRecords:
    """One team's people and the records of its case."""

    manager: Any
    collector: Any
    case: Any
    hold: Any
    dispute: Any
    visit: Any
    plan: Any
    message: Any
    restriction: Any
    payment: Any
    contact: Any
    decision: Any
    phone: Any
    recording: Any
    vulnerability: Any
    complaint: Any
    flagged_text: Any
    document: Any
    review: Any
    certification: Any


@dataclass
class World:
    a: TeamRecords
    b: TeamRecords
    users: dict[str, Any]
    sweep: Any

    def ids(self, kind: str) -> dict[str, int]:
        """The id of each team's record of one kind (a list answer is read against these)."""
        pick: dict[str, Callable[[TeamRecords], int]] = {
            "case": lambda t: t.case.pk,
            "message": lambda t: t.message.pk,
            "borrower": lambda t: t.case.borrower_id,
            "loan": lambda t: t.case.loan_id,
            "payment": lambda t: t.payment.pk,
            "contact": lambda t: t.contact.pk,
            "complaint": lambda t: t.complaint.pk,
            "review": lambda t: t.review.pk,
            "certification": lambda t: t.certification.pk,
        }
        return {"A": pick[kind](self.a), "B": pick[kind](self.b)}


def team(letter: str) -> TeamRecords:
    manager = user_with_role("manager", f"manager.{letter.lower()}")
    collector = user_with_role("collector", f"collector.{letter.lower()}")
    crew = team_with(collector, name=f"Team {letter}", manager=manager)
    case = CaseFactory(worked_by=collector, state="legal_review", return_state="formal_notice")
    call = CollectorCallFactory(case=case, collector=collector)
    # For the escalation review's lists: a contact no decision covered, and a contact the gate refused.
    ContactEventFactory(borrower=case.borrower, debts=[case.loan_id], is_exception=True)
    DecisionFactory(borrower=case.borrower, loan=case.loan, to="", outcome="deny")
    # A dispute the borrower made on their own page, with a document (the managers' disputes list).
    document = uploads.store(case_id=case.pk, upload=ContentFile(b"%PDF-1.4 matrix", name="d.pdf"), kind="pdf")
    records = TeamRecords(
        manager=manager,
        collector=collector,
        case=case,
        phone=PhoneFactory(borrower=case.borrower, sms_consent=True, autodial_consent=True),
        hold=HoldFactory(case=case, kind="bankruptcy", placed_by=collector),
        dispute=HoldFactory(case=case, kind="dispute", placed_by=None, document_ref=document),
        visit=VisitFactory(case=case, scheduled_by=collector),
        plan=PaymentPlanFactory(case=case, proposed_by=collector),
        message=OutboundMessageFactory(case=case),
        restriction=RestrictionFactory(borrower=case.borrower, kind="cease_and_desist"),
        payment=PaymentFactory(loan=case.loan, received_at=dt.datetime(2024, 2, 3, 15, tzinfo=dt.UTC)),
        contact=ContactEventFactory(borrower=case.borrower, debts=[case.loan_id]),
        decision=DecisionFactory(borrower=case.borrower, loan=case.loan, to=""),
        recording=CallRecordingFactory(call=call),
        complaint=_complaint(case, manager),
        flagged_text=InboundMessage.objects.create(
            provider_id=f"SM-matrix-{letter}",
            from_number="+15550000000",
            to_number="+15550000001",
            body="I will complain to the regulator",
            borrower=case.borrower,
            action="none",
            possible_complaint=True,
        ),
        document=document_render(kind="formal_notice", case=case),
        # A call of the collector's drawn into the QA sample and scored (its recording is the call's above).
        review=CallReviewFactory(
            disposition=CallDispositionFactory(case=case, actor=collector, call=call),
            team=crew,
            results=dict.fromkeys(QA_ITEMS, True),
            score=100,
            reviewed_by=manager,
            reviewed_at=timezone.now(),
        ),
        certification=CertificationFactory(collector=collector),
        vulnerability=VulnerabilityRecord.objects.create(
            borrower=case.borrower,
            drivers=["health"],
            details="matrix",
            consent_method="spoken",
            consent_at=timezone.now(),
            review_on=timezone.localdate() + dt.timedelta(days=90),
        ),
    )
    # The borrower's dispute's record (its workflow: DSP-01), as the service keeps it with the hold.
    Dispute.objects.create(hold=records.dispute, case=case, received_at=timezone.now(), channel="portal", written=True,
                           in_validation_period=True)  # fmt: skip
    return records


def _complaint(case: Any, manager: Any) -> Any:
    """A conduct complaint waiting for acknowledgement, with a response document on file (the download route)."""
    complaint = complaint_record(case_id=case.pk, actor=manager, channel="letter", category="conduct", summary="m")
    document = uploads.store(case_id=case.pk, upload=ContentFile(b"%PDF-1.4 reply", name="r.pdf"), kind="pdf")
    Complaint.objects.filter(pk=complaint.pk).update(response_ref=document)
    return complaint


def build_world() -> World:
    a, b = team("A"), team("B")
    for records in (a, b):  # the evidence pack as it stood before the promises below: building again is version 2
        evidence_pack_build(case_id=records.case.pk, actor=records.manager)
    PromiseFactory(case=a.case, status="broken", created_by=a.collector)  # settled: a new promise may be made
    PromiseFactory(case=b.case, status="broken", created_by=b.collector)
    users = {
        "anonymous": None,
        "no_role": UserFactory(username="no.role"),
        "other_collector": b.collector,
        "collector": a.collector,
        "other_manager": b.manager,
        "manager": a.manager,
        "admin": user_with_role("admin", "admin", is_staff=True),
    }
    return World(a=a, b=b, users=users, sweep=SweepRunFactory())


# ---------------------------------------------------------------------------------------------------------------
# How to ask: path parameters and bodies from the world (team A's records)
# ---------------------------------------------------------------------------------------------------------------
def soon(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


def borrower_body(external_id: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "full_name": "Pat Matrix",
        "language": "en",
        "address": {"line1": "1 Main St", "city": "Boston", "region": "MA", "postal_code": "02118", "country": "US"},
        "phones": [{"number": "+16175550199", "kind": "mobile", "sms_consent": True}],
    }


def loan_body(external_id: str) -> dict[str, Any]:
    return {"external_id": external_id, "product": "us-test", "principal": "1200.00", "currency": "USD",
            "disbursed_on": "2026-01-01", "annual_rate": "12", "term_months": 12,
            "first_due_date": "2026-02-01"}  # fmt: skip


ARGS: dict[str, Callable[[World, str], list[Any]]] = {
    "portal-page": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id)],
    "portal-check": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id)],
    "email-unsubscribe": lambda w, _: [
        unsubscribe_token(OutboundMessageFactory(case=w.a.case, channel="email", to="pat@example.com").pk)
    ],
    "portal-promise": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id), w.a.case.loan.external_id],
    "portal-promise-done": lambda w, _: [
        portal_link_issue(borrower_id=w.a.case.borrower_id),
        w.a.case.loan.external_id,
    ],
    "portal-plan": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id), w.a.case.loan.external_id],
    "portal-plan-done": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id), w.a.case.loan.external_id],
    "portal-dispute": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id), w.a.case.loan.external_id],
    "portal-dispute-done": lambda w, _: [
        portal_link_issue(borrower_id=w.a.case.borrower_id),
        w.a.case.loan.external_id,
    ],
    "portal-callback": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id), w.a.case.loan.external_id],
    "portal-callback-done": lambda w, _: [
        portal_link_issue(borrower_id=w.a.case.borrower_id),
        w.a.case.loan.external_id,
    ],
    "portal-preferences": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id)],
    "portal-preferences-done": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id)],
    "portal-pay": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id)],
    "portal-payment": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id), "a" * 32],
    "portal-card": lambda w, _: [portal_link_issue(borrower_id=w.a.case.borrower_id), "a" * 32],
    "borrower-detail": lambda w, _: [w.a.case.borrower_id],
    "borrower-promise": lambda w, _: [w.a.case.borrower_id],
    "case-detail": lambda w, _: [w.a.case.pk],
    "sms-preview": lambda w, _: [w.a.case.pk],
    "case-call-card": lambda w, _: [w.a.case.pk],
    "case-recording": lambda w, _: [w.a.case.pk, w.a.recording.pk],
    "case-document": lambda w, _: [w.a.case.pk, w.a.document.pk],
    "case-action": lambda w, action: [w.a.case.pk, action],
    "plan-decide": lambda w, _: [w.a.plan.pk],
    "dispute-document": lambda w, _: [w.a.dispute.pk],
    "case-evidence-pack": lambda w, _: [w.a.case.pk],
    "case-evidence-pack-build": lambda w, _: [w.a.case.pk],
    "complaint-acknowledge": lambda w, _: [w.a.complaint.pk],
    "complaint-resolve": lambda w, _: [w.a.complaint.pk],
    "complaint-document": lambda w, _: [w.a.complaint.pk],
    "possible-complaint": lambda w, _: [w.a.flagged_text.pk],
    "api-case-detail": lambda w, _: [w.a.case.pk],
    "api-case-transition": lambda w, name: [w.a.case.pk, name],
    "api-case-grace": lambda w, _: [w.a.case.pk],
    "api-case-evidence-pack": lambda w, _: [w.a.case.pk],
    "api-case-notes": lambda w, _: [w.a.case.pk],
    "api-case-promises": lambda w, _: [w.a.case.pk],
    "api-case-payment-plans": lambda w, _: [w.a.case.pk],
    "api-case-visits": lambda w, _: [w.a.case.pk],
    "api-case-forbearance": lambda w, _: [w.a.case.pk],
    "api-case-disputes": lambda w, _: [w.a.case.pk],
    "api-case-dispute-verification": lambda w, _: [w.a.case.pk, w.a.dispute.dispute.pk],
    "api-case-visit-outcome": lambda w, _: [w.a.case.pk, w.a.visit.pk],
    "api-message-detail": lambda w, _: [w.a.message.pk],
    "api-sweep-detail": lambda w, _: [w.sweep.pk],
    "api-borrower-detail": lambda w, _: [w.a.case.borrower_id],
    "api-loan-detail": lambda w, _: [w.a.case.loan_id],
    "api-borrower-restrictions": lambda w, _: [w.a.case.borrower_id],
    "api-borrower-consents": lambda w, _: [w.a.case.borrower_id],
    "api-restriction-lift": lambda w, _: [w.a.case.borrower_id, w.a.restriction.pk],
    "api-borrower-vulnerability": lambda w, _: [w.a.case.borrower_id],
    "api-complaint-detail": lambda w, _: [w.a.complaint.pk],
    "api-complaint-acknowledge": lambda w, _: [w.a.complaint.pk],
    "api-complaint-resolve": lambda w, _: [w.a.complaint.pk],
    "api-vulnerability-end": lambda w, _: [w.a.case.borrower_id],
    "qa-review": lambda w, _: [w.a.review.pk],
    "certification-withdraw": lambda w, _: [w.a.certification.pk],
}
# A list's query for the matrix: the queue's every open case (its "can act now" view depends on the hour).
GET_QUERIES: dict[str, dict[str, str]] = {"case-queue": {"view": "all"}}
TRANSITION_BODY = {"reason": "matrix", "close_reason": "settled"}
BODIES: dict[str, Callable[[World], Any]] = {
    "login": lambda w: {"username": "collector.a", "password": "not-the-password"},
    "set_language": lambda w: {"language": "en", "next": "/"},
    "portal-check": lambda w: {"answer": "1234"},
    "email-unsubscribe": lambda w: {"List-Unsubscribe": "One-Click"},
    "portal-pay": lambda w: {"loan": w.a.case.loan.external_id, "kind": "chosen", "amount": "0.01", "key": "a" * 32},
    "portal-card": lambda w: {"payment_method": "card_matrix"},
    "escalations-decide": lambda w: {
        "decision": "approve_legal",
        "case": [w.a.case.pk],
        "reason": "matrix",
        "confirmed": "1",
    },
    "plan-decide": lambda w: {"approve": "1", "reason": "matrix"},
    "qa-review": lambda w: {**dict.fromkeys(QA_ITEMS, "pass"), "mini_miranda": "fail", "notes": "matrix"},
    "certifications": lambda w: {"collector": w.a.collector.pk, "course": "matrix", "passed_on": soon(0)},
    "cases-reassign": lambda w: {"case": [w.a.case.pk], "to_user": w.a.collector.pk},
    "case-action[call-start]": lambda w: {"to": str(w.a.phone.number)},
    "case-action[call-log]": lambda w: {"decision": w.a.decision.pk, "party": "no_answer"},
    "case-action[recording-hold]": lambda w: {"recording": w.a.recording.pk, "hold": "on"},
    "case-action[note]": lambda w: {"text": "matrix note"},
    "case-action[promise]": lambda w: {"amount": "10.00", "promised_on": soon(3)},
    "borrower-promise": lambda w: {
        f"cover_{w.a.case.pk}": "on",
        f"amount_{w.a.case.pk}": "10.00",
        "promised_on": soon(3),
    },
    "case-action[plan]": lambda w: {"down_payment": "0", "count": "2", "frequency": "monthly", "starts_on": soon(7)},
    "case-action[hold]": lambda w: {"kind": "dispute", "reason": "matrix"},
    "case-action[hold-lift]": lambda w: {"hold": w.a.hold.pk, "reason": "matrix"},
    "case-action[dispute]": lambda w: {"dispute-channel": "letter", "dispute-reason": "matrix"},
    "case-action[dispute-verification]": lambda w: {"dispute": w.a.dispute.dispute.pk},
    "case-action[forbearance]": lambda w: {"kind": "payment_holiday", "details": "matrix"},
    "case-action[complaint]": lambda w: {
        "complaint-category": "amount",
        "complaint-channel": "letter",
        "complaint-summary": "matrix",
    },
    "case-action[breathing-space-treatment]": lambda w: {
        "treatment-hold": w.a.hold.pk,
        "treatment-treatment_ends_on": soon(40),
        "treatment-reason": "matrix",
    },
    "case-action[visit]": lambda w: {
        "address": "1 Main St",
        "window_start": f"{soon(2)}T10:00",
        "window_end": f"{soon(2)}T12:00",
    },
    "case-action[visit-record]": lambda w: {"visit": w.a.visit.pk, "status": "cancelled"},
    "case-action[grace]": lambda w: {"days": "5", "reason": "matrix"},
    "case-action[sms]": lambda w: {"purpose": "reminder"},
    "case-action[vulnerability]": lambda w: {
        "vul-drivers": ["health", "capability"],
        "vul-consent": "on",
        "vul-consent_method": "written",
        "vul-review_on": soon(60),
        "vul-adjustments": ["written_only"],
    },
    "case-action[vulnerability-end]": lambda w: {"vulend-record": w.a.vulnerability.pk, "vulend-end_reason": "matrix"},
    **{
        f"case-action[transition-{n}]": lambda w: TRANSITION_BODY
        for n in ("escalate_formal_notice", "request_legal", "approve_legal", "reject_legal", "close")
    },
    **{
        f"api-case-transition[{n}]": lambda w: TRANSITION_BODY
        for n in ("escalate_formal_notice", "request_legal", "approve_legal", "reject_legal", "close")
    },
    "api-case-grace": lambda w: {"days": 5, "reason": "matrix"},
    "api-case-evidence-pack": lambda w: {"reason": "matrix"},
    "api-case-notes": lambda w: {"text": "matrix note"},
    "api-case-forbearance": lambda w: {"kind": "debt_advice_referral"},
    "api-case-disputes": lambda w: {"reason": "matrix", "channel": "letter"},
    "api-case-promises": lambda w: {"amount": "10.00", "promised_on": soon(3)},
    "api-case-payment-plans": lambda w: {"down_payment": "0", "count": 2, "frequency": "monthly", "starts_on": soon(7)},
    "api-case-visits": lambda w: {
        "address": "1 Main St",
        "collectors": ["collector.a"],
        "window_start": f"{soon(2)}T10:00:00-05:00",
        "window_end": f"{soon(2)}T12:00:00-05:00",
    },
    "api-case-visit-outcome": lambda w: {"status": "cancelled"},
    "api-sweep-list": lambda w: {"as_of": "2999-01-01"},
    "api-borrower-list": lambda w: borrower_body("B-MATRIX"),
    "api-complaint-list": lambda w: {"case": w.a.case.pk, "category": "amount", "summary": "matrix"},
    "api-complaint-resolve": lambda w: {"outcome": "upheld", "response_text": "matrix"},
    "api-borrower-detail": lambda w: borrower_body(w.a.case.borrower.external_id),
    "api-loan-list": lambda w: {**loan_body("L-MATRIX"), "borrower": w.a.case.borrower_id},
    "api-payments": lambda w: {
        "loan": w.a.case.loan_id,
        "amount": "10.00",
        "received_at": "2024-02-12T10:00:00+00:00",
        "reference": "MATRIX-1",
    },
    "api-payments-bulk": lambda w: [
        {
            "loan": w.a.case.loan.external_id,
            "amount": "10.00",
            "received_at": "2024-02-12T10:00:00+00:00",
            "reference": "MATRIX-1",
        }
    ],
    "api-loans-bulk": lambda w: [
        {"borrower": borrower_body(w.a.case.borrower.external_id), "loan": loan_body("L-MATRIX")}
    ],
    "complaint-resolve": lambda w: {"outcome": "upheld", "response_text": "matrix"},
    "possible-complaint": lambda w: {"decision": "confirm", "category": "conduct"},
    "api-compliance-check": lambda w: {"borrower": w.a.case.borrower_id, "channel": "sms"},
    "api-borrower-restrictions": lambda w: {"kind": "dispute", "reason": "matrix"},
    "api-borrower-consents": lambda w: {"medium": "sms", "address": str(w.a.phone.number), "kind": "written_consent"},
    "api-restriction-lift": lambda w: {"reason": "matrix"},
    "api-borrower-vulnerability": lambda w: {
        "drivers": ["life_event"],
        "consent_method": "online",
        "review_on": soon(30),
        "adjustments": ["no_automated"],
    },
    "api-vulnerability-end": lambda w: {"reason": "matrix"},
    "api-contacts": lambda w: {
        "borrower": w.a.case.borrower_id,
        "channel": "call",
        "direction": "outbound",
        "occurred_at": "2024-02-12T15:00:00+00:00",
        "outcome": "no_answer",
    },
}
# What a list shows: which kind of record, read from the answer.
LISTS = {
    "case-queue": "case",
    "escalations": "case",
    "escalations-plans": "case",
    "escalations-legal": "case",
    "escalations-disputes": "case",
    "escalations-exceptions": "case",
    "escalations-denials": "case",
    "escalations-complaints": "case",
    "api-case-list": "case",
    "api-message-list": "message",
    "api-borrower-list": "borrower",
    "api-loan-list": "loan",
    "api-payments": "payment",
    "api-contacts": "contact",
    "api-complaint-list": "complaint",
    "api-certifications": "certification",
    "api-call-reviews": "review",
}
CASE_LINK = re.compile(r'href="/cases/(\d+)/"')


def split(route: str) -> tuple[str, str]:
    """``"case-action[note]"`` → ``("case-action", "note")``."""
    name, _, variant = route.partition("[")
    return name, variant.rstrip("]")


def is_api(name: str) -> bool:
    return name.startswith("api-") and name != "api-docs"


def url_for(name: str, variant: str, w: World) -> str:
    return reverse(name, args=ARGS[name](w, variant) if name in ARGS else None)


def client_for(user: Any, *, api: bool) -> Client:
    client: Client = APIClient() if api else Client()
    client.raise_request_exception = False  # a 500 is an answer to report, not a reason to stop
    if user is not None:
        if api:
            client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
        else:
            client.force_login(user)
    return client


# ---------------------------------------------------------------------------------------------------------------
# Nothing written: one digest per table of the project (and the users), in one query
# ---------------------------------------------------------------------------------------------------------------
def project_tables() -> list[str]:
    labels = ("loans", "compliance", "notifications", "collections_app")
    tables = [m._meta.db_table for label in labels for m in apps.get_app_config(label).get_models()]
    tables += [apps.get_model("auth", "User")._meta.db_table]
    return sorted(set(tables))


def digest(tables: list[str]) -> dict[str, str]:
    rows = "md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), ''))"
    parts = " UNION ALL ".join(f"SELECT '{t}', {rows} FROM {connection.ops.quote_name(t)} r" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(parts)
        return dict(cursor.fetchall())


# ---------------------------------------------------------------------------------------------------------------
# Asking and judging
# ---------------------------------------------------------------------------------------------------------------
def ask(client: Client, method: str, url: str, body: Any, *, api: bool) -> Any:
    send = getattr(client, method.lower())
    if body is None:
        return send(url)
    if api:
        return send(url, body, format="json")
    return send(url, body) if method in ("GET", "POST") else send(url, body, content_type="application/json")


def seen(response: Any, route: str, w: World) -> str:
    """Which teams' records a list answer shows (its ids against the world's), e.g. "A"."""
    if not is_api(route):
        shown = {int(i) for i in CASE_LINK.findall(response.content.decode())}
    else:
        data = response.json()
        shown = {row["id"] for row in (data["results"] if isinstance(data, dict) else data)}
    return "".join(letter for letter, pk in w.ids(LISTS[route]).items() if pk in shown)


def judge(expected: Cell, response: Any, route: str, w: World) -> str:
    """What is wrong with the answer ("" when it is as expected)."""
    got = response.status_code
    if got != expected.status:
        where = f" → {response.get('Location', '')}" if 300 <= got < 400 else ""
        return f"expected {expected}, got {got}{where}"
    location = response.get("Location", "")
    if got == 302:
        to_login = location.startswith(reverse("login"))
        to_admin_login = location.startswith(reverse("admin:login"))
        if expected.location == "login" and not to_login:
            return f"expected a redirect to sign in, got one to {location}"
        if expected.location == "admin:login" and not to_admin_login:
            return f"expected a redirect to the admin's sign-in, got one to {location}"
        if not expected.location and (to_login or to_admin_login):
            return f"expected a redirect to a page, got one to sign in: {location}"
    if expected.sees is not None:
        shown = seen(response, route, w)
        if shown != expected.sees:
            return f"expected the list to show team(s) {expected.sees or 'none'}, it shows {shown or 'none'}"
    return ""


def cell(value: Cell | int) -> Cell:
    return value if isinstance(value, Cell) else Cell(value, refused=value in REFUSALS)


def check_route(route: str, methods: dict[str, tuple[Cell | int, ...]], w: World) -> list[str]:
    """Ask every caller with every method of the route; return what differs from the matrix."""
    name, variant = split(route)
    api = is_api(name)
    url = url_for(name, variant, w)
    tables = project_tables()
    problems = []
    for caller, user in w.users.items():
        client = client_for(user, api=api)
        for method, row in methods.items():
            expected = cell(row[CALLERS.index(caller)])
            body = BODIES[route](w) if method != "GET" and route in BODIES else GET_QUERIES.get(route)
            with transaction.atomic():
                before = digest(tables) if expected.refused or expected.writes else None
                response = ask(client, method, url, body, api=api)
                problem = judge(expected, response, name, w)
                if not problem and before is not None:
                    try:
                        after = digest(tables)
                    except DatabaseError as exc:
                        after, problem = before, f"the request broke the transaction: {exc}"
                    changed = sorted(t for t in tables if after[t] != before[t])
                    if expected.page_shown:
                        changed = [t for t in changed if t not in VIEW_AUDIT]
                    if changed and expected.refused:
                        problem = f"refused ({response.status_code}) but wrote to {', '.join(changed)}"
                    if not changed and expected.writes:
                        problem = f"answered {response.status_code} but wrote nothing"
                transaction.set_rollback(True)
            if problem:
                problems.append(f"{method} {url} as {caller}: {problem}")
    return problems


def routes_of_matrix() -> dict[str, dict[str, tuple[Cell | int, ...]]]:
    by_route: dict[str, dict[str, tuple[Cell | int, ...]]] = {}
    for (route, method), row in MATRIX.items():
        assert len(row) == len(CALLERS), f"{route} {method}: one answer per caller"
        by_route.setdefault(route, {})[method] = row
    return by_route


# ---------------------------------------------------------------------------------------------------------------
# The routes the project serves, from the URL resolver
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"; "<namespace>:?" for an unnamed pattern
    pattern: str
    callback: Any

    def api_methods(self) -> set[str] | None:
        """The methods a DRF view answers (a viewset's mapped actions, an APIView's handlers); None for others."""
        view = getattr(self.callback, "cls", None)
        if view is None:
            return None
        allowed = {m for m in view.http_method_names if m not in ("head", "options")}
        actions = getattr(self.callback, "actions", None)
        handlers = set(actions) if actions else {m for m in allowed if hasattr(view, m)}
        return {m.upper() for m in handlers & allowed}


def walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield Route(f"{namespace}{entry.name or '?'}", prefix + str(entry.pattern), entry.callback)


def served_routes() -> list[Route]:
    return list(walk(get_resolver().url_patterns))


# ---------------------------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------------------------
def test_every_route_is_in_the_permission_matrix():
    routes = served_routes()
    in_matrix = {split(route)[0] for route, _ in MATRIX}
    project = [r for r in routes if not r.name.startswith("admin:")]
    unnamed = [r.pattern for r in project if r.name.endswith("?")]
    assert not unnamed, f"name these routes so the matrix can list them: {unnamed}"
    missing = sorted({r.name for r in project} - in_matrix)
    assert not missing, f"add these routes to MATRIX in {__file__}: {missing}"
    stale = sorted(in_matrix - {r.name for r in project})
    assert not stale, f"these routes are gone; remove them from MATRIX: {stale}"
    admin_names = {r.name for r in routes if r.name.startswith("admin:")}
    listed = set(ADMIN_MATRIX) | set(ADMIN_SPOT_CHECKS)
    unknown = sorted(n for n in admin_names - listed if not ADMIN_INTERNALS.match(n))  # e.g. a new model's list
    assert not unknown, f"add these admin pages to ADMIN_MATRIX: {unknown}"
    assert not listed - admin_names, f"these admin pages are gone: {sorted(listed - admin_names)}"


def test_every_method_an_api_route_answers_is_in_the_matrix():
    declared: dict[str, set[str]] = {}
    for route, method in MATRIX:
        declared.setdefault(split(route)[0], set()).add(method)
    for route in served_routes():
        methods = route.api_methods()
        if methods is not None and not route.name.startswith("admin:"):
            assert methods == declared[route.name], f"{route.name} answers {sorted(methods)}: list each in MATRIX"


def test_the_matrix_lists_every_case_action_and_every_transition_a_person_may_run():
    from collections_app.services import USER_TRANSITIONS

    view = inspect.unwrap(resolve(reverse("case-action", args=[1, "note"])).func)
    actions = view.__globals__.get("CASE_ACTIONS")
    assert actions is not None, "the case-action view's table of actions (CASE_ACTIONS) moved: update this test"
    listed = {split(route)[1] for route, _ in MATRIX if split(route)[0] == "case-action"}
    assert listed == set(actions), f"case actions missing from MATRIX: {sorted(set(actions) - listed)}"
    listed = {split(route)[1] for route, _ in MATRIX if split(route)[0] == "api-case-transition"}
    assert listed == set(USER_TRANSITIONS), f"transitions missing: {sorted(set(USER_TRANSITIONS) - listed)}"


@pytest.mark.parametrize("route", sorted(routes_of_matrix()))
def test_each_route_answers_each_caller_as_the_matrix_says(route):
    w = build_world()
    problems = check_route(route, routes_of_matrix()[route], w)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("route", sorted(r for r in routes_of_matrix() if split(r)[0] not in PUBLIC))
def test_a_method_a_route_does_not_list_is_not_allowed_even_for_an_admin(route):
    """So a new write method on an existing route cannot slip past the matrix."""
    w = build_world()
    unlisted = {m: (405,) * len(CALLERS) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
                if m not in routes_of_matrix()[route]}  # fmt: skip
    admin_only = World(a=w.a, b=w.b, users={"admin": w.users["admin"]}, sweep=w.sweep)
    problems = check_route(route, unlisted, admin_only)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("url_name", sorted({**ADMIN_MATRIX, **ADMIN_SPOT_CHECKS}))
def test_admin_pages_answer_each_caller_as_the_matrix_says(url_name):
    w = build_world()
    model_args = {
        "admin:collections_app_collectioncase_change": [w.a.case.pk],
        "admin:auth_user_delete": [w.users["collector"].pk],
    }
    url = reverse(url_name, args=model_args.get(url_name))
    row = {**ADMIN_MATRIX, **ADMIN_SPOT_CHECKS}[url_name]
    problems = []
    for caller, user in w.users.items():
        response = client_for(user, api=False).get(url)
        problem = judge(cell(row[CALLERS.index(caller)]), response, url_name, w)
        if problem:
            problems.append(f"GET {url} as {caller}: {problem}")
    assert not problems, "\n".join(problems)


def test_static_files_are_served_before_any_sign_in(settings):
    """Public by design, like /healthz: the sign-in page needs its stylesheet (served by WhiteNoise, which answers
    before the login middleware; from the source folders here, as ``collectstatic`` has not run)."""
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    for path in ("/static/vendor/bootstrap/css/bootstrap.min.css", "/static/favicon.ico"):
        response = Client().get(path)
        assert response.status_code == 200, path

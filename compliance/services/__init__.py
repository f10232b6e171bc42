"""The compliance app's services, one module per task:

- ``gate``: the one gate every contact asks first — the outbox dispatcher, a collector's call, a field visit, a letter
  (``contact_check``; ``contacts_reserve_batch`` and ``contacts_check_batch`` for many at once);
- ``facts``: what the gate counts for a borrower, loaded in one query;
- ``ledger``: the contacts that happened and consents; a reservation settled into its outcome or released;
- ``conduct``: the conduct rules a case's escalation must pass (BS-01, FB-01);
- ``notices``: VAL-01's validation notice recorded when mailed, DSP-01's validation-period facts of a dispute,
  DN-01's default notice recorded when posted;
- ``restrictions``: restrictions and the one rule for lifting them; profile edits;
- ``vulnerability``: vulnerability records (VUL-01) and the audit of every view;
- ``certification``: collectors' training records (CERT-01) and the facts the gate reads of them.

The names below are the public services, for callers that want one import.
"""

from compliance.services.certification import (
    CertificationInvalid,
    certification_record,
    certification_validity_months,
    certification_withdraw,
    staff_facts,
)
from compliance.services.conduct import breathing_space_in_force, breathing_spaces_in_force, escalation_check
from compliance.services.facts import ComplianceError, facts_load, profiles_current, to_kind_for
from compliance.services.gate import PlannedContact, contact_check, contacts_check_batch, contacts_reserve_batch
from compliance.services.ledger import (
    consent_record,
    contact_reclassify,
    contact_record,
    reservation_settle,
    reservation_settle_with,
    reservations_release,
)
from compliance.services.notices import (
    default_notice_record,
    default_notice_returned,
    dispute_period_facts,
    validation_first_communication_before_system,
    validation_notice_applies,
    validation_notice_record,
)
from compliance.services.restrictions import (
    LiftRefused,
    profile_revise,
    restriction_add,
    restriction_lift,
    restriction_may_lift,
    restriction_reschedule,
)
from compliance.services.vulnerability import (
    VulnerabilityInvalid,
    vulnerability_end,
    vulnerability_record,
    vulnerability_view_audit,
)

__all__ = [
    "CertificationInvalid",
    "ComplianceError",
    "LiftRefused",
    "PlannedContact",
    "VulnerabilityInvalid",
    "breathing_space_in_force",
    "breathing_spaces_in_force",
    "certification_record",
    "certification_validity_months",
    "certification_withdraw",
    "consent_record",
    "contact_check",
    "contact_reclassify",
    "contact_record",
    "contacts_check_batch",
    "contacts_reserve_batch",
    "default_notice_record",
    "default_notice_returned",
    "dispute_period_facts",
    "escalation_check",
    "facts_load",
    "profile_revise",
    "profiles_current",
    "reservation_settle",
    "reservation_settle_with",
    "reservations_release",
    "restriction_add",
    "restriction_lift",
    "restriction_may_lift",
    "restriction_reschedule",
    "staff_facts",
    "to_kind_for",
    "validation_first_communication_before_system",
    "validation_notice_applies",
    "validation_notice_record",
    "vulnerability_end",
    "vulnerability_record",
    "vulnerability_view_audit",
]

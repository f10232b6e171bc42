"""Everything the gate counts for a borrower — phones, e-mail addresses, consents and opt-outs, restrictions in force,
the recent contact ledger — and the current profiles, loaded in one query whatever the number of borrowers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from django.db import connection

from compliance.engine import (
    BorrowerFacts,
    DebtClockFact,
    LedgerEvent,
    Profile,
    RestrictionFact,
    VulnerabilityFact,
)
from compliance.models import (
    ConsentEvent,
    ConsentKind,
    ContactEvent,
    DebtClock,
    JurisdictionProfile,
    Restriction,
    VulnerabilityRecord,
)
from loans.models import Borrower, EmailAddress, PhoneNumber
from loans.sql import json_rows_sql

EVALUATOR_VERSION = "2026.11-1"


LEDGER_DAYS = 35  # the longest window any rule counts over (MA: 30 days), plus margin


class ComplianceError(Exception):
    """A request the gate cannot evaluate (unknown borrower, bad channel)."""


def profiles_current() -> list[Profile]:
    """The profiles in force, by code: their order is the order of a decision's reasons, so it must not be the
    table's (a fresh version of one profile moved it in PostgreSQL's heap and a decision's reasons with it)."""
    return [
        Profile(p.code, p.version, p.params)
        for p in JurisdictionProfile.objects.filter(is_current=True).order_by("code")
    ]


def _json(value: Any) -> Any:
    """A JSON value from an aggregate: PostgreSQL nests it, SQLite hands nested JSON columns back as text."""
    return json.loads(value) if isinstance(value, str) else value


def _instant(value: str) -> dt.datetime:
    """A timestamp from JSON: ISO-8601 with an offset on PostgreSQL, naive UTC on SQLite."""
    at = dt.datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def facts_load(
    borrower_ids: Iterable[int], *, at: dt.datetime, with_profiles: bool = False
) -> tuple[dict[int, BorrowerFacts], list[Profile] | None]:
    """Everything the gate counts for these borrowers — phones, e-mail addresses, consents and opt-outs,
    restrictions in force and the recent contact ledger — in one query whatever their number. With
    ``with_profiles`` the current jurisdiction profiles come in the same query (for a single check; a batch loads
    them once on their own).

    Plain SQL on purpose: the same query built with the ORM cost more time to compile than to run, and a single
    check's budget is a few milliseconds (issue 4)."""
    ids = sorted(set(borrower_ids))
    if not ids:
        return {}, profiles_current() if with_profiles else None
    stamp = connection.ops.adapt_datetimefield_value
    profiles_sql = ", " + _profiles_sql() if with_profiles else ""
    sql = f"""
        SELECT b.id, b.time_zones, b.country, b.region, b.city, {_children_sql()}{profiles_sql}
        FROM {Borrower._meta.db_table} b WHERE b.id IN ({", ".join(["%s"] * len(ids))})
    """
    since, until = at - dt.timedelta(days=LEDGER_DAYS), at + dt.timedelta(days=1)
    params = [stamp(at), stamp(at), stamp(since), stamp(until), *ids]
    facts, profiles = {}, None
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c[0] for c in cursor.description]
        for values in cursor.fetchall():
            row = dict(zip(columns, values, strict=True))
            if with_profiles:
                profiles = [
                    Profile(p["code"], p["version"], _json(p["params"]))
                    for p in sorted(_json(row["profiles"]) or [], key=lambda p: p["code"])  # as profiles_current
                ]
            facts[row["id"]] = _facts_from_row(row)
    return facts, profiles


def _children_sql() -> str:
    return ", ".join(
        [
            json_rows_sql(
                PhoneNumber._meta.db_table,
                "borrower_id = b.id",
                id="id",
                position="position",
                number="number",
                kind="kind",
                sms_consent="sms_consent",
                autodial_consent="autodial_consent",
            )
            + " AS phones",
            json_rows_sql(EmailAddress._meta.db_table, "borrower_id = b.id", id="id", address="address", kind="kind")
            + " AS emails",
            # Consents and opt-outs as known now: an opt-out is honoured at once, whatever instant is evaluated.
            json_rows_sql(
                ConsentEvent._meta.db_table,
                "borrower_id = b.id",
                id="id",
                at="at",
                medium="medium",
                address="address",
                kind="kind",
            )
            + " AS consents",
            # In force at the instant: started, not lifted, not ended (Restriction.objects.active).
            json_rows_sql(
                Restriction._meta.db_table,
                "borrower_id = b.id AND starts_at <= %s AND lifted_at IS NULL AND (ends_at IS NULL OR ends_at > %s)",
                id="id",
                kind="kind",
                loan_id="loan_id",
                details="details",
            )
            + " AS in_force",
            json_rows_sql(
                ContactEvent._meta.db_table,
                "borrower_id = b.id AND at > %s AND at <= %s",
                id="id",
                channel="channel",
                direction="direction",
                at="at",
                outcome="outcome",
                to='"to"',
                debts="debts",
                target_role="target_role",
                automated="automated",
            )
            + " AS ledger",
            # VUL-01: the active record's drivers and adjustments (its details stay out of the gate).
            json_rows_sql(
                VulnerabilityRecord._meta.db_table,
                "borrower_id = b.id AND ended_at IS NULL",
                id="id",
                drivers="drivers",
                adjustments="adjustments",
                named_collector_id="named_collector_id",
            )
            + " AS vulnerable",
            # VAL-01: each debt's first communication and validation notice.
            json_rows_sql(
                DebtClock._meta.db_table,
                "borrower_id = b.id",
                loan_id="loan_id",
                first="first_communication_at",
                before="before_system",
                notice="notice_sent_at",
                ends="validation_period_ends_on",
            )
            + " AS clocks",
        ]
    )


def _profiles_sql() -> str:
    return (
        json_rows_sql(JurisdictionProfile._meta.db_table, "is_current", code="code", version="version", params="params")
        + " AS profiles"
    )


def _facts_from_row(row: dict[str, Any]) -> BorrowerFacts:
    # In the borrower's order (then the order they were added): the first eligible number is the one used.
    phones = sorted(_json(row["phones"]) or [], key=lambda p: (p["position"], p["id"]))
    state: dict[tuple[str, str], str] = {}
    written: dict[str, bool] = {}  # NYC-01: a written consent to e-communications, until an opt-out revokes it
    for event in sorted(_json(row["consents"]) or [], key=lambda e: (_instant(e["at"]), e["id"])):
        if event["kind"] == ConsentKind.WRITTEN_CONSENT:
            written[event["address"]] = True
            continue  # not a change of the medium's opt-in / opt-out state
        if event["kind"] == ConsentKind.OPT_OUT:
            written[event["address"]] = False
        state[(event["medium"], event["address"])] = event["kind"]
        if event["kind"] in (ConsentKind.AUTODIAL_CONSENT, ConsentKind.AUTODIAL_REVOKED):
            state[("autodial", event["address"])] = event["kind"]
    numbers = [str(p["number"]) for p in phones]
    ledger = [
        LedgerEvent(
            e["id"],
            e["channel"],
            e["direction"],
            _instant(e["at"]),
            e["outcome"],
            e["to"],
            tuple(_json(e["debts"]) or ()),
            e["target_role"],
            bool(e["automated"]),
        )
        for e in _json(row["ledger"]) or []
    ]
    return BorrowerFacts(
        borrower_id=row["id"],
        zones=tuple(_json(row["time_zones"]) or ()),
        country=row["country"],
        region=row["region"],
        city=row.get("city") or "",
        restrictions=tuple(
            RestrictionFact(r["id"], r["kind"], r["loan_id"], _json(r["details"]) or {})
            for r in sorted(_json(row["in_force"]) or [], key=lambda r: r["id"])
        ),
        sms_opted_out=frozenset(n for n in numbers if state.get(("sms", n)) == ConsentKind.OPT_OUT),
        email_opted_out=frozenset(a for (m, a), k in state.items() if m == "email" and k == ConsentKind.OPT_OUT),
        call_opted_out=frozenset(n for n in numbers if state.get(("voice", n)) == ConsentKind.OPT_OUT),
        sms_consent=frozenset(str(p["number"]) for p in phones if p["sms_consent"]),
        autodial_consent=frozenset(
            n
            for n, p in zip(numbers, phones, strict=True)
            if (
                p["autodial_consent"]
                and state.get(("autodial", n)) != ConsentKind.AUTODIAL_REVOKED
                and state.get(("sms", n)) != ConsentKind.OPT_OUT
            )
            or state.get(("autodial", n)) == ConsentKind.AUTODIAL_CONSENT
        ),
        written_consent=frozenset(a for a, given in written.items() if given),
        ledger=tuple(sorted(ledger, key=lambda e: (e.at, e.id))),
        phone_kinds={n: p["kind"] for n, p in zip(numbers, phones, strict=True)},
        email_kinds={e["address"]: e["kind"] for e in sorted(_json(row["emails"]) or [], key=lambda e: e["id"])},
        vulnerability=_vulnerability(row),
        debt_clocks=tuple(
            DebtClockFact(
                c["loan_id"],
                _instant(c["first"]) if c["first"] else None,
                bool(c["before"]),
                _instant(c["notice"]) if c["notice"] else None,
                dt.date.fromisoformat(str(c["ends"])[:10]) if c["ends"] else None,
            )
            for c in sorted(_json(row["clocks"]) or [], key=lambda c: c["loan_id"])
        ),
    )


def _vulnerability(row: dict[str, Any]) -> VulnerabilityFact | None:
    """The borrower's active vulnerability record (at most one: ``vulnerability_one_active``)."""
    records = _json(row["vulnerable"]) or []
    if not records:
        return None
    r = records[0]
    return VulnerabilityFact(
        r["id"], tuple(_json(r["drivers"]) or ()), tuple(_json(r["adjustments"]) or ()), r["named_collector_id"]
    )


def to_kind_for(facts: BorrowerFacts, channel: str, to: str) -> str:
    """The class of the address being contacted (work numbers and work email are treated differently)."""
    if not to:
        return "address" if channel in ("letter", "visit") else "mobile"
    if channel in ("call", "sms"):
        return facts.phone_kinds.get(to, "mobile")
    if channel == "email":
        return "work_email" if facts.email_kinds.get(to) == "work" else "email"
    return "address"

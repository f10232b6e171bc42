"""The embedded default end to end: what ``make run`` does with nothing configured — a SQLite file, Celery's
filesystem transport, messages to the console — from an empty database to messages sent.

The rest of the suite runs on PostgreSQL (SQLite hides locking bugs); this test runs the real commands in a process
of their own on a fresh SQLite file, so SQL that only PostgreSQL understands (the sweep's set-based steps, the
outbox claim) cannot slip into the default every new user starts with."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEEDED_ON = "2026-06-15"  # seed_demo's "today" (a Monday)
NEXT_DAY = "2026-06-16"
# Dispatch at noon in Beijing (04:00 UTC): within contact hours for the Chinese lender's borrowers, the middle of the
# night for the US lender's, whose messages wait for the morning.
DISPATCH_AT = f"{NEXT_DAY}T04:00:00+00:00"
# A Chinese collector first asks for a text of the stage on their first open case (the case page's "send an SMS
# now"), so that a text is due at that hour whatever the seeded history planned for the day.
DISPATCH = f"""
import datetime as dt, json, time_machine
from collections_app.models import CollectionCase
from notifications.planning import message_plan
from notifications.services import outbox_claim, outbox_send
totals = {{}}
with time_machine.travel(dt.datetime.fromisoformat("{DISPATCH_AT}"), tick=False):
    case = CollectionCase.objects.filter(
        borrower__country="CN", state__in=["reminder", "formal_notice"], assigned_to__isnull=False
    ).order_by("id").first()
    message_plan(case=case, channel="sms", purpose=case.state, actor=case.assigned_to)
    while True:
        token, ids = outbox_claim()
        if not ids:
            break
        for outcome, n in outbox_send(message_ids=ids, claim_token=token).items():
            totals[outcome] = totals.get(outcome, 0) + n
print("dispatched", json.dumps(totals, sort_keys=True))
"""

# A demo collector's call through the console backend at the same hour: placed, its callbacks simulated, recorded.
CALL = f"""
import datetime as dt, time_machine
from django.contrib.auth import get_user_model
from collections_app.models import CollectionCase
from collections_app.services import call_log, call_start
from notifications.models import CallRecording
from notifications.services import collector_call_place
with time_machine.travel(dt.datetime.fromisoformat("{DISPATCH_AT}"), tick=False):
    user = get_user_model().objects.get(username="collector.cn1")
    working = CollectionCase.objects.filter(assigned_to=user).exclude(state__in=["on_hold", "resolved", "closed"])
    for case in working.order_by("pk"):
        phone = case.borrower.phones.order_by("pk").first()
        started = call_start(case_id=case.pk, actor=user, to=str(phone.number)) if phone else None
        if started and started.call:
            break
    call = collector_call_place(call_id=started.call.pk)
    call_log(case_id=case.pk, actor=user, decision_id=call.decision_id, party="right_party")
    print("call", call.status, call.outcome, CallRecording.objects.filter(call=call).count())
"""


def embedded_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh checkout: nothing of this test run's PostgreSQL and Redis, files under tmp_path."""
    inherited = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONPATH")}
    return {
        **inherited,
        "DJANGO_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_QUEUE_DIR": str(tmp_path / "celery"),
        "LETTERS_DIR": str(tmp_path / "letters"),
        "DOCUMENTS_DIR": str(tmp_path / "documents"),
        "RECORDINGS_DIR": str(tmp_path / "recordings"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "NOTIFICATIONS_BACKEND": "console",
        "DEMO_LOANS": "80",  # settings.DEMO_LOANS: seed_demo's default size
        "DEMO_DAYS": "5",  # settings.DEMO_DAYS: days of history, a sweep each
    }


def manage(env: dict[str, str], *args: str) -> str:
    """Run one manage.py command; it must succeed without an error or a traceback. Returns its output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{output[-3000:]}"
    errors = [line for line in output.splitlines() if " ERROR " in line or " CRITICAL " in line or "Traceback" in line]
    assert not errors, f"manage.py {' '.join(args)} reported errors:\n" + "\n".join(errors[:20])
    return output


@pytest.mark.sqlite
@pytest.mark.slow
def test_the_embedded_default_migrates_seeds_sweeps_and_sends_through_the_console(tmp_path):
    env = embedded_env(tmp_path)
    manage(env, "migrate", "--noinput")
    seeded = manage(env, "seed_demo", "--as-of", SEEDED_ON, "--no-progress")
    assert "Demo portfolio: 80 loans" in seeded
    swept = manage(env, "run_sweep", "--as-of", NEXT_DAY)
    assert f"Sweep for {NEXT_DAY}" in swept
    dispatched = manage(env, "shell", "-c", DISPATCH)
    called = manage(env, "shell", "-c", CALL)

    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        cases = dict(db.execute("SELECT state, count(*) FROM collections_app_collectioncase GROUP BY state"))
        messages = dict(db.execute("SELECT status, count(*) FROM notifications_outboundmessage GROUP BY status"))
        providers = {p for (p,) in db.execute("SELECT DISTINCT provider FROM notifications_outboundmessage")}
        runs = db.execute("SELECT count(*), sum(finished_at IS NOT NULL) FROM collections_app_sweeprun").fetchone()
    assert sum(cases.values()) > 0 and "reminder" in cases, cases
    assert sum(messages.values()) > 0, "the sweeps planned no message"
    # The console backend reports delivery (and some failures) as Twilio's status callbacks would.
    handed_over = sum(messages.get(s, 0) for s in ("sent", "delivered", "failed"))
    assert handed_over > 0 and messages.get("delivered", 0) > 0, f"nothing was sent: {messages}\n{dispatched[-2000:]}"
    assert messages.get("deferred", 0) > 0, f"the US borrowers' messages should wait for their morning: {messages}"
    assert "claimed" not in messages, "every claimed message was judged"
    assert providers <= {"", "console", "print"}, providers
    if "print" in providers:  # letters go to the print queue as PDFs, in LETTERS_DIR, each a stored document
        assert list((tmp_path / "letters").glob("*/letter-*.pdf"))
        assert list((tmp_path / "documents").glob("*/*/*.pdf"))
    assert runs == (6, 6), "seed_demo's five days of sweeps and run_sweep's, all finished"
    assert "console SMS to" in dispatched and "+86" not in dispatched  # written out, numbers masked
    assert "call ended conversation 1" in called, called[-2000:]
    assert len(list((tmp_path / "recordings").glob("RE*.wav"))) == 1

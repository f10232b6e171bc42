"""Benchmark of SMS dispatch (issue 5): `make bench` runs it after the sweep benchmark, in its database.

10,000 due SMS (one per borrower with an open case, each borrower at midday in their zone with consent on record)
go through the whole path — the beat task claims batches, a real Celery worker (2 processes, Redis) judges each
batch with the compliance gate, reserves the slots, sends through the real Twilio SDK to a local HTTP fake of
Twilio's Messages endpoint, and records the answers — and the same 10,000 requests are posted by a bare loop (the
SDK, one thread, no database) to the same fake. Target: the full path at least half the bare loop's rate.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/collections_bench")
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "10000"))
WORKER_LOG = ROOT / "var" / "dispatch-bench-worker.log"
TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "bench-auth-token",
    "TWILIO_FROM_NUMBER": "+15005550006",
    "TWILIO_WEBHOOK_BASE_URL": "https://collections.example.com",
}
os.environ.update(
    {"DATABASE_URL": URL, "CELERY_BROKER_URL": BROKER, "DJANGO_SETTINGS_MODULE": "config.settings", **TWILIO}
)


def prepare() -> None:
    """Cancel whatever the sweep benchmark left planned, then plan one due SMS for each of MESSAGES cases."""
    from django.db import connection
    from django.utils import timezone

    from tests.notifications.conftest import midday_zone

    zone = midday_zone()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE notifications_outboundmessage SET status = 'cancelled' WHERE status <> 'cancelled'")
        cursor.execute(
            "SELECT id, borrower_id, loan_id FROM collections_app_collectioncase WHERE state = 'reminder' "
            "ORDER BY id DESC LIMIT %s",
            [MESSAGES],
        )
        cases = cursor.fetchall()
        borrowers = [b for _, b, _ in cases]
        # New York (no Massachusetts 2-in-7 cap), midday now, consent to texts: the gate has every rule to check
        # and allows the text, as for a well-kept portfolio.
        cursor.execute(
            "UPDATE loans_borrower SET region = 'NY', time_zones = %s::jsonb WHERE id = ANY(%s)",
            [f'["{zone}"]', borrowers],
        )
        cursor.execute(
            "UPDATE loans_phonenumber SET sms_consent = true, autodial_consent = true WHERE borrower_id = ANY(%s)",
            [borrowers],
        )
        cursor.execute("DELETE FROM compliance_contactevent WHERE borrower_id = ANY(%s)", [borrowers])
        run = now.strftime("%Y%m%d%H%M%S")
        cursor.execute(
            """
            INSERT INTO notifications_outboundmessage (idempotency_key, borrower_id, loan_id, case_id, channel, purpose,
                "to", planned_for, status, status_reason, created_at, updated_at)
            SELECT 'bench:' || %s || ':' || c.id, c.borrower_id, c.loan_id, c.id, 'sms', c.state, '', %s, 'planned',
                   '', %s, %s
            FROM collections_app_collectioncase c WHERE c.id = ANY(%s)
            """,
            [run, now - dt.timedelta(minutes=1), now, now, [c for c, _, _ in cases]],
        )
        cursor.execute("ANALYZE notifications_outboundmessage")


def bare_loop(fake_url: str, numbers: list[str], body: str) -> float:
    """The same requests, posted one after another by the SDK: the provider's own speed here."""
    from django.conf import settings

    from notifications.providers import TwilioProvider

    settings.TWILIO_API_BASE_URL = fake_url
    provider = TwilioProvider()
    started = time.perf_counter()
    for number in numbers:
        provider.send_sms(to=number, body=body, status_callback="https://collections.example.com/cb")
    return len(numbers) / (time.perf_counter() - started)


def full_path(fake_url: str) -> tuple[float, dict[str, int]]:
    from config.celery import app
    from notifications.models import OutboundMessage
    from notifications.tasks import dispatch_due

    env = {
        **os.environ,
        "NOTIFICATIONS_BACKEND": "twilio",
        "TWILIO_API_BASE_URL": fake_url,
        "PROVIDER_RATE_LIMIT": "1000/s",
        "LOG_LEVEL": "WARNING",
    }
    with app.connection_for_write() as conn:
        for queue in ("celery", "provider"):
            conn.default_channel.queue_purge(queue)
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "celery,provider",
               "--concurrency=2", "--without-gossip", "--without-mingle", "--loglevel=WARNING"]  # fmt: skip
    worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=WORKER_LOG.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(f"the worker did not start: see {WORKER_LOG}")
        started = time.perf_counter()
        dispatch_due.delay()
        pending = OutboundMessage.objects.filter(status__in=["planned", "claimed"])
        deadline = time.monotonic() + 600
        while pending.exists():
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(f"dispatch did not finish: see {WORKER_LOG}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    counts = {}
    for status in ("sent", "denied", "deferred", "failed", "review"):
        counts[status] = OutboundMessage.objects.filter(status=status, idempotency_key__startswith="bench:").count()
    return counts["sent"] / elapsed, counts


def main() -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True)
    import django

    django.setup()
    from tests.fake_twilio import FakeTwilio

    prepare()
    fake = FakeTwilio().start()
    try:
        rate, counts = full_path(fake.url)
        requests = list(fake.requests)
        bare = bare_loop(fake.url, [r["To"] for r in requests], requests[0]["Body"] if requests else "x")
    finally:
        fake.stop()
    print(
        f"dispatch: {counts['sent']:,} SMS through beat → Celery (2 processes, Redis) → gate → Twilio SDK → fake at "
        f"{rate:,.0f}/s; bare SDK loop to the same fake {bare:,.0f}/s; ratio {rate / bare:.2f} (target ≥ 0.5: "
        f"{'met' if rate >= bare / 2 else 'NOT met'}); outcomes {counts}; provider requests {len(requests):,}"
    )


if __name__ == "__main__":
    main()

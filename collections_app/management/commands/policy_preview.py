"""manage.py policy_preview — what the next sweep would do differently with a draft policy (nothing is saved).

    manage.py policy_preview --policy 3 --set grace_days=1 --set formal_notice_dpd=20
    manage.py policy_preview --kind profile --policy 7 --draft draft.json   # {"params": {...}}
    manage.py policy_preview --policy 3 --set 'cadence={"reminder": {"sms": 1}}' --format json

Bad input (an unknown policy or field, a value the field refuses, a draft that does not validate) is reported on
stderr and the command exits with status 1.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Field

from collections_app.sweep.preview import GROUPS, PreviewError, draft_copy, draft_model, policy_preview

KINDS = ("collection", "installment", "profile")
NOT_EDITABLE = {"id", "version", "is_current", "created_at", "created_by", "created_by_id"}


def _value(text: str) -> Any:
    """JSON when it parses (numbers, booleans, lists, objects), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class Command(BaseCommand):
    help = "Preview the impact of a draft policy or jurisdiction profile on the next sweep (rolled back)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", choices=KINDS, default="collection", help="what --policy names")
        parser.add_argument("--policy", required=True, type=int, help="id of the current version to start from")
        parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a changed field")
        parser.add_argument("--draft", type=Path, help="a JSON object of changed fields")
        parser.add_argument("--as-of", help="the sweep's date, YYYY-MM-DD (default today, UTC)")
        parser.add_argument("--format", choices=("text", "json"), default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        model = draft_model(options["kind"])
        current = model._default_manager.filter(pk=options["policy"]).first()
        if current is None:
            raise CommandError(f"no {model._meta.verbose_name} with id {options['policy']}")
        if not getattr(current, "is_current", False):
            raise CommandError(f"{model._meta.verbose_name} {options['policy']} is not the current version")
        changes = self._changes(options)
        if not changes:
            raise CommandError("nothing changed: give --set FIELD=VALUE or --draft FILE")
        draft = draft_copy(current)
        errors = []
        for name, value in changes.items():
            try:
                fld = model._meta.get_field(name)
            except FieldDoesNotExist:
                errors.append(f"{name}: no such field")
                continue
            if name in NOT_EDITABLE or not isinstance(fld, Field) or not fld.editable or fld.is_relation:
                errors.append(f"{name}: cannot be changed here")
                continue
            try:
                setattr(draft, fld.attname, fld.to_python(value))
            except ValidationError as exc:
                errors.append(f"{name}: {'; '.join(exc.messages)}")
        if not errors:
            try:
                draft.full_clean(exclude=["version"])
            except ValidationError as exc:
                errors += [f"{'draft' if k == '__all__' else k}: {'; '.join(v)}" for k, v in exc.message_dict.items()]
        if errors:
            raise CommandError("the draft is not valid:\n  " + "\n  ".join(errors))
        try:
            as_of = dt.date.fromisoformat(options["as_of"]) if options["as_of"] else None
        except ValueError as exc:
            raise CommandError(f"--as-of: {options['as_of']!r} is not a date like 2026-03-31") from exc
        try:
            preview = policy_preview(draft=draft, as_of=as_of)
        except PreviewError as exc:
            raise CommandError(f"the draft is not valid: {exc}") from exc
        if options["format"] == "json":
            out = {
                "as_of": preview.as_of.isoformat(),
                "at": preview.at.isoformat(),
                "seconds": round(preview.seconds, 2),
                "counts": preview.counts(),
                "samples": {
                    key: [s.case_id or f"loan:{s.loan_id}" for s in group.samples]
                    for key, group in [*preview.groups.items(), *preview.refused_by_rule.items()]
                },
            }
            self.stdout.write(json.dumps(out, indent=2))
            return
        self.stdout.write(
            f"Draft of {current} for the sweep of {preview.as_of} (gate at {preview.at:%Y-%m-%d %H:%M} UTC):"
        )
        for key, group in preview.groups.items():
            samples = ", ".join(str(s.case_id or f"loan {s.loan_id}") for s in group.samples[:5])
            self.stdout.write(f"  {GROUPS[key]}: {group.count}" + (f"  (e.g. {samples})" if samples else ""))
        for rule, group in preview.refused_by_rule.items():
            self.stdout.write(f"  Contacts the gate would now refuse, rule {rule or '-'}: {group.count}")
        self.stdout.write(self.style.SUCCESS(f"Nothing was saved ({preview.seconds:.1f} s)."))

    def _changes(self, options: dict[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if options["draft"] is not None:
            try:
                loaded = json.loads(options["draft"].read_text(encoding="utf-8"))
            except OSError as exc:
                raise CommandError(f"--draft: cannot read {options['draft']}: {exc.strerror}") from exc
            except ValueError as exc:
                raise CommandError(f"--draft: {options['draft']} is not JSON: {exc}") from exc
            if not isinstance(loaded, dict):
                raise CommandError("--draft: the file must hold a JSON object of fields")
            changes.update(loaded)
        for item in options["set"]:
            name, sep, text = item.partition("=")
            if not sep or not name.strip():
                raise CommandError(f"--set {item!r}: write FIELD=VALUE")
            changes[name.strip()] = _value(text)
        return changes

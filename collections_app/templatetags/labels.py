"""Template filters for the human words of identifiers (collections_app.labels): ``transition_label``,
``state_label``, ``bucket_label`` (days past due), ``channel_label``, ``outcome_label`` and ``kind_label`` (a
timeline entry's kind)."""

from __future__ import annotations

from django import template

from collections_app import labels

register = template.Library()

register.filter("transition_label", labels.transition_label)
register.filter("state_label", labels.state_label)
register.filter("channel_label", labels.channel_label)
register.filter("outcome_label", labels.outcome_label)
register.filter("plan_breach_label", labels.plan_breach_label)
register.filter("bucket_label", labels.bucket_label)
register.filter("rule_label", labels.rule_label)


@register.filter
def kind_label(kind: str) -> str:
    return str(labels.TIMELINE_KINDS.get(kind, kind))

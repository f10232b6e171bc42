"""Template filters for the human words of identifiers (collections_app.labels): ``transition_label``,
``state_label``, ``bucket_label`` (days past due), ``channel_label``, ``outcome_label``, ``kind_label`` (a
timeline entry's kind) and ``made_by`` (a user, or the borrower on their own)."""

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
def made_by(user: object) -> str:
    """Who made a plan, a hold…: the user's name, or the borrower's own words when no user did (their page)."""
    if user is None or not hasattr(user, "get_username"):
        return labels.actor_words(labels.BORROWER)
    return str(user.get_username())


@register.filter
def kind_label(kind: str) -> str:
    return str(labels.TIMELINE_KINDS.get(kind, kind))

"""Formatting for the managers' numbers."""

from django import template

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


@register.filter
def split_words(value: str) -> list[str]:
    return value.split()


@register.filter
def get_chart(charts: dict, name: str) -> object:
    return charts[name]

"""The API's request parsers (settings.REST_FRAMEWORK). A module of its own: DRF imports parsers while it defines
``APIView``, so this must not import anything that needs ``rest_framework.views``."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings
from rest_framework.utils import json

MAX_JSON_DEPTH = 32  # a bulk loan row is five levels deep


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing nesting deeper than any request needs: the decoder recurses once per level, so
    a body 100,000 levels deep raises RecursionError (a 500) where it is the client's mistake, and a few hundred
    levels would still reach the serializers and the database's JSON encoder."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        return within_depth(data)


TOO_DEEP = f"JSON nested too deeply: at most {MAX_JSON_DEPTH} levels."


def json_decode(text: str) -> Any:
    """A request body decoded as the API's parsers do it: strict constants (no NaN), nesting bounded."""
    try:
        return within_depth(json.loads(text, parse_constant=json.strict_constant if api_settings.STRICT_JSON else None))
    except RecursionError:
        raise ParseError(TOO_DEEP) from None
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from exc


def within_depth(data: Any) -> Any:
    if _json_depth_exceeds(data, MAX_JSON_DEPTH):
        raise ParseError(TOO_DEEP)
    return data


def _json_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether lists and objects nest deeper than ``limit`` (iterative: no recursion of our own)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    return False

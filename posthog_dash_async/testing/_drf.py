"""Django REST Framework behaviour the fake server reproduces, as pure functions.

Everything here works on plain values (no aiohttp): the error envelope of drf-exceptions-hog,
DRF field parsing with its exact messages, LimitOffset pagination links, content negotiation,
the SSE renderer's accidental output, and the subset of JSON Schema validation that
``create_from_template_json`` needs.
"""

from __future__ import annotations

import json
import math
import pprint
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, NoReturn
from urllib import parse

__all__ = [
    "APIError",
    "RawError",
    "error_body",
    "format_datetime",
    "negotiate",
    "parse_bool",
    "parse_char",
    "parse_choice",
    "parse_datetime",
    "parse_int",
    "parse_json_body",
    "parse_list",
    "parse_uuid",
    "remove_query_param",
    "render_sse_fallback",
    "replace_query_param",
    "throttle_detail",
    "validate_template",
]


class APIError(Exception):
    """An error answered with the ``{type, code, detail, attr}`` envelope (§3)."""

    def __init__(
        self,
        status: int,
        type_: str,
        code: str,
        detail: str,
        attr: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.type = type_
        self.code = code
        self.detail = detail
        self.attr = attr
        self.headers = dict(headers or {})
        self.extra = dict(extra) if extra is not None else None

    def body(self) -> dict[str, Any]:
        """The JSON body PostHog sends for this error (``extra`` only when it carries one)."""
        out = error_body(self.type, self.code, self.detail, self.attr)
        if self.extra is not None:
            out["extra"] = self.extra
        return out

    @classmethod
    def limit_exceeded(cls, limit_key: str, limit: int, current: int) -> APIError:
        """402 from ``check_count_limit``: the limit data travels in ``extra``."""
        return cls(
            402,
            "limit_exceeded",
            "limit_exceeded",
            "Resource limit exceeded.",
            extra={
                "limit_key": limit_key,
                "limit": limit,
                "current": current,
                "request": {"id": str(uuid.uuid4())},
            },
        )

    @classmethod
    def validation(
        cls, detail: str, attr: str | None = None, code: str = "invalid_input"
    ) -> APIError:
        """400 ``validation_error``; DRF's generic ``invalid`` code becomes ``invalid_input``."""
        return cls(
            400, "validation_error", "invalid_input" if code == "invalid" else code, detail, attr
        )

    @classmethod
    def not_found(cls, detail: str = "Not found.") -> APIError:
        """404 ``not_found``."""
        return cls(404, "invalid_request", "not_found", detail)

    @classmethod
    def permission_denied(cls, detail: str) -> APIError:
        """403 ``permission_denied`` (PostHog files it under ``authentication_error``)."""
        return cls(403, "authentication_error", "permission_denied", detail)

    @classmethod
    def not_authenticated(cls) -> APIError:
        """401 for a request without any credentials."""
        return cls(
            401,
            "authentication_error",
            "not_authenticated",
            "Authentication credentials were not provided.",
        )

    @classmethod
    def authentication_failed(cls, source: str) -> APIError:
        """401 for an unknown or inactive personal API key found in ``source``."""
        return cls(
            401,
            "authentication_error",
            "authentication_failed",
            f"Personal API key found in request {source} is invalid.",
        )

    @classmethod
    def method_not_allowed(cls, method: str) -> APIError:
        """405 raised by the router for a method the route does not map."""
        return cls(405, "invalid_request", "method_not_allowed", f'Method "{method}" not allowed.')

    @classmethod
    def throttled(cls, wait: float | None, headers: Mapping[str, str] | None = None) -> APIError:
        """429 ``throttled`` with DRF's "Expected available in N seconds." text."""
        return cls(429, "throttled_error", "throttled", throttle_detail(wait), headers=headers)

    @classmethod
    def server_error(cls) -> APIError:
        """500 for an unhandled exception in a view."""
        return cls(500, "server_error", "error", "A server error occurred.")

    @classmethod
    def parse_error(cls, message: str, *, json_body: bool = True) -> APIError:
        """400 for a body that does not parse (DRF's ``ParseError``)."""
        detail = f"JSON parse error - {message}" if json_body else message
        return cls(400, "invalid_request", "parse_error", detail)

    @classmethod
    def unsupported_media_type(cls, content_type: str) -> APIError:
        """415 for a body in a content type no parser accepts."""
        return cls(
            415,
            "invalid_request",
            "unsupported_media_type",
            f'Unsupported media type "{content_type}" in request.',
        )

    @classmethod
    def not_acceptable(cls) -> APIError:
        """406 when no renderer satisfies the Accept header."""
        return cls(
            406,
            "invalid_request",
            "not_acceptable",
            "Could not satisfy the request Accept header.",
        )


class RawError(Exception):
    """A response outside the envelope: the bare 405 of DELETE, the sharing ``{"error"}`` 403."""

    def __init__(
        self,
        status: int,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        #: ``None`` means an empty body without ``Content-Type``; anything else is JSON.
        self.body = body
        self.headers = dict(headers or {})


def error_body(type_: str, code: str, detail: str, attr: str | None = None) -> dict[str, Any]:
    """The one place that builds PostHog's flat error object."""
    return {"type": type_, "code": code, "detail": detail, "attr": attr}


def throttle_detail(wait: float | None) -> str:
    """DRF's ``Throttled`` message: ceiling of the wait, ``second`` singular when it is 1."""
    if wait is None:
        return "Request was throttled."
    seconds = math.ceil(wait)
    unit = "second" if seconds == 1 else "seconds"
    return f"Request was throttled. Expected available in {seconds} {unit}."


# --------------------------------------------------------------------------------------------
# Datetimes


def format_datetime(value: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix; microseconds only when non-zero (§6)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"


# --------------------------------------------------------------------------------------------
# Field parsing with DRF's messages

_TRUE = {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1"}
_FALSE = {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0"}
_DECIMAL_TAIL = re.compile(r"\.0*\s*$")
_DATETIME_FORMATS = "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]"


def _null(attr: str) -> NoReturn:
    raise APIError.validation("This field may not be null.", attr, "null")


def parse_bool(value: Any, attr: str, *, allow_null: bool = False) -> bool | None:
    """DRF ``BooleanField``: accepts booleans, 0/1 and the usual strings."""
    if value is None:
        if allow_null:
            return None
        _null(attr)
    if value is True or value is False:
        return bool(value)
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    raise APIError.validation("Must be a valid boolean.", attr)


def parse_char(
    value: Any,
    attr: str,
    *,
    max_length: int | None = None,
    allow_null: bool = False,
    allow_blank: bool = True,
    max_length_message: str | None = None,
) -> str | None:
    """DRF ``CharField`` (whitespace trimmed, numbers coerced, bool and containers refused)."""
    if value is None:
        if allow_null:
            return None
        _null(attr)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise APIError.validation("Not a valid string.", attr)
    text = str(value).strip()
    if text == "" and not allow_blank:
        raise APIError.validation("This field may not be blank.", attr, "blank")
    if max_length is not None and len(text) > max_length:
        raise APIError.validation(
            max_length_message or f"Ensure this field has no more than {max_length} characters.",
            attr,
            "max_length",
        )
    return text


def parse_choice(
    value: Any, attr: str, choices: Sequence[int], *, allow_null: bool = False
) -> int | None:
    """DRF ``ChoiceField`` over integer choices: ``"99" is not a valid choice.``."""
    if value is None:
        if allow_null:
            return None
        _null(attr)
    by_text = {str(choice): choice for choice in choices}
    if not isinstance(value, (dict, list)) and str(value) in by_text:
        return by_text[str(value)]
    raise APIError.validation(f'"{value}" is not a valid choice.', attr, "invalid_choice")


def parse_int(value: Any, attr: str, *, allow_null: bool = False) -> int | None:
    """DRF ``IntegerField``: ``"7"`` and ``7.0`` pass, ``7.5``, ``""`` and booleans do not."""
    if value is None:
        if allow_null:
            return None
        _null(attr)
    if isinstance(value, (dict, list)):
        raise APIError.validation("A valid integer is required.", attr)
    try:
        return int(_DECIMAL_TAIL.sub("", str(value)))
    except (TypeError, ValueError):
        raise APIError.validation("A valid integer is required.", attr) from None


def parse_datetime(value: Any, attr: str, *, allow_null: bool = True) -> str | None:
    """DRF ``DateTimeField``; the stored form is the server's ``Z`` rendering."""
    if value is None:
        if allow_null:
            return None
        _null(attr)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return format_datetime(parsed)
    raise APIError.validation(
        f"Datetime has wrong format. Use one of these formats instead: {_DATETIME_FORMATS}.",
        attr,
    )


def parse_uuid(value: Any, attr: str) -> str:
    """DRF ``UUIDField`` (hex or hyphenated)."""
    if value is None:
        _null(attr)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise APIError.validation("Must be a valid UUID.", attr)


def parse_list(value: Any, attr: str) -> list[Any]:
    """DRF ``ListField``: anything but a list (or tuple) is ``not_a_list``."""
    if value is None:
        _null(attr)
    if not isinstance(value, (list, tuple)):
        name = type(value).__name__
        raise APIError.validation(
            f'Expected a list of items but got type "{name}".', attr, "not_a_list"
        )
    return list(value)


def _reject_constant(name: str) -> Any:
    raise ValueError("Out of range float values are not JSON compliant")


def parse_json_body(raw: bytes) -> Any:
    """DRF's ``JSONParser``: UTF-8, strict about NaN/Infinity, DRF's error text."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise APIError.parse_error(str(exc)) from None
    except RecursionError:
        raise APIError.parse_error("maximum nesting depth exceeded") from None


# --------------------------------------------------------------------------------------------
# Pagination links (DRF rest_framework.utils.urls)


def replace_query_param(url: str, key: str, value: object) -> str:
    """Set ``key`` in ``url``'s query; DRF re-encodes the query with its keys sorted."""
    scheme, netloc, path, query, fragment = parse.urlsplit(url)
    query_dict = parse.parse_qs(query, keep_blank_values=True)
    query_dict[key] = [str(value)]
    query = parse.urlencode(sorted(query_dict.items()), doseq=True)
    return parse.urlunsplit((scheme, netloc, path, query, fragment))


def remove_query_param(url: str, key: str) -> str:
    """Drop ``key`` from ``url``'s query (used for ``previous`` at offset <= 0)."""
    scheme, netloc, path, query, fragment = parse.urlsplit(url)
    query_dict = parse.parse_qs(query, keep_blank_values=True)
    query_dict.pop(key, None)
    query = parse.urlencode(sorted(query_dict.items()), doseq=True)
    return parse.urlunsplit((scheme, netloc, path, query, fragment))


# --------------------------------------------------------------------------------------------
# Content negotiation (DRF DefaultContentNegotiation)


def _media(text: str) -> tuple[str, str, dict[str, str]]:
    head, *raw_params = text.split(";")
    main, _, sub = head.strip().partition("/")
    params: dict[str, str] = {}
    for raw in raw_params:
        name, _, val = raw.partition("=")
        params[name.strip()] = val.strip()
    return main.strip(), (sub.strip() or "*"), params


def _precedence(main: str, sub: str, params: Mapping[str, str]) -> int:
    if main == "*":
        return 0
    if sub == "*":
        return 1
    if not params or list(params) == ["q"]:
        return 2
    return 3


def negotiate(accept: str | None, renderers: Sequence[tuple[str, str]]) -> str | None:
    """Pick a renderer name the way DRF does, or ``None`` for 406.

    ``renderers`` is an ordered list of ``(name, media_type)``. DRF ignores ``q`` values: it
    groups the Accept entries by specificity and, inside the most specific group, takes the
    first *renderer* that matches, which is why ``text/event-stream, application/json`` still
    yields JSON while ``text/event-stream`` alone yields the SSE renderer.
    """
    if not accept or not accept.strip():
        return renderers[0][0]
    ranges = [_media(part) for part in accept.split(",") if part.strip()]
    for level in (3, 2, 1, 0):
        group = [item for item in ranges if _precedence(*item) == level]
        if not group:
            continue
        for name, media_type in renderers:
            r_main, r_sub, _ = _media(media_type)
            for main, sub, _params in group:
                if main != "*" and main != r_main:
                    continue
                if sub != "*" and sub != r_sub:
                    continue
                return name
    return None


def render_sse_fallback(data: Any) -> bytes:
    """What Django emits when DRF's SSE renderer passes structured data through unchanged.

    ``HttpResponse`` iterates the content: a dict yields its keys, a list its items' ``str``.
    """
    if data is None:
        return b""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, Mapping):
        return "".join(str(key) for key in data).encode("utf-8")
    if isinstance(data, Iterable):
        return "".join(str(item) for item in data).encode("utf-8")
    return str(data).encode("utf-8")


# --------------------------------------------------------------------------------------------
# JSON Schema subset for dashboard templates

_VARIABLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "type", "default", "description", "required"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "type": {"enum": ["event"]},
        "default": {"type": "object"},
        "description": {"type": "string"},
        "required": {"type": "boolean"},
    },
}

TEMPLATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["template_name", "dashboard_description", "dashboard_filters", "tiles"],
    "properties": {
        "id": {"type": "string"},
        "template_name": {"type": "string"},
        "dashboard_description": {"type": "string"},
        "dashboard_filters": {"type": "object"},
        "tiles": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        "team_id": {"type": ["number", "null"]},
        "created_at": {"type": "string"},
        "image_url": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "variables": {"type": ["array", "null"], "items": _VARIABLE_SCHEMA},
    },
}


def _is_type(instance: Any, name: str) -> bool:
    if name == "object":
        return isinstance(instance, dict)
    if name == "array":
        return isinstance(instance, list)
    if name == "string":
        return isinstance(instance, str)
    if name == "boolean":
        return isinstance(instance, bool)
    if name == "null":
        return instance is None
    if name == "integer":
        return isinstance(instance, int) and not isinstance(instance, bool)
    if name == "number":
        return isinstance(instance, (int, float)) and not isinstance(instance, bool)
    return False


class _SchemaError:
    def __init__(
        self,
        message: str,
        validator: str,
        schema: Any,
        schema_path: list[str | int],
        instance: Any,
        instance_path: list[str | int],
    ) -> None:
        self.message = message
        self.validator = validator
        self.schema = schema
        self.schema_path = schema_path
        self.instance = instance
        self.instance_path = instance_path

    def render(self) -> str:
        # jsonschema's ValidationError.__str__ layout, which PostHog puts in ``detail``.
        def where(path: Sequence[str | int]) -> str:
            return "".join(f"[{part!r}]" for part in path)

        schema_text = pprint.pformat(self.schema, width=72, sort_dicts=False)
        instance_text = pprint.pformat(self.instance, width=72, sort_dicts=False)
        return (
            f"{self.message}\n\n"
            f"Failed validating {self.validator!r} in schema{where(self.schema_path)}:\n"
            f"{_indent(schema_text)}\n\n"
            f"On instance{where(self.instance_path)}:\n"
            f"{_indent(instance_text)}"
        )


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _errors(
    schema: Mapping[str, Any],
    instance: Any,
    schema_path: list[str | int],
    instance_path: list[str | int],
) -> Iterator[_SchemaError]:
    # Keywords are visited in the schema's own key order, as jsonschema iterates them.
    for keyword, value in schema.items():
        if keyword == "type":
            names = value if isinstance(value, list) else [value]
            if not any(_is_type(instance, name) for name in names):
                expected = ", ".join(repr(name) for name in names)
                yield _SchemaError(
                    f"{instance!r} is not of type {expected}",
                    "type",
                    schema,
                    schema_path,
                    instance,
                    instance_path,
                )
        elif keyword == "enum":
            if instance not in value:
                yield _SchemaError(
                    f"{instance!r} is not one of {value!r}",
                    "enum",
                    schema,
                    schema_path,
                    instance,
                    instance_path,
                )
        elif keyword == "required" and isinstance(instance, dict):
            for name in value:
                if name not in instance:
                    yield _SchemaError(
                        f"{name!r} is a required property",
                        "required",
                        schema,
                        schema_path,
                        instance,
                        instance_path,
                    )
        elif keyword == "minItems" and isinstance(instance, list) and len(instance) < value:
            message = (
                f"{instance!r} should be non-empty" if value == 1 else f"{instance!r} is too short"
            )
            yield _SchemaError(message, "minItems", schema, schema_path, instance, instance_path)
        elif keyword == "properties" and isinstance(instance, dict):
            for name, sub_schema in value.items():
                if name in instance:
                    yield from _errors(
                        sub_schema,
                        instance[name],
                        [*schema_path, "properties", name],
                        [*instance_path, name],
                    )
        elif keyword == "items" and isinstance(instance, list):
            for index, item in enumerate(instance):
                yield from _errors(value, item, [*schema_path, "items"], [*instance_path, index])


def validate_template(template: Any) -> None:
    """Validate a dashboard template; raise the 400 PostHog answers with on failure."""
    errors = list(_errors(TEMPLATE_SCHEMA, template, [], []))
    if errors:
        # jsonschema's ``best_match``: the shallowest error wins, the first one on a tie.
        best = min(errors, key=lambda error: len(error.instance_path))
        raise APIError.validation(best.render())

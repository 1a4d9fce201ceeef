"""Pure protocol helpers of ``_wire``, tested with plain values."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from conftest import dumps, load_fixture
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from posthog_dash_async import errors
from posthog_dash_async._wire import (
    UNSET,
    body_from,
    check_choice,
    check_id,
    check_optional_id,
    check_str_list,
    check_uuid,
    decipher_error,
    decode_any,
    encode_json,
    error_class_for,
    join_query_value,
    parse_retry_after,
    plan_offsets,
    redact,
    throttle_wait,
)

URL = "https://us.posthog.com/api/projects/42/dashboards/412/"
NOW = datetime(2025, 11, 3, 9, 0, 0, tzinfo=timezone.utc)
USER_UUID = "018c4a9e-33b1-7c02-b2f4-59e0d6a1c8f3"


def decipher(
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
) -> errors.APIStatusError:
    return decipher_error(status, headers or {}, body, method=method, url=URL, now=NOW)


# --- argument checks --------------------------------------------------------------------


@pytest.mark.parametrize("good", [1, 12, 2**40])
def test_check_id_accepts_positive_ints(good: int) -> None:
    assert check_id("dashboard_id", good) == good


@pytest.mark.parametrize("bad", [True, False, 0, -1, "12", "1", 1.0, None, [1], uuid.uuid4()])
def test_check_id_refuses(bad: object) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="dashboard_id"):
        check_id("dashboard_id", bad)


def test_check_optional_id() -> None:
    assert check_optional_id("x", None) is None
    assert check_optional_id("x", 3) == 3
    with pytest.raises(errors.InvalidArgumentError):
        check_optional_id("x", 0)


@pytest.mark.parametrize(
    "given",
    [
        USER_UUID,
        USER_UUID.upper(),
        f"  {USER_UUID} ",
        USER_UUID.replace("-", ""),
        "{" + USER_UUID + "}",
        f"urn:uuid:{USER_UUID}",
        uuid.UUID(USER_UUID),
    ],
)
def test_check_uuid_returns_canonical_text(given: object) -> None:
    assert check_uuid("user_uuid", given) == USER_UUID


@pytest.mark.parametrize(
    "bad",
    [
        "../../x",
        f"{USER_UUID}/../../x",
        f"../{USER_UUID}",
        "",
        "not-a-uuid",
        USER_UUID[:-1],
        USER_UUID + "0",
        None,
        12345,
        uuid.UUID(USER_UUID).bytes,
    ],
)
def test_check_uuid_refuses(bad: object) -> None:
    with pytest.raises(errors.InvalidArgumentError, match="user_uuid"):
        check_uuid("user_uuid", bad)


def test_check_choice() -> None:
    assert check_choice("layout_size", "sm", ("sm", "xs")) == "sm"
    assert check_choice("level", 37, (21, 37)) == 37
    with pytest.raises(errors.InvalidArgumentError, match="layout_size"):
        check_choice("layout_size", "md", ("sm", "xs"))
    # True == 1 in Python; a bool must not pass as a number choice.
    with pytest.raises(errors.InvalidArgumentError):
        check_choice("level", True, (1, 37))
    assert check_choice("refresh", True, ("blocking", True, False)) is True
    # ... and a number must not pass as a bool choice.
    for number in (1, 0, 1.0):
        with pytest.raises(errors.InvalidArgumentError):
            check_choice("refresh", number, ("blocking", True, False))
    with pytest.raises(errors.InvalidArgumentError):
        check_choice("level", [37], (21, 37))
    with pytest.raises(errors.InvalidArgumentError):
        check_choice("level", 37.0, (21, 37))
    with pytest.raises(errors.InvalidArgumentError):
        check_choice("layout_size", b"sm", ("sm", "xs"))


def test_check_str_list() -> None:
    assert check_str_list("tags", ["a", "b"]) == ["a", "b"]
    assert check_str_list("tags", ("a",)) == ["a"]
    assert check_str_list("tags", []) == []
    for bad in ("ab", [1], ["a", None], {"a": 1}, None, b"ab"):
        with pytest.raises(errors.InvalidArgumentError, match="tags"):
            check_str_list("tags", bad)


# --- bodies, JSON, query values ---------------------------------------------------------


def test_body_from_leaves_out_unset_only() -> None:
    fields = {
        "name": UNSET,
        "description": "",
        "pinned": False,
        "data_color_theme_id": None,
        "tags": [],
        "restriction_level": 0,
        "filters": UNSET,
    }
    assert body_from(fields) == {
        "description": "",
        "pinned": False,
        "data_color_theme_id": None,
        "tags": [],
        "restriction_level": 0,
    }
    assert body_from({}) == {}
    assert body_from({"a": UNSET}) == {}


def test_unset_is_msgspec_unset_and_falsy() -> None:
    import msgspec

    assert UNSET is msgspec.UNSET
    assert not UNSET


def test_encode_json_is_compact_and_refuses_unknown_types() -> None:
    assert encode_json({"deleted": True, "x": [1, None]}) == b'{"deleted":true,"x":[1,null]}'
    with pytest.raises(errors.InvalidArgumentError, match="JSON"):
        encode_json({"x": object()})
    with pytest.raises(errors.InvalidArgumentError):
        encode_json({"x": 1 + 2j})


def test_decode_any() -> None:
    assert decode_any(b"") is None
    assert decode_any(b'{"a":[1,2]}') == {"a": [1, 2]}
    assert decode_any(b"null") is None


def test_join_query_value() -> None:
    assert join_query_value(True) == "true"
    assert join_query_value(False) == "false"
    assert join_query_value(5) == "5"
    assert join_query_value("blocking") == "blocking"
    assert join_query_value({"date_from": "-7d"}) == '{"date_from":"-7d"}'
    assert join_query_value([1, 2]) == "[1,2]"


def test_redact_hides_keys() -> None:
    text = "key phx_abcdefGHIJ0123456789 and token pha_zyxwvu987654 end"
    out = redact(text)
    assert "phx_abcdefGHIJ0123456789" not in out
    assert "pha_zyxwvu987654" not in out
    assert out.startswith("key phx_")
    assert out.endswith(" end")


# --- error deciphering ------------------------------------------------------------------

_EXPECTED_CLASSES: dict[str, type[errors.APIStatusError]] = {
    "missing_credentials": errors.AuthenticationError,
    "invalid_personal_api_key": errors.AuthenticationError,
    "missing_scope": errors.MissingScopeError,
    "action_unsupported_for_personal_api_key": errors.UnsupportedForApiKeyError,
    "no_project_access": errors.PermissionDeniedError,
    "no_edit_permission": errors.PermissionDeniedError,
    "not_found": errors.NotFoundError,
    "collaborators_dashboard_not_found": errors.NotFoundError,
    "dashboard_delete_forbidden": errors.MethodNotAllowedError,
    "collaborator_patch_not_allowed": errors.MethodNotAllowedError,
    "use_template_and_use_dashboard": errors.BadRequestError,
    "unknown_template_key": errors.BadRequestError,
    "duplicate_source_missing": errors.BadRequestError,
    "text_tile_too_long": errors.BadRequestError,
    "collaborator_on_unrestricted_dashboard": errors.BadRequestError,
    "collaborator_is_owner": errors.BadRequestError,
    "template_json_schema_failure": errors.BadRequestError,
    "sharing_password_requires_feature": errors.PermissionDeniedError,
    "server_error": errors.ServerError,
}


def _examples() -> dict[str, Any]:
    return {k: v for k, v in load_fixture("error_examples.json").items() if not k.startswith("_")}


def test_every_catalogued_example_is_covered() -> None:
    assert set(_examples()) == set(_EXPECTED_CLASSES)


@pytest.mark.parametrize("name", sorted(_EXPECTED_CLASSES))
def test_decipher_error_catalogue(name: str) -> None:
    example = _examples()[name]
    payload = example["body"]
    body = b"" if payload is None else dumps(payload)
    exc = decipher(example["status"], body, example["headers"], method="PATCH")
    assert type(exc) is _EXPECTED_CLASSES[name]
    assert exc.status == example["status"]
    assert exc.body == body
    assert exc.method == "PATCH"
    assert exc.url == URL
    assert exc.headers == example["headers"]
    message = str(exc)
    assert f"PATCH {URL} -> {example['status']}" in message
    if payload is None:
        assert (exc.type, exc.code, exc.detail, exc.attr) == (None, None, None, None)
    elif "detail" in payload:
        assert exc.type == payload["type"]
        assert exc.code == payload["code"]
        assert exc.detail == payload["detail"]
        assert exc.attr == payload["attr"]
        assert payload["detail"].splitlines()[0] in message
        assert f"code={payload['code']}" in message
    else:
        assert exc.detail == payload["error"]
        assert (exc.type, exc.code, exc.attr) == (None, None, None)
        assert payload["error"] in message


def test_validation_error_fixture() -> None:
    body = dumps(load_fixture("error_validation_400.json"))
    exc = decipher(400, body, {"Content-Type": "application/json"}, method="PATCH")
    assert isinstance(exc, errors.BadRequestError)
    assert exc.code == "invalid_choice"
    assert exc.attr == "restriction_level"
    assert exc.detail == '"99" is not a valid choice.'
    assert exc.type == "validation_error"
    assert "attr=restriction_level" in str(exc)


def test_bare_405_of_delete() -> None:
    exc = decipher(405, b"", {}, method="DELETE")
    assert type(exc) is errors.MethodNotAllowedError
    assert exc.detail is None
    assert exc.body == b""
    assert "DELETE" in str(exc)
    assert "405" in str(exc)
    assert "Method Not Allowed" in str(exc)


def test_html_page_from_a_proxy() -> None:
    html = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n" + b"<!-- padding -->" * 500 + b"</html>"
    )
    exc = decipher(502, html, {"Content-Type": "text/html"})
    assert type(exc) is errors.ServerError
    assert exc.status == 502
    assert exc.type is None
    assert exc.code is None
    assert exc.detail is not None
    assert "502 Bad Gateway" in exc.detail
    assert "\n" not in exc.detail
    assert len(exc.detail) <= 200
    assert exc.body == html[: errors.MAX_BODY_KEPT]
    assert len(str(exc)) < 400


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 599])
def test_5xx_are_server_errors(status: int) -> None:
    assert type(decipher(status)) is errors.ServerError


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (405, errors.MethodNotAllowedError),
        (429, errors.RateLimitError),
        (406, errors.APIStatusError),
        (408, errors.APIStatusError),
        (409, errors.APIStatusError),
        (415, errors.APIStatusError),
        (418, errors.APIStatusError),
    ],
)
def test_status_classes_with_empty_body(status: int, cls: type[errors.APIStatusError]) -> None:
    exc = decipher(status)
    assert type(exc) is cls
    assert exc.status == status
    assert exc.detail is None


def test_database_unavailable_503() -> None:
    body = dumps(
        {
            "type": "server_error",
            "code": "database_unavailable",
            "detail": "We couldn't reach the database just now. Please try again in a moment.",
            "attr": None,
        }
    )
    exc = decipher(503, body, {"Retry-After": "1", "Content-Type": "application/json"})
    assert type(exc) is errors.ServerError
    assert exc.code == "database_unavailable"
    assert exc.headers["Retry-After"] == "1"


def test_unsupported_for_api_key_older_spelling() -> None:
    body = dumps({"detail": "This action does not support Personal API Key access"})
    assert type(decipher(403, body)) is errors.UnsupportedForApiKeyError


def test_missing_scope_names_the_scope() -> None:
    body = dumps(
        {
            "type": "authentication_error",
            "code": "permission_denied",
            "detail": "API key missing required scope 'sharing_configuration:write'",
            "attr": None,
        }
    )
    exc = decipher(403, body)
    assert isinstance(exc, errors.MissingScopeError)
    assert isinstance(exc, errors.PermissionDeniedError)
    assert exc.scope == "sharing_configuration:write"


def test_scope_texts_only_count_on_403() -> None:
    body = dumps({"detail": "API key missing required scope 'dashboard:write'"})
    assert type(decipher(400, body)) is errors.BadRequestError
    assert error_class_for(401, "This action does not support personal API key access") is (
        errors.AuthenticationError
    )


def test_bare_detail_object() -> None:
    exc = decipher(400, dumps({"detail": "Tile not found."}))
    assert exc.detail == "Tile not found."
    assert exc.type is None
    assert exc.code is None


def test_non_string_detail_is_stringified() -> None:
    exc = decipher(400, dumps({"detail": ["first", "second"]}))
    assert exc.detail is not None
    assert "first" in exc.detail


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2", b"Service Unavailable", b'  \n{"detail": 1'],
)
def test_undecodable_bodies_keep_their_text(body: bytes) -> None:
    exc = decipher(503, body)
    assert type(exc) is errors.ServerError
    assert exc.detail
    assert exc.body == body


def test_json_body_with_leading_whitespace() -> None:
    exc = decipher(404, b'\n  {"detail":"Not found.","code":"not_found"}')
    assert exc.detail == "Not found."
    assert exc.code == "not_found"


def test_error_message_redacts_keys() -> None:
    body = dumps({"detail": "key phx_LeakedKeyValue0123456789 is not valid"})
    exc = decipher(401, body)
    assert "phx_LeakedKeyValue0123456789" not in str(exc)
    assert "phx_LeakedKeyValue0123456789" not in repr(exc)


def test_error_body_is_truncated() -> None:
    body = dumps({"detail": "x" * (errors.MAX_BODY_KEPT * 2)})
    exc = decipher(400, body)
    assert len(exc.body) == errors.MAX_BODY_KEPT
    assert exc.body == body[: errors.MAX_BODY_KEPT]


# --- waits ------------------------------------------------------------------------------


def test_rate_limit_error_uses_retry_after_seconds() -> None:
    body = dumps(load_fixture("error_throttled_429.json"))
    exc = decipher(429, body, {"Retry-After": "7"})
    assert isinstance(exc, errors.RateLimitError)
    assert exc.retry_after == 7.0  # the header wins over the body text


def test_rate_limit_error_uses_retry_after_http_date() -> None:
    when = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    exc = decipher(429, b"", {"Retry-After": when})
    assert isinstance(exc, errors.RateLimitError)
    assert exc.retry_after == 90.0


def test_rate_limit_error_uses_the_throttle_body() -> None:
    body = dumps(load_fixture("error_throttled_429.json"))
    exc = decipher(429, body, {"Content-Type": "application/json"})
    assert isinstance(exc, errors.RateLimitError)
    assert exc.retry_after == 37.0
    assert exc.code == "throttled"
    assert exc.type == "throttled_error"


def test_rate_limit_error_singular_second() -> None:
    detail = "Request was throttled. Expected available in 1 second."
    exc = decipher(429, dumps({"detail": detail}))
    assert isinstance(exc, errors.RateLimitError)
    assert exc.retry_after == 1.0


def test_rate_limit_error_without_any_wait() -> None:
    exc = decipher(429, b"")
    assert isinstance(exc, errors.RateLimitError)
    assert exc.retry_after is None


def test_rate_limit_error_retry_after_header_name_is_case_insensitive() -> None:
    exc = decipher(429, b"", {"retry-after": "12"})
    assert isinstance(exc, errors.RateLimitError)
    assert exc.retry_after == 12.0
    exc = decipher_error(
        429, CIMultiDict({"RETRY-AFTER": "3"}), b"", method="GET", url=URL, now=NOW
    )
    assert isinstance(exc, errors.RateLimitError)
    assert exc.retry_after == 3.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("0", 0.0),
        ("12", 12.0),
        (" 12 ", 12.0),
        ("1.5", 1.5),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("1e400", None),
        ("soon", None),
        ("Mon, 03 Nov 2025 09:00:30 GMT", 30.0),
        ("Mon, 03 Nov 2025 08:59:00 GMT", 0.0),
        ("Mon, 03 Nov 2025 10:00:00 +0100", 0.0),
        ("Mon, 03 Nov 2025 09:02:00 -0000", 120.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_date_uses_the_clock_by_default() -> None:
    future = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=100), usegmt=True)
    wait = parse_retry_after(future)
    assert wait is not None
    assert 95.0 <= wait <= 100.0


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("Request was throttled. Expected available in 37 seconds.", 37.0),
        ("Request was throttled. Expected available in 1 second.", 1.0),
        ("Request was throttled. Expected available in 2.5 seconds.", 2.5),
        ("request was throttled. expected available in 8 seconds.", 8.0),
        ("Request was throttled.", None),
        ("", None),
        (None, None),
    ],
)
def test_throttle_wait(detail: str | None, expected: float | None) -> None:
    assert throttle_wait(detail) == expected


# --- pagination planning ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "start", "page_len", "expected"),
    [
        (0, 0, 100, []),
        (1, 0, 100, []),
        (100, 0, 100, []),
        (101, 0, 100, [100]),
        (250, 0, 100, [100, 200]),
        (2000, 0, 100, list(range(100, 2000, 100))),
        (250, 0, 30, list(range(30, 250, 30))),
        (250, 50, 100, [150]),
        (250, 0, 0, []),
        (250, 0, -5, []),
    ],
)
def test_plan_offsets(count: int, start: int, page_len: int, expected: list[int]) -> None:
    assert list(plan_offsets(count, start, page_len)) == expected


def test_plan_offsets_covers_every_item_once() -> None:
    for count in (0, 1, 29, 30, 31, 99, 100, 101, 250, 1000):
        for page_len in (1, 7, 30, 100):
            starts = [0, *plan_offsets(count, 0, page_len)]
            covered = [i for s in starts for i in range(s, min(s + page_len, count))]
            assert covered == list(range(count)), (count, page_len)


# --- properties -------------------------------------------------------------------------

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@given(st.uuids())
def test_check_uuid_round_trips_any_uuid(value: uuid.UUID) -> None:
    assert check_uuid("u", value) == str(value)
    assert check_uuid("u", str(value).upper()) == str(value)
    assert check_uuid("u", value.hex) == str(value)


@given(st.text(max_size=60))
def test_check_uuid_output_is_always_a_safe_path_segment(text: str) -> None:
    try:
        out = check_uuid("u", text)
    except errors.InvalidArgumentError:
        return
    assert _CANONICAL_UUID.fullmatch(out)


@given(st.integers(0, 5000), st.integers(1, 700))
def test_plan_offsets_property(count: int, page_len: int) -> None:
    offsets = plan_offsets(count, 0, page_len)
    starts = [0, *offsets]
    assert starts == sorted(set(starts))
    covered = [i for s in starts for i in range(s, min(s + page_len, count))]
    assert covered == list(range(count))
    assert all(0 < o < count for o in offsets)


@given(st.integers(400, 599), st.binary(max_size=300))
def test_decipher_error_never_fails(status: int, body: bytes) -> None:
    exc = decipher(status, body)
    assert isinstance(exc, errors.APIStatusError)
    assert exc.status == status
    assert exc.body == body
    assert str(exc).startswith(f"GET {URL} -> {status}")


@settings(max_examples=50)
@given(st.from_regex(r"ph[xa]_[A-Za-z0-9_\-]{6,40}", fullmatch=True), st.text(max_size=20))
def test_redact_hides_any_key(key: str, around: str) -> None:
    assert key not in redact(f"{around}{key} {around}")


@given(st.integers(0, 10**6))
def test_parse_retry_after_integer_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == float(seconds)

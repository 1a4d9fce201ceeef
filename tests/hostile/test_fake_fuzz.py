"""FakePostHog under a fuzzer: every malformed request gets PostHog's answer, never a 500.

A seeded generator sends random methods, paths (project ids, ids, suffixes, encodings),
query strings, headers (credentials, content types, Accept) and bodies (JSON of random
shapes, truncated or invalid JSON, invalid UTF-8, deep nesting, forms, raw bytes) to one
server over real sockets. Every answer must be a status below 500 with a body of one of the
shapes PostHog sends: the ``{type, code, detail, attr}`` envelope (plus ``extra`` for 402),
the bare ``{"detail"}``/``{"error"}`` answers, DRF's SSE-renderer text, an empty body, or a
successful JSON document. The server keeps serving afterwards. A failing case prints the
request so it can be replayed.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from posthog_dash_async.testing import FakePostHog

SEEDS = range(8)
REQUESTS_PER_SEED = 150

#: Methods aiohttp's HTTP parser (llhttp) accepts; one it does not know, such as ``FOO``, is
#: refused by the parser with a plain 400 before any handler runs (see the last test).
METHODS = [
    "GET", "GET", "GET", "POST", "POST", "PATCH", "PATCH", "PUT", "DELETE", "HEAD",
    "OPTIONS", "TRACE", "PROPFIND", "PURGE", "SEARCH", "LINK",
]  # fmt: skip
PROJECTS = ["42", "42", "42", "@current", "0", "-1", "7", "99999999999999999999999", "abc",
            "\uff14\uff12", "\u00b2", "%00", "4%202", "", "42.0"]  # fmt: skip
IDS = ["412", "388", "415", "470", "9001", "0", "-5", "1e3", "abc", "99999999999999999999",
       "\u0663", "%2e%2e", "412.json", "", "2301", "aZ3kP9qW"]  # fmt: skip
SUFFIXES = ["", "move_tile", "stream_tiles", "collaborators", "collaborators/{uuid}", "sharing",
            "sharing/refresh", "sharing/passwords", "sharing/passwords/{uuid}", "copy_tile",
            "reorder_tiles", "create_text_tile", "update_text_tile", "delete_tile",
            "run_insights", "nonsense", "../412"]  # fmt: skip
FIELDS = ["name", "description", "pinned", "deleted", "tags", "filters", "variables", "tiles",
          "use_template", "use_dashboard", "restriction_level", "tile", "to_dashboard",
          "toDashboard", "tile_id", "tileId", "fromDashboardId", "tile_order", "layout",
          "body", "color", "layouts", "query", "dashboards", "raw_password", "note", "level",
          "user_uuid", "enabled", "password_required", "settings", "template",
          "personal_api_key", "id", "text", "button_tile", "duplicate_tiles",
          "quick_filter_ids", "_create_in_folder", "kind", "sm", "x", "w"]  # fmt: skip
PARAMS = ["limit", "offset", "search", "folder", "tags", "refresh", "filters_override",
          "variables_override", "tile_filters_override", "layoutSize", "layout_size", "format",
          "tile_ids", "output_format", "max_result_chars", "include_dashboards", "basic",
          "dashboards", "short_id", "saved", "scope", "is_featured", "ordering",
          "creation_mode", "exclude_generated", "personal_api_key", "pinned"]  # fmt: skip
CONTENT_TYPES = ["application/json", "application/json", "application/json; charset=utf-8",
                 "application/x-www-form-urlencoded", "multipart/form-data",
                 "multipart/form-data; boundary=xyz", "text/plain", "a/b;;;=", "",
                 "application/JSON", "*/*"]  # fmt: skip
ACCEPTS = [None, None, "*/*", "application/json", "text/event-stream",
           "text/event-stream;q=abc", "text/html", "application/json, text/event-stream;q=0.5",
           ";;;", "*/*;q=0"]  # fmt: skip
UUID = "018d7e21-4b6a-7c3f-9e12-0a4b8c6d2f90"


@dataclass
class Case:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    def __str__(self) -> str:
        return (
            f"{self.method} {self.path} query={self.query!r} headers={self.headers!r} "
            f"body={self.body[:300]!r}"
        )


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "null", "list", "dict", "big", "unicode"]
    if depth > 3:
        kinds = kinds[:5]
    kind = rng.choice(kinds)
    if kind == "str":
        return rng.choice(["", "x", "412", "-30d", " ", "a" * rng.randint(0, 5000), "two_column"])
    if kind == "int":
        return rng.choice(
            [0, 1, -1, 412, 9001, 9002, 9003, 9301, 2301, 388, 401, 21, 37, 12, 6, 2**63]
        )
    if kind == "float":
        return rng.choice([0.5, 1.0, -3.25, 1e308, 412.0])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "big":
        return 10 ** rng.randint(19, 60)
    if kind == "unicode":
        return rng.choice(["\u00e9t\u00e9", "\U0001f600", "\x00\x1b[31m", "\ud7ff", "<script>"])
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(FIELDS): random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def random_body(rng: random.Random) -> bytes:
    choice = rng.randrange(10)
    if choice == 0:
        return b""
    if choice == 1:
        return json.dumps(random_value(rng))[: rng.randint(0, 40)].encode()  # truncated
    if choice == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    if choice == 3:
        depth = rng.choice([50, 1500, 5000])
        return b"[" * depth + b"]" * depth
    if choice == 4:
        return rng.choice([b"NaN", b'{"a": Infinity}', b"\xff\xfe{}", b'{"a":1,}', b"'x'"])
    if choice == 5:
        return b"name=x&tags=a&tags=b&pinned=maybe&%zz=%%"
    if choice == 6:
        return b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nhi\r\n--xyz--\r\n'
    value = {rng.choice(FIELDS): random_value(rng) for _ in range(rng.randint(0, 6))}
    if rng.random() < 0.2:
        return json.dumps(random_value(rng)).encode()  # any shape, not only an object
    return json.dumps(value).encode()


def pick(rng: random.Random, usual: list[str], odd: list[str], odds: float = 0.2) -> str:
    """Mostly a value that gets past routing, sometimes a hostile one."""
    return rng.choice(odd if rng.random() < odds else usual)


def random_case(rng: random.Random, key: str) -> Case:
    project = pick(rng, ["42", "42", "@current"], PROJECTS, 0.15)
    shape = rng.randrange(12)
    if shape < 6:
        suffix = rng.choice(SUFFIXES).replace("{uuid}", rng.choice([UUID, "x", ""]))
        tail = f"dashboards/{pick(rng, ['412', '388', '401', '433', '415'], IDS)}/{suffix}"
    elif shape == 6:
        tail = rng.choice(["dashboards/", "dashboards", "dashboards/create_from_template_json/"])
    elif shape == 7:
        tail = f"insights/{pick(rng, ['', '2301', '2701', 'aZ3kP9qW'], IDS)}"
    elif shape == 8:
        tail = f"dashboard_templates/{rng.choice(['', UUID, 'x'])}"
    elif shape == 9:
        tail = rng.choice(["", "unknown/", "dashboards//412/", "dashboards/412/tiles/"])
    else:
        tail = ""
    if shape == 10:
        path = rng.choice(["/api/users/@me/", "/api/users/@me", "/api/users/1043/", "/", "/api/"])
    elif shape == 11:
        path = "/api/" + "/".join(rng.choice(["x", "%ff", "..", "a" * 300]) for _ in range(3))
    else:
        space = rng.choice(["projects", "projects", "environments"])
        path = f"/api/{space}/{project}/{tail}"
    query = [(rng.choice(PARAMS), str(random_value(rng))[:200]) for _ in range(rng.randint(0, 3))]
    headers: dict[str, str] = {}
    auth = rng.randrange(10)
    if auth < 9:
        headers["Authorization"] = f"Bearer {key}"
    elif auth == 7:
        headers["Authorization"] = rng.choice(["Bearer ", "Basic abc", "Bearer phx_wrong", "x"])
    content_type = pick(rng, ["application/json"], CONTENT_TYPES, 0.3)
    if content_type:
        headers["Content-Type"] = content_type
    accept = rng.choice(ACCEPTS) if rng.random() < 0.25 else None
    if accept is not None:
        headers["Accept"] = accept
    if rng.random() < 0.2:
        headers["Accept-Encoding"] = rng.choice(["gzip", "br;q=1, gzip;q=0", "identity"])
    # Half of the time the method the route serves, so that the views see the bodies.
    method = rng.choice(METHODS)
    if rng.random() < 0.5:
        method = "POST" if "_tile" in path or "tiles" in path or "passwords" in path else method
    return Case(method, path, query, headers, random_body(rng))


ENVELOPE = {"type", "code", "detail", "attr"}


SERVER_ERROR = {
    "type": "server_error",
    "code": "error",
    "detail": "A server error occurred.",
    "attr": None,
}


def check_answer(case: Case, status: int, content_type: str, body: bytes) -> None:
    where = f"{status} for {case}"
    if status == 500 and "/create_from_template_json" in case.path:
        # PostHog indexes request.data["template"] there: a KeyError is its own 500, which
        # only keys reach with allow_pak_on_unscoped_actions. Never bare, though.
        assert json.loads(body) == SERVER_ERROR, where
        return
    assert status < 500, where
    assert b"Traceback" not in body, where
    if case.method == "HEAD" or status in (204, 304):
        return
    if not body:
        # The bare answers: 405 of DELETE, the stream's 503 (never 5xx here), 204.
        assert status in (405,), where
        return
    if content_type.startswith("text/event-stream"):
        # A stream, or DRF's SSE renderer concatenating an error object's keys.
        return
    assert content_type == "application/json", where
    data = json.loads(body)
    if status >= 400:
        assert isinstance(data, dict), where
        if set(data) in ({"detail"}, {"error"}):
            assert isinstance(next(iter(data.values())), str), where
            return
        assert ENVELOPE <= set(data) <= ENVELOPE | {"extra"}, where
        assert isinstance(data["detail"], str), where
        assert data["code"] != "error", where


@pytest.fixture(params=[False, True], ids=["faithful-scopes", "unscoped-allowed"])
async def fuzzed(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[FakePostHog, aiohttp.ClientSession]]:
    async with (
        FakePostHog(
            burst_limit=None, sustained_limit=None, allow_pak_on_unscoped_actions=request.param
        ) as server,
        aiohttp.ClientSession(auto_decompress=True) as session,
    ):
        yield server, session


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_requests_get_posthogs_answers(
    fuzzed: tuple[FakePostHog, aiohttp.ClientSession], seed: int
) -> None:
    server, session = fuzzed
    rng = random.Random(seed)
    for _ in range(REQUESTS_PER_SEED):
        case = random_case(rng, server.api_key)
        async with session.request(
            case.method,
            server.url + case.path,
            params=case.query,
            headers=case.headers,
            data=case.body,
            skip_auto_headers=("Content-Type",),
        ) as response:
            body = await response.read()
            check_answer(case, response.status, response.content_type, body)
    # Still serving, nothing left in flight.
    async with session.get(
        f"{server.url}/api/projects/42/dashboards/",
        headers={"Authorization": f"Bearer {server.api_key}"},
    ) as response:
        assert response.status == 200
    assert server.in_flight == 0


# --------------------------------------------------------------------------------------------
# the rules, one by one


async def test_a_bad_json_body_is_drfs_parse_error(
    fuzzed: tuple[FakePostHog, aiohttp.ClientSession],
) -> None:
    server, session = fuzzed
    auth = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "application/json"}
    writes = [
        ("POST", "dashboards/"),
        ("PATCH", "dashboards/412/"),
        ("POST", "dashboards/412/create_text_tile/"),
        ("POST", "dashboards/412/reorder_tiles/"),
        ("PATCH", "dashboards/412/sharing/"),
        ("POST", "insights/"),
        ("PATCH", "insights/2301/"),
    ]
    for method, path in writes:
        for raw in (b'{"name": ', b"\xff", b"[" * 5000):
            url = f"{server.url}/api/projects/42/{path}"
            async with session.request(method, url, data=raw, headers=auth) as response:
                body = await response.json()
                assert response.status == 400, (method, path, raw[:10])
                assert set(body) == ENVELOPE
                assert (body["type"], body["code"], body["attr"]) == (
                    "invalid_request",
                    "parse_error",
                    None,
                )
                assert body["detail"].startswith("JSON parse error - ")
    assert len(server.dashboard(412)["tiles"]) == 3


@pytest.mark.parametrize(
    "project", ["abc", "99999999999999999999999", "\u00b2", "\uff14\uff12", "-1", "0", "7"]
)
async def test_an_impossible_project_is_a_404(
    fuzzed: tuple[FakePostHog, aiohttp.ClientSession], project: str
) -> None:
    server, session = fuzzed
    url = f"{server.url}/api/projects/{project}/dashboards/"
    async with session.get(url, headers={"Authorization": f"Bearer {server.api_key}"}) as r:
        assert (r.status, await r.json()) == (
            404,
            {
                "type": "invalid_request",
                "code": "not_found",
                "detail": "Project not found.",
                "attr": None,
            },
        )


@pytest.mark.parametrize("method", ["PROPFIND", "PURGE", "TRACE", "PATCH"])
async def test_an_unknown_method_is_a_405(
    fuzzed: tuple[FakePostHog, aiohttp.ClientSession], method: str
) -> None:
    server, session = fuzzed
    url = f"{server.url}/api/projects/42/dashboards/"
    async with session.request(
        method, url, headers={"Authorization": f"Bearer {server.api_key}"}
    ) as response:
        assert (response.status, await response.json()) == (
            405,
            {
                "type": "invalid_request",
                "code": "method_not_allowed",
                "detail": f'Method "{method}" not allowed.',
                "attr": None,
            },
        )


async def test_multipart_without_a_boundary_is_a_parse_error(
    fuzzed: tuple[FakePostHog, aiohttp.ClientSession],
) -> None:
    server, session = fuzzed
    headers = {
        "Authorization": f"Bearer {server.api_key}",
        "Content-Type": "multipart/form-data",
    }
    url = f"{server.url}/api/projects/42/dashboards/412/"
    async with session.patch(url, data=b"name=x", headers=headers) as response:
        assert (response.status, await response.json()) == (
            400,
            {
                "type": "invalid_request",
                "code": "parse_error",
                "detail": "Multipart message missing boundary in Content-Type header",
                "attr": None,
            },
        )


async def test_a_method_the_http_parser_refuses_is_a_plain_400(
    fuzzed: tuple[FakePostHog, aiohttp.ClientSession],
) -> None:
    # Not PostHog's answer (a Django server would say 405), but no handler, no traceback and
    # the server keeps serving: the limit of aiohttp.web under the fake.
    server, session = fuzzed
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"FOO /api/projects/42/dashboards/ HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.0 400 Bad Request\r\n")
    assert b"Traceback" not in answer
    async with session.get(
        f"{server.url}/api/projects/42/dashboards/",
        headers={"Authorization": f"Bearer {server.api_key}"},
    ) as response:
        assert response.status == 200

"""The 2026 parameters of ``ph.dashboards`` over a real loopback socket: the stream's
``refresh``/overrides (sent on the stream and kept on the fallback GET), ``get``'s
``tile_filters_override``, ``folder`` on list/iter, ``run_insights``, and the stream's 503
overload answer raised with its ``retry_after`` instead of a long silent wait."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from conftest import BASE, RecordingServer, dumps, load_fixture, make_client

import posthog_dash_async as pda

UNSUPPORTED = {
    "type": "authentication_error",
    "code": "permission_denied",
    "detail": "This action does not support personal API key access",
    "attr": None,
}


def sse_body(detail: dict[str, Any]) -> bytes:
    tiles = detail["tiles"]
    events = [{"type": "metadata", "dashboard": {**detail, "tiles": tiles[:2]}}]
    events += [{"type": "tile", "order": i, "tile": t} for i, t in enumerate(tiles[2:], 2)]
    events.append({"type": "complete"})
    return b"".join(b"data: " + dumps(e) + b"\n\n" for e in events)


OVERRIDES: dict[str, Any] = {
    "refresh": "force_blocking",
    "filters_override": {"date_from": "-7d"},
    "variables_override": {"v1": {"code_name": "country", "value": "NL"}},
    "tile_filters_override": {9001: {"date_from": "-1d"}, "9002": {}},
}
EXPECTED_QUERY = [
    ("refresh", "force_blocking"),
    ("filters_override", '{"date_from":"-7d"}'),
    ("variables_override", '{"v1":{"code_name":"country","value":"NL"}}'),
    ("tile_filters_override", '{"9001":{"date_from":"-1d"},"9002":{}}'),
]


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


# --- stream_tiles -------------------------------------------------------------------------


async def test_stream_sends_refresh_and_overrides(recorder: RecordingServer) -> None:
    detail = load_fixture("dashboard_detail.json")

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=sse_body(detail), content_type="text/event-stream")

    recorder.handler = handler
    async with make_client(recorder) as ph:
        got = await ph.dashboards.stream_tiles(412, layout_size="xs", **OVERRIDES).collect()
    (request,) = recorder.requests
    assert request.path == BASE + "dashboards/412/stream_tiles/"
    assert request.query == [("layout_size", "xs"), *EXPECTED_QUERY]
    assert [t.id for t in got.tiles] == [9001, 9002, 9003]


async def test_stream_fallback_keeps_the_parameters(recorder: RecordingServer) -> None:
    detail = load_fixture("dashboard_detail.json")
    recorder.reply("GET", "dashboards/412/stream_tiles/", status=403, json=UNSUPPORTED)
    recorder.reply("GET", "dashboards/412/", json=detail)
    async with make_client(recorder) as ph:
        async with ph.dashboards.stream_tiles(412, **OVERRIDES) as stream:
            events = [e async for e in stream]
        assert stream.fallback_used is True
    stream_request, fallback_request = recorder.requests
    assert stream_request.query == [("layout_size", "sm"), *EXPECTED_QUERY]
    assert fallback_request.path == BASE + "dashboards/412/"
    assert fallback_request.query == EXPECTED_QUERY
    assert isinstance(events[0], pda.MetadataEvent)
    assert isinstance(events[-1], pda.CompleteEvent)


async def test_stream_without_parameters_sends_only_the_layout_size(
    recorder: RecordingServer,
) -> None:
    detail = load_fixture("dashboard_detail.json")
    recorder.reply("GET", "dashboards/412/stream_tiles/", status=403, json=UNSUPPORTED)
    recorder.reply("GET", "dashboards/412/", json=detail)
    async with make_client(recorder) as ph:
        await ph.dashboards.stream_tiles(412).collect()
    assert [r.query for r in recorder.requests] == [[("layout_size", "sm")], []]


async def test_stream_503_beyond_max_retry_wait_raises_with_retry_after(
    recorder: RecordingServer,
) -> None:
    recorder.reply(
        "GET",
        "dashboards/412/stream_tiles/",
        status=503,
        body=b"",
        headers={
            "Retry-After": "37",
            "Cache-Control": "no-cache, no-transform",
            "X-Accel-Buffering": "no",
        },
    )
    async with make_client(recorder, max_retries=2, max_retry_wait=10) as ph:
        ph._sleep = sleep = RecordingSleep()
        with pytest.raises(pda.ServerError) as info:
            await ph.dashboards.stream_tiles(412).collect()
    assert info.value.status == 503
    assert info.value.retry_after == 37.0
    assert "37" in str(info.value)
    assert sleep.waits == []
    assert len(recorder.requests) == 1


async def test_stream_503_within_max_retry_wait_waits_what_the_server_asked(
    recorder: RecordingServer,
) -> None:
    detail = load_fixture("dashboard_detail.json")
    answers = [web.Response(status=503, headers={"Retry-After": "15"})]

    async def handler(request: web.Request) -> web.StreamResponse:
        if answers:
            return answers.pop()
        return web.Response(body=sse_body(detail), content_type="text/event-stream")

    recorder.handler = handler
    async with make_client(recorder, max_retries=2, max_retry_wait=60) as ph:
        ph._sleep = sleep = RecordingSleep()
        got = await ph.dashboards.stream_tiles(412).collect()
    assert sleep.waits == [15.0]
    assert len(got.tiles) == 3


def test_retry_after_of_a_5xx_is_on_the_server_error() -> None:
    from posthog_dash_async import _wire

    error = _wire.decipher_error(503, {"Retry-After": "44"}, b"", method="GET", url="u")
    assert type(error) is pda.ServerError
    assert error.retry_after == 44.0
    plain = _wire.decipher_error(500, {}, b"", method="GET", url="u")
    assert type(plain) is pda.ServerError
    assert plain.retry_after is None


# --- get / list / iter --------------------------------------------------------------------


async def test_get_sends_tile_filters_override(recorder: RecordingServer) -> None:
    recorder.reply("GET", "dashboards/412/", json=load_fixture("dashboard_detail.json"))
    async with make_client(recorder) as ph:
        await ph.dashboards.get(412, **OVERRIDES)
        await ph.dashboards.get(412, tile_filters_override={9001: {"date_from": "-1d"}})
    first, second = recorder.requests
    assert first.query == EXPECTED_QUERY
    assert second.query == [("tile_filters_override", '{"9001":{"date_from":"-1d"}}')]


async def test_list_and_iter_send_folder(recorder: RecordingServer) -> None:
    page = load_fixture("dashboards_list_page.json")
    page = {**page, "next": None, "count": len(page["results"])}
    for item in page["results"]:
        item["folder"] = "Team/Growth"
    recorder.reply("GET", "dashboards/", json=page)
    async with make_client(recorder) as ph:
        listed = await ph.dashboards.list(folder="Team/Growth")
        await ph.dashboards.list(folder="")
        iterated = [d async for d in ph.dashboards.iter(folder="Team/Growth", page_size=50)]
    assert [r.query for r in recorder.requests] == [
        [("folder", "Team/Growth")],
        [("folder", "")],
        [("folder", "Team/Growth"), ("limit", "50")],
    ]
    assert {d.folder for d in listed.results} == {"Team/Growth"}
    assert len(iterated) == len(page["results"])


# --- run_insights -------------------------------------------------------------------------

RUN_ANSWER = {
    "results": [
        {
            "id": 9001,
            "insight": {
                "id": 2301,
                "short_id": "aZ3kP9qW",
                "name": "Weekly active users",
                "derived_name": None,
                "result": "date | count\n2026-01-05 | 120",
            },
            "order": 0,
            "last_refresh": None,
            "is_cached": False,
        }
    ]
}


async def test_run_insights_sends_parameters_and_returns_typed_results(
    recorder: RecordingServer,
) -> None:
    recorder.reply("GET", "dashboards/412/run_insights/", json=RUN_ANSWER)
    async with make_client(recorder) as ph:
        result = await ph.dashboards.run_insights(
            412,
            refresh="blocking",
            filters_override={"date_from": "-7d"},
            variables_override={"v": {"value": 1}},
            output_format="json",
            tile_ids=[9001, 9002],
            max_result_chars=0,
        )
        bare = await ph.dashboards.run_insights(412)
    first, second = recorder.requests
    assert first.path == BASE + "dashboards/412/run_insights/"
    assert first.query == [
        ("refresh", "blocking"),
        ("filters_override", '{"date_from":"-7d"}'),
        ("variables_override", '{"v":{"value":1}}'),
        ("output_format", "json"),
        ("tile_ids", "9001,9002"),
        ("max_result_chars", "0"),
    ]
    assert second.query == []
    assert type(result) is pda.RunInsightsResult
    (run,) = result.results
    assert type(run) is pda.InsightRun
    assert type(run.insight) is pda.Insight
    assert (run.id, run.order, run.insight.short_id) == (9001, 0, "aZ3kP9qW")
    assert run.insight.result.startswith("date | count")
    assert bare == result


# --- nothing is sent on bad input ---------------------------------------------------------

Call = Callable[[pda.AsyncPostHog], Awaitable[Any]]

BAD_CALLS: dict[str, Call] = {
    "get: tile override key": lambda ph: ph.dashboards.get(1, tile_filters_override={"x": {}}),
    "get: tile override zero": lambda ph: ph.dashboards.get(1, tile_filters_override={0: {}}),
    "get: tile override value": lambda ph: ph.dashboards.get(1, tile_filters_override={1: 2}),  # type: ignore[dict-item]
    "get: tile override not a dict": lambda ph: ph.dashboards.get(1, tile_filters_override=[1]),  # type: ignore[arg-type]
    "stream: bad refresh": lambda ph: ph.dashboards.stream_tiles(1, refresh="now").collect(),  # type: ignore[arg-type]
    "stream: filters not a dict": lambda ph: ph.dashboards.stream_tiles(
        1,
        filters_override="{}",  # type: ignore[arg-type]
    ).collect(),
    "list: folder not str": lambda ph: ph.dashboards.list(folder=3),  # type: ignore[arg-type]
    "run: bad id": lambda ph: ph.dashboards.run_insights(0),
    "run: bad format": lambda ph: ph.dashboards.run_insights(1, output_format="csv"),  # type: ignore[arg-type]
    "run: empty tile_ids": lambda ph: ph.dashboards.run_insights(1, tile_ids=[]),
    "run: tile_ids str": lambda ph: ph.dashboards.run_insights(1, tile_ids="1,2"),  # type: ignore[arg-type]
    "run: negative max chars": lambda ph: ph.dashboards.run_insights(1, max_result_chars=-1),
    "run: variables not a dict": lambda ph: ph.dashboards.run_insights(1, variables_override=[]),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
async def test_bad_arguments_send_nothing(recorder: RecordingServer, call: Call) -> None:
    async with make_client(recorder) as ph:
        with pytest.raises(pda.InvalidArgumentError):
            await call(ph)
    assert recorder.requests == []

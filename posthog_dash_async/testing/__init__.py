"""A faithful, stateful PostHog Dashboards server for tests: :class:`FakePostHog`.

The server is an ``aiohttp.web`` application on loopback that behaves like PostHog's
dashboards API as it is in 2026 (``spec/posthog-2026.md``, ``spec/posthog-2026-tiles-insights.md``
over ``spec/posthog-api.md``), with the older behaviour behind switches: the same routes (with
or without trailing slash, ``@current``, the ``/api/environments/`` alias), the same
authentication and scope rules, the same error bodies, DRF pagination links, soft delete,
tile upserts and layouts, ``move_tile``, the tile actions, insights, ``run_insights``,
templates, collaborators, sharing and share passwords, throttling, 402 limits and the exact
``stream_tiles`` framing. ``_routes.py`` lists every endpoint with its scope; the views live
in ``_views/``, one module per resource. It does not import the SDK; it works on plain JSON.

Usage::

    from posthog_dash_async.testing import FakePostHog

    async with FakePostHog() as server:
        server.url         # "http://127.0.0.1:54321"
        server.api_key     # "phx_..." with scope "*", owned by the current user (Priya, 1043)
        server.project_id  # 42

Constructor options (all keyword-only)
--------------------------------------
``host="127.0.0.1"``, ``port=0`` (ephemeral), ``project_id=42``, ``api_key=None``
(generated), ``scopes=("*",)`` (of the default key), ``seed=True`` (the seed dashboards below;
``False`` leaves only the current user and an empty project), ``tagging=True``,
``advanced_permissions=True`` (restriction level 37, password sharing),
``public_sharing=True``, ``allow_pak_on_unscoped_actions=False`` (PostHog answers 403 "This
action does not support personal API key access" on ``stream_tiles``,
``create_from_template_json`` and REF's ``move_tile``; switch on to exercise their happy paths
with a key), ``move_tile_flavour="new"`` (``to_dashboard`` required, PATCH or POST,
``dashboard:write``; ``"ref"``: ``toDashboard``, PATCH only, scope-less),
``new_sse_headers=True`` (``Cache-Control``/``X-Accel-Buffering`` on streams),
``merge_overrides=True`` (overrides merged over stored values, bad JSON a 400; ``False``:
REF's replace), ``burst_limit=480`` and ``sustained_limit=4800`` (per key, DRF sliding windows
of 60 s and 3600 s; ``None`` disables one), ``retry_after_header=True`` (``Retry-After`` on
throttled answers), ``max_dashboards=500`` and ``max_tiles_per_dashboard=5000`` (402
``limit_exceeded`` beyond them; ``None``: no limit), ``max_concurrent_streams=None`` (the
stream cap: 503, empty body, ``Retry-After`` 15-44 s from ``server.random``),
``now=`` (a callable returning an aware ``datetime``: every timestamp the server writes) and
``timer=`` (a monotonic clock for throttling and the sharing-token grace period). Most options
are also attributes that can be flipped at runtime.

Setting up state
----------------
``add_key(key=None, scopes=("*",), user_id=None, projects=None)``, ``add_user(...)``,
``add_project(project_id, member_ids=...)``, ``add_dashboard(name, tiles=[...], ...)``,
``import_dashboard(detail)`` (a retrieve response such as the fixture file, ids kept),
``add_tile(dashboard_id, tile)`` (also ``{"widget": {...}}``), ``add_collaborator(...)``,
``add_template(template)`` (also listed by ``dashboard_templates/``),
``add_quick_filter(uuid)``. Tiles are built with :func:`trends_tile`, :func:`funnel_tile`,
:func:`number_tile`, :func:`insight_tile` and :func:`text_tile`.

Assertions: ``server.dashboards`` (detail objects by id, deleted ones included),
``server.dashboard(id)``, ``server.collaborators(id)``, ``server.sharing_configuration(id)``,
``server.is_share_token_valid(token)``, ``server.user``/``server.users`` and ``server.state``
(the raw records).

Request recording
-----------------
Every request is appended to ``server.requests`` as a :class:`RecordedRequest` (``method``,
``path``, ``query`` multidict, ``headers`` dict, ``body`` bytes, ``json()``, ``status`` once
answered, ``fault`` when a fault answered it). ``server.in_flight`` counts requests being
handled (a stream counts until it ends) and ``server.max_in_flight`` keeps the peak, which is
how a test proves a client-side concurrency limit. ``requests_matching(method, path)`` filters;
``clear_requests()`` starts over.

Fault switches
--------------
Matching is by ``method`` (a name or a collection) and ``path`` (a regex searched in the
path); faults apply before authentication, like a proxy in front of PostHog, and do not count
against the throttle.

``fail_next(count=1, status=503, body=None, headers=None, method=None, path=None)``
    Answer the next ``count`` matching requests with ``status`` (default body: the
    ``server_error`` envelope; bytes/str are sent as text, anything else as JSON).
``throttle_next(count=1, wait=37, retry_after=False, method=None, path=None)``
    Answer with PostHog's 429 body "Expected available in N seconds."; ``retry_after=True``
    adds ``Retry-After: <wait>``, a str/int sends that value.
``overload_next(count=1, retry_after=None, method=None, path=stream_tiles)``
    The stream's overload answer: 503, empty body, ``Retry-After`` 15-44 s (or
    ``retry_after``) and the stream's cache headers.
``reset_next(count=1, method=None, path=None)``
    Reset the TCP connection before any response byte. aiohttp's client retries an
    idempotent request once on a reset of a reused connection, so a GET can use up two.
``set_delay(seconds | callable(RecordedRequest) -> seconds | None)``
    Delay every request before it is handled (a per-request callable allows jitter or
    targeting).
``set_stream_faults(**fields)`` / ``server.stream_faults`` (:class:`StreamFaults`)
    ``stall_after=N`` (hold the connection open, silent, after N events), ``truncate_after=N``
    (end cleanly without ``complete``), ``reset_after=N`` (reset the connection),
    ``fatal_error_after=N`` with ``fatal_error_message`` (``{"type":"error","error":...}`` and
    end), ``tile_errors={tile_id: message}`` (per-tile ``error`` events; an error object inside
    the metadata for the first two tiles), ``tile_delay=seconds`` (before every tile event),
    ``huge_tiles={tile_id: bytes}`` (pad that tile's insight result), ``crlf=True``,
    ``comments=True`` (``: keep-alive`` blocks), ``event_lines=True`` (``event:`` and ``id:``
    lines), ``chunk_size=N`` (split writes). Counts are data events already sent, metadata
    being the first.
``reset_faults()``
    Turn all of the above off.

``Accept``-sensitive behaviour is always on, as in PostHog: DRF content negotiation picks the
SSE renderer for dashboard endpoints when ``Accept`` is ``text/event-stream`` alone (or
``?format=txt``), so error bodies there are not JSON but the concatenated keys of the error
object (``typecodedetailattr``) with ``Content-Type: text/event-stream; charset=utf-8``.

Seed data (``seed=True``)
-------------------------
Project 42. Users: Priya Raman 1043 (current user, member), Tomás Ibarra 1077 (project admin),
Lena Fischer 1102 (member, a good collaborator to add), Sam Okafor 1120 (no project access),
Alex Moreau 1133 (deactivated). Dashboards: 412 "Growth overview" (the fixture, tiles 9001
trends, 9002 funnel, 9003 text; shared), 415 "Billing health" (pinned, restriction 37 by
Tomás, Lena collaborator), 377 "Web analytics" (template), 388 "Weekly KPIs" (six number
tiles), 401 "Weekly retention", 420 "Website SEO" (restriction 37 by Priya), 433 (no name),
450 "Generated Dashboard: $pageview trends", 460 "Session replay embed" (unlisted),
470 "Old experiments" (soft-deleted).

Also here: the ``posthog_server`` and ``posthog_server_factory`` pytest fixtures (module
``posthog_dash_async.testing.pytest_plugin``, registered as a pytest11 entry point) and
:func:`serve_forever` for running the server by hand (``posthog-dash serve``).
"""

from ._builders import TileSpec, funnel_tile, insight_tile, number_tile, text_tile, trends_tile
from ._faults import RecordedRequest, StreamFaults
from ._server import FakePostHog, serve_forever

__all__ = [
    "FakePostHog",
    "RecordedRequest",
    "StreamFaults",
    "TileSpec",
    "funnel_tile",
    "insight_tile",
    "number_tile",
    "serve_forever",
    "text_tile",
    "trends_tile",
]

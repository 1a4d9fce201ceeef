"""``pda.Cache``: an opt-in, bounded, short-lived GET cache, against FakePostHog."""

from __future__ import annotations

import asyncio

import pytest
from conftest import connect

import posthog_dash_async as pda
from posthog_dash_async._cache import affected
from posthog_dash_async.testing import FakePostHog

DETAIL = "/api/projects/42/dashboards/{}/"
LIST = "/api/projects/42/dashboards/"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gets(server: FakePostHog, path: str) -> int:
    return len([r for r in server.requests if r.method == "GET" and r.path == path])


async def test_a_fresh_answer_is_served_from_the_cache() -> None:
    cache = pda.Cache(ttl=5.0, max_entries=10)
    async with FakePostHog() as server, connect(server, cache=cache) as ph:
        first = await ph.dashboards.get(412)
        second = await ph.dashboards.get(412)
        assert gets(server, DETAIL.format(412)) == 1
        assert first == second
        assert cache.stats == pda.CacheStats(hits=1, misses=1, evictions=0, entries=1)
        assert ph.cache is cache


async def test_cached_models_are_never_shared() -> None:
    async with FakePostHog() as server, connect(server, cache=pda.Cache()) as ph:
        first = await ph.dashboards.get(412)
        count = len(first.tiles)
        first.tiles.clear()
        again = await ph.dashboards.get(412)
        assert gets(server, DETAIL.format(412)) == 1
        assert len(again.tiles) == count


async def test_entries_expire_after_ttl() -> None:
    clock = Clock()
    cache = pda.Cache(ttl=5.0, clock=clock)
    async with FakePostHog() as server, connect(server, cache=cache) as ph:
        await ph.dashboards.get(412)
        clock.now += 4.9
        await ph.dashboards.get(412)
        assert gets(server, DETAIL.format(412)) == 1
        clock.now += 0.2
        await ph.dashboards.get(412)
        assert gets(server, DETAIL.format(412)) == 2
        assert cache.stats.hits == 1
        assert cache.stats.misses == 2


async def test_least_recently_used_entry_is_evicted() -> None:
    cache = pda.Cache(ttl=60.0, max_entries=2)
    async with FakePostHog() as server, connect(server, cache=cache) as ph:
        await ph.dashboards.get(412)
        await ph.dashboards.get(415)
        await ph.dashboards.get(412)  # 412 is now the most recently used
        await ph.dashboards.get(388)  # evicts 415
        assert cache.stats.evictions == 1
        assert len(cache) == 2
        await ph.dashboards.get(412)
        await ph.dashboards.get(388)
        assert gets(server, DETAIL.format(412)) == 1
        assert gets(server, DETAIL.format(388)) == 1
        await ph.dashboards.get(415)
        assert gets(server, DETAIL.format(415)) == 2


async def test_a_write_invalidates_the_dashboard_and_the_list_pages_only() -> None:
    cache = pda.Cache(ttl=60.0)
    async with FakePostHog() as server, connect(server, cache=cache) as ph:
        await ph.dashboards.get(412)
        await ph.dashboards.get(415)
        await ph.dashboards.list(limit=5)
        await ph.dashboards.sharing.get(412)
        await ph.dashboards.update(412, name="Renamed")
        assert (await ph.dashboards.get(412)).name == "Renamed"
        listed = await ph.dashboards.list(limit=5)
        assert "Renamed" in [d.name for d in listed.results]
        await ph.dashboards.sharing.get(412)
        await ph.dashboards.get(415)
        assert gets(server, DETAIL.format(412)) == 2
        assert gets(server, LIST) == 2
        assert gets(server, DETAIL.format(412) + "sharing/") == 2
        assert gets(server, DETAIL.format(415)) == 1  # another dashboard: still cached


async def test_a_write_elsewhere_in_the_project_drops_the_whole_project() -> None:
    cache = pda.Cache(ttl=60.0)
    server_options = {"allow_pak_on_unscoped_actions": True}
    async with FakePostHog(**server_options) as server, connect(server, cache=cache) as ph:
        await ph.dashboards.get(412)
        await ph.dashboards.get(388)
        # move_tile names its target in the body: both dashboards change.
        source = await ph.dashboards.get(412)
        await ph.dashboards.move_tile(412, source.tiles[0].id, 388)
        target = await ph.dashboards.get(388)
        assert source.tiles[0].id in [t.id for t in target.tiles]
        assert gets(server, DETAIL.format(388)) == 2


async def test_a_failed_write_still_invalidates() -> None:
    cache = pda.Cache(ttl=60.0)
    async with FakePostHog() as server, connect(server, cache=cache, max_retries=0) as ph:
        await ph.dashboards.get(412)
        server.fail_next(status=500, method="PATCH")
        with pytest.raises(pda.ServerError):
            await ph.dashboards.update(412, name="Maybe")
        await ph.dashboards.get(412)
        assert gets(server, DETAIL.format(412)) == 2


async def test_an_answer_from_before_a_write_is_not_stored() -> None:
    cache = pda.Cache(ttl=60.0)
    async with FakePostHog() as server, connect(server, cache=cache) as ph:
        server.set_delay(lambda r: 0.3 if r.method == "GET" else 0.0)
        early = asyncio.create_task(ph.dashboards.get(412))
        for _ in range(500):
            if server.requests:
                break
            await asyncio.sleep(0.01)
        await ph.dashboards.update(412, name="Renamed")
        await early
        # The answer to the request sent before the write was not kept: this one asks again.
        server.set_delay(None)
        assert (await ph.dashboards.get(412)).name == "Renamed"
        assert gets(server, DETAIL.format(412)) == 2


async def test_errors_are_not_cached() -> None:
    cache = pda.Cache(ttl=60.0)
    async with FakePostHog() as server, connect(server, cache=cache) as ph:
        for _ in range(2):
            with pytest.raises(pda.NotFoundError):
                await ph.dashboards.get(999_999)
        assert gets(server, DETAIL.format(999_999)) == 2
        assert len(cache) == 0


async def test_one_cache_for_two_keys_keeps_their_answers_apart() -> None:
    cache = pda.Cache(ttl=60.0)
    async with FakePostHog() as server:
        other_key = server.add_key()
        async with (
            connect(server, cache=cache) as first,
            connect(server, cache=cache, api_key=other_key) as second,
        ):
            await first.dashboards.get(412)
            await second.dashboards.get(412)
            await first.dashboards.get(412)
            await second.dashboards.get(412)
        assert gets(server, DETAIL.format(412)) == 2
        assert cache.stats.hits == 2
        keys = {r.headers.get("Authorization") for r in server.requests}
        assert len(keys) == 2


async def test_the_cache_works_without_coalescing() -> None:
    cache = pda.Cache(ttl=60.0)
    async with FakePostHog() as server, connect(server, cache=cache, coalesce=False) as ph:
        await ph.dashboards.get(412)
        await ph.dashboards.get(412)
        assert gets(server, DETAIL.format(412)) == 1


def test_clear_drops_entries_and_counters() -> None:
    cache = pda.Cache(ttl=1.0, max_entries=1)
    key = ("k", "http://h/api/projects/1/dashboards/1/", ())
    cache.store(key, 200, {}, b"{}", cache.generation)
    assert cache.lookup(key) is not None
    cache.clear()
    assert len(cache) == 0
    assert cache.stats == pda.CacheStats()
    assert repr(cache) == "Cache(ttl=1.0, max_entries=1)"


@pytest.mark.parametrize(
    ("url", "changed", "kept"),
    [
        (
            "http://h/api/projects/42/dashboards/12/",
            [
                "http://h/api/projects/42/dashboards/12/",
                "http://h/api/projects/@current/dashboards/12/sharing/",
                "http://h/api/environments/42/dashboards/",
            ],
            ["http://h/api/projects/42/dashboards/13/", "http://h/api/projects/42/insights/1/"],
        ),
        (
            "http://h/api/projects/42/insights/7/",
            [
                "http://h/api/projects/42/dashboards/12/",
                "http://h/api/projects/42/insights/",
            ],
            ["http://other/api/projects/42/dashboards/12/", "http://h/api/users/@me/"],
        ),
        (
            "http://h/api/users/@me/",
            ["http://h/api/projects/42/dashboards/12/", "http://h/api/users/@me/"],
            ["http://other/api/users/@me/"],
        ),
    ],
)
def test_what_a_write_may_change(url: str, changed: list[str], kept: list[str]) -> None:
    hit = affected(url)
    assert [u for u in changed if not hit(u)] == []
    assert [u for u in kept if hit(u)] == []


@pytest.mark.parametrize(
    "options",
    [{"ttl": 0}, {"ttl": -1}, {"ttl": float("inf")}, {"ttl": "5"}, {"ttl": True}],
)
def test_bad_ttl_is_refused(options: dict[str, object]) -> None:
    with pytest.raises(pda.InvalidArgumentError, match="ttl"):
        pda.Cache(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "10"])
def test_bad_max_entries_is_refused(bad: object) -> None:
    with pytest.raises(pda.InvalidArgumentError, match="max_entries"):
        pda.Cache(max_entries=bad)  # type: ignore[arg-type]


def test_cache_must_be_a_cache() -> None:
    with pytest.raises(pda.InvalidArgumentError, match="cache"):
        pda.AsyncPostHog(api_key="phx_x", cache={"ttl": 5})  # type: ignore[arg-type]

"""``ph.dashboards.templates`` and the share-link passwords of ``ph.dashboards.sharing``:
the exact requests sent (aioresponses), the typed answers, the plaintext password kept out
of ``repr``, and arguments refused before anything is sent."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from aioresponses import aioresponses
from conftest import API_KEY, CannedResponse

import posthog_dash_async as pda

HOST = "https://us.posthog.com"
PROJECT = f"{HOST}/api/projects/42/"
CANNED: dict[str, Any] = {"response_class": CannedResponse}
TEMPLATE_ID = "0190f3c2-1d2e-7f00-9a4b-3c5d6e7f8a9b"
PASSWORD = "correct-horse-battery"


def template(**extra: Any) -> dict[str, Any]:
    return {
        "id": TEMPLATE_ID,
        "template_name": "Product analytics",
        "dashboard_description": "The usual suspects",
        "dashboard_filters": {},
        "tags": ["official"],
        "tiles": [{"type": "TEXT", "body": "# Hi", "layouts": {}}],
        "variables": [],
        "deleted": None,
        "created_at": "2025-04-01T10:00:00Z",
        "created_by": None,
        "image_url": "https://example.com/t.png",
        "team_id": None,
        "scope": "global",
        "availability_contexts": ["general"],
        "is_featured": True,
        **extra,
    }


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def ph() -> AsyncIterator[pda.AsyncPostHog]:
    async with pda.AsyncPostHog(
        api_key=API_KEY, host=HOST, project_id=42, rate_limit=None, max_retries=0
    ) as client:
        yield client


def calls(mocked: aioresponses) -> list[tuple[str, str, bytes | None]]:
    return [
        (method, str(url), c.kwargs.get("data"))
        for (method, url), cs in mocked.requests.items()
        for c in cs
    ]


# --- templates --------------------------------------------------------------------------


async def test_templates_list_sends_filters_and_decodes_the_page(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    # aioresponses records the query with its keys sorted.
    url = (
        f"{PROJECT}dashboard_templates/?is_featured=true&limit=5&offset=5"
        "&ordering=-created_at&scope=global&search=product"
    )
    mocked.get(url, payload={"count": 1, "next": None, "results": [template()]}, **CANNED)
    mocked.get(f"{PROJECT}dashboard_templates/", payload={"count": 0, "results": []}, **CANNED)
    page = await ph.dashboards.templates.list(
        search="product",
        scope="global",
        is_featured=True,
        ordering="-created_at",
        limit=5,
        offset=5,
    )
    empty = await ph.dashboards.templates.list()
    assert [(m, u) for m, u, _ in calls(mocked)] == [
        ("GET", url),
        ("GET", f"{PROJECT}dashboard_templates/"),
    ]
    assert type(page) is pda.Page
    (item,) = page.results
    assert type(item) is pda.DashboardTemplate
    assert item.template_name == "Product analytics"
    assert item.is_featured is True
    assert item.tiles == [{"type": "TEXT", "body": "# Hi", "layouts": {}}]
    assert empty.count == 0


async def test_templates_list_accepts_a_plain_array(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    mocked.get(f"{PROJECT}dashboard_templates/", payload=[template(), template()], **CANNED)
    page = await ph.dashboards.templates.list()
    assert page.count == 2
    assert len(page.results) == 2


async def test_templates_get_by_uuid(mocked: aioresponses, ph: pda.AsyncPostHog) -> None:
    mocked.get(f"{PROJECT}dashboard_templates/{TEMPLATE_ID}/", payload=template(), **CANNED)
    got = await ph.dashboards.templates.get(TEMPLATE_ID.upper())
    assert got.id == TEMPLATE_ID
    assert calls(mocked) == [("GET", f"{PROJECT}dashboard_templates/{TEMPLATE_ID}/", None)]


# --- share passwords ----------------------------------------------------------------------


def created_password() -> dict[str, Any]:
    return {
        "id": 31,
        "password": PASSWORD,
        "note": "for the board",
        "created_at": "2026-02-03T04:05:06Z",
        "created_by_email": "ada@example.com",
    }


async def test_add_password_sends_note_and_keeps_the_plaintext_out_of_repr(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    url = f"{PROJECT}dashboards/12/sharing/passwords/"
    mocked.post(url, status=201, payload=created_password(), **CANNED)
    mocked.post(url, status=201, payload=created_password(), **CANNED)
    mocked.post(url, status=201, payload=created_password(), **CANNED)
    made = await ph.dashboards.sharing.add_password(12, note="for the board")
    await ph.dashboards.sharing.add_password(12)
    await ph.dashboards.sharing.add_password(12, password=PASSWORD)
    assert calls(mocked) == [
        ("POST", url, b'{"note":"for the board"}'),
        ("POST", url, b"{}"),
        ("POST", url, b'{"raw_password":"%s"}' % PASSWORD.encode()),
    ]
    assert type(made) is pda.NewSharePassword
    assert isinstance(made, pda.SharePassword)
    assert made.password == PASSWORD
    assert made.id == 31
    assert made.created_by_email == "ada@example.com"
    assert PASSWORD not in repr(made)
    assert PASSWORD not in str(made)


async def test_add_password_without_password_protection_is_the_servers_400(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    message = "Password protection must be enabled before creating passwords"
    mocked.post(
        f"{PROJECT}dashboards/12/sharing/passwords/",
        status=400,
        payload={"error": message},
        **CANNED,
    )
    with pytest.raises(pda.BadRequestError) as info:
        await ph.dashboards.sharing.add_password(12)
    assert info.value.detail == message


async def test_remove_password_deletes_by_id(mocked: aioresponses, ph: pda.AsyncPostHog) -> None:
    mocked.delete(f"{PROJECT}dashboards/12/sharing/passwords/31/", status=204, **CANNED)
    mocked.delete(f"{PROJECT}dashboards/12/sharing/passwords/pw_a1-B2/", status=204, **CANNED)
    assert await ph.dashboards.sharing.remove_password(12, 31) is None
    assert await ph.dashboards.sharing.remove_password(12, "pw_a1-B2") is None
    assert [(m, u) for m, u, _ in calls(mocked)] == [
        ("DELETE", f"{PROJECT}dashboards/12/sharing/passwords/31/"),
        ("DELETE", f"{PROJECT}dashboards/12/sharing/passwords/pw_a1-B2/"),
    ]


# --- 402 --------------------------------------------------------------------------------


LIMIT_BODY = {
    "type": "limit_exceeded",
    "code": "limit_exceeded",
    "detail": "Resource limit exceeded.",
    "attr": None,
    "extra": {
        "limit_key": "analytics.max_dashboards_per_team",
        "limit": 500,
        "current": 500,
        "request": {"id": "req-1"},
    },
}


async def test_402_is_limit_exceeded_with_the_limit_data(
    mocked: aioresponses, ph: pda.AsyncPostHog
) -> None:
    mocked.post(f"{PROJECT}dashboards/", status=402, payload=LIMIT_BODY, **CANNED)
    with pytest.raises(pda.LimitExceededError) as info:
        await ph.dashboards.create(name="one too many")
    error = info.value
    assert isinstance(error, pda.APIStatusError)
    assert error.status == 402
    assert error.code == "limit_exceeded"
    assert error.limit == LIMIT_BODY["extra"]
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is pda.LimitExceededError
    assert again.limit == LIMIT_BODY["extra"]


async def test_402_without_extra_has_no_limit(mocked: aioresponses, ph: pda.AsyncPostHog) -> None:
    mocked.post(f"{PROJECT}dashboards/", status=402, body=b"Payment Required", **CANNED)
    with pytest.raises(pda.LimitExceededError) as info:
        await ph.dashboards.create(name="x")
    assert info.value.limit is None


# --- nothing is sent on bad input --------------------------------------------------------

Call = Callable[[pda.AsyncPostHog], Awaitable[Any]]

BAD_CALLS: dict[str, Call] = {
    "templates.get: not a uuid": lambda ph: ph.dashboards.templates.get("../x"),
    "templates.get: int": lambda ph: ph.dashboards.templates.get(5),
    "templates.list: bad scope": lambda ph: ph.dashboards.templates.list(scope="org"),  # type: ignore[arg-type]
    "templates.list: bad ordering": lambda ph: ph.dashboards.templates.list(ordering="name"),
    "templates.list: featured not bool": lambda ph: ph.dashboards.templates.list(is_featured=1),  # type: ignore[arg-type]
    "templates.list: bad limit": lambda ph: ph.dashboards.templates.list(limit=0),
    "add_password: bad dashboard": lambda ph: ph.dashboards.sharing.add_password(0),
    "add_password: long note": lambda ph: ph.dashboards.sharing.add_password(1, note="n" * 101),
    "add_password: note not str": lambda ph: ph.dashboards.sharing.add_password(1, note=5),  # type: ignore[arg-type]
    "add_password: short password": lambda ph: ph.dashboards.sharing.add_password(
        1, password="short"
    ),
    "remove_password: path trick": lambda ph: ph.dashboards.sharing.remove_password(1, "../2"),
    "remove_password: bool": lambda ph: ph.dashboards.sharing.remove_password(1, True),
    "remove_password: zero": lambda ph: ph.dashboards.sharing.remove_password(1, 0),
    "remove_password: empty": lambda ph: ph.dashboards.sharing.remove_password(1, ""),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
async def test_bad_arguments_send_nothing(
    mocked: aioresponses, ph: pda.AsyncPostHog, call: Call
) -> None:
    with pytest.raises(pda.InvalidArgumentError):
        await call(ph)
    assert calls(mocked) == []

"""Configuration: resolution order, host and project checks, Timeout and RateLimit values."""

from __future__ import annotations

import math
import pickle

import pytest

import posthog_dash_async as pda
from posthog_dash_async._config import (
    DEFAULT_HOST,
    Secret,
    normalize_host,
    normalize_project_id,
    resolve_settings,
)
from posthog_dash_async.errors import InvalidArgumentError

KEY = "phx_ConfigTestKey0123456789"


def resolve(environ: dict[str, str] | None = None, **kwargs: object) -> object:
    args: dict[str, object] = {"api_key": None, "host": None, "project_id": None}
    args.update(kwargs)
    return resolve_settings(environ={} if environ is None else environ, **args)  # type: ignore[arg-type]


# --- resolution order -------------------------------------------------------------------


def test_defaults_without_arguments_or_environment() -> None:
    settings = resolve_settings(api_key=None, host=None, project_id=None, environ={})
    assert settings.api_key is None
    assert settings.host == "https://us.posthog.com"
    assert settings.host == DEFAULT_HOST
    assert settings.project_id == "@current"
    assert settings.project_base == "https://us.posthog.com/api/projects/@current/"


def test_environment_beats_defaults() -> None:
    env = {
        "POSTHOG_PERSONAL_API_KEY": KEY,
        "POSTHOG_HOST": "https://eu.posthog.com",
        "POSTHOG_PROJECT_ID": "7",
    }
    settings = resolve_settings(api_key=None, host=None, project_id=None, environ=env)
    assert settings.api_key is not None
    assert settings.api_key.get() == KEY
    assert settings.host == "https://eu.posthog.com"
    assert settings.project_id == "7"


def test_arguments_beat_environment() -> None:
    env = {
        "POSTHOG_PERSONAL_API_KEY": "phx_FromEnvironment000",
        "POSTHOG_HOST": "https://eu.posthog.com",
        "POSTHOG_PROJECT_ID": "7",
    }
    settings = resolve_settings(
        api_key=KEY, host="https://posthog.example.com", project_id=99, environ=env
    )
    assert settings.api_key is not None
    assert settings.api_key.get() == KEY
    assert settings.host == "https://posthog.example.com"
    assert settings.project_id == "99"


@pytest.mark.parametrize("which", ["api_key", "host", "project_id"])
def test_each_value_resolves_independently(which: str) -> None:
    env = {
        "POSTHOG_PERSONAL_API_KEY": "phx_FromEnvironment000",
        "POSTHOG_HOST": "https://eu.posthog.com",
        "POSTHOG_PROJECT_ID": "7",
    }
    given = {"api_key": KEY, "host": "https://h.example.com", "project_id": 5}
    args: dict[str, object] = {"api_key": None, "host": None, "project_id": None}
    args[which] = given[which]
    settings = resolve_settings(environ=env, **args)  # type: ignore[arg-type]
    key = settings.api_key.get() if settings.api_key else None
    assert key == (KEY if which == "api_key" else "phx_FromEnvironment000")
    assert settings.host == ("https://h.example.com" if which == "host" else env["POSTHOG_HOST"])
    assert settings.project_id == ("5" if which == "project_id" else "7")


def test_empty_environment_values_count_as_unset() -> None:
    env = {"POSTHOG_PERSONAL_API_KEY": "", "POSTHOG_HOST": "", "POSTHOG_PROJECT_ID": ""}
    settings = resolve_settings(api_key=None, host=None, project_id=None, environ=env)
    assert settings.api_key is None
    assert settings.host == DEFAULT_HOST
    assert settings.project_id == "@current"


def test_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTHOG_PERSONAL_API_KEY", KEY)
    monkeypatch.setenv("POSTHOG_HOST", "http://localhost:8000")
    monkeypatch.setenv("POSTHOG_PROJECT_ID", "@current")
    settings = resolve_settings(api_key=None, host=None, project_id=None)
    assert settings.api_key is not None
    assert settings.api_key.get() == KEY
    assert settings.host == "http://localhost:8000"
    assert settings.project_id == "@current"


def test_client_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTHOG_HOST", "https://eu.posthog.com")
    monkeypatch.setenv("POSTHOG_PROJECT_ID", "1234")
    client = pda.AsyncPostHog(rate_limit=None)
    assert client.host == "https://eu.posthog.com"
    assert client.project_id == "1234"
    client_arg = pda.AsyncPostHog(host="https://us.posthog.com", project_id=5, rate_limit=None)
    assert client_arg.host == "https://us.posthog.com"
    assert client_arg.project_id == "5"


def test_invalid_environment_value_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        resolve({"POSTHOG_PROJECT_ID": "abc"})
    with pytest.raises(InvalidArgumentError):
        resolve({"POSTHOG_HOST": "http://posthog.example.com"})


# --- API key ----------------------------------------------------------------------------


def test_api_key_is_stripped() -> None:
    settings = resolve_settings(api_key=f"  {KEY}\n", host=None, project_id=None, environ={})
    assert settings.api_key is not None
    assert settings.api_key.get() == KEY


@pytest.mark.parametrize("bad", ["", "   ", "phx_abc def", "phx_abc\tdef"])
def test_bad_api_key_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        resolve_settings(api_key=bad, host=None, project_id=None, environ={})
    if bad.strip():
        assert bad.strip() not in str(info.value)


def test_non_string_api_key_is_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        resolve_settings(api_key=12345, host=None, project_id=None, environ={})  # type: ignore[arg-type]


def test_secret_hides_itself_and_refuses_pickle() -> None:
    secret = Secret(KEY)
    assert KEY not in repr(secret)
    assert KEY not in str(secret)
    assert KEY not in f"{secret}"
    assert secret.get() == KEY
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    settings = resolve_settings(api_key=KEY, host=None, project_id=None, environ={})
    assert KEY not in repr(settings)
    with pytest.raises(TypeError):
        pickle.dumps(settings)


# --- host -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://us.posthog.com", "https://us.posthog.com"),
        ("https://us.posthog.com/", "https://us.posthog.com"),
        ("  https://eu.posthog.com  ", "https://eu.posthog.com"),
        ("us.posthog.com", "https://us.posthog.com"),
        ("HTTPS://US.PostHog.com", "https://us.posthog.com"),
        ("https://posthog.example.com:8443", "https://posthog.example.com:8443"),
        ("http://localhost", "http://localhost"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://LOCALHOST:8000/", "http://localhost:8000"),
        ("http://127.0.0.1:8010", "http://127.0.0.1:8010"),
        ("http://127.3.4.5", "http://127.3.4.5"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://[::1]", "https://[::1]"),
        ("https://10.0.0.8", "https://10.0.0.8"),
    ],
)
def test_host_is_normalized(given: str, expected: str) -> None:
    assert normalize_host(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "http://us.posthog.com",
        "http://posthog.example.com:8000",
        "http://10.0.0.8",
        "http://0.0.0.0:8000",
        "http://localhost.example.com",
        "http://127.0.0.1.example.com",
        "http://[::2]",
        "ftp://us.posthog.com",
        "ws://localhost",
    ],
)
def test_plain_http_is_refused_except_on_loopback(bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="https"):
        normalize_host(bad)


@pytest.mark.parametrize(
    ("ingestion", "app"),
    [
        ("us.i.posthog.com", "https://us.posthog.com"),
        ("https://us.i.posthog.com", "https://us.posthog.com"),
        ("https://eu.i.posthog.com/", "https://eu.posthog.com"),
        ("https://US.I.POSTHOG.COM", "https://us.posthog.com"),
    ],
)
def test_ingestion_host_is_refused_naming_the_app_host(ingestion: str, app: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        normalize_host(ingestion)
    message = str(info.value)
    assert app in message
    assert "ingestion" in message


@pytest.mark.parametrize(
    "bad",
    [
        "https://us.posthog.com/api",
        "https://us.posthog.com/api/projects/42/",
        "https://us.posthog.com?x=1",
        "https://us.posthog.com/#frag",
    ],
)
def test_host_with_path_query_or_fragment_is_refused(bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="path"):
        normalize_host(bad)


@pytest.mark.parametrize(
    "bad",
    [
        "https://user:hunter2secret@us.posthog.com",
        "https://phx_SecretInHost12345@us.posthog.com",
        "https://user@us.posthog.com",
    ],
)
def test_host_with_credentials_is_refused_without_echoing_them(bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="credentials") as info:
        normalize_host(bad)
    assert "hunter2secret" not in str(info.value)
    assert "phx_SecretInHost12345" not in str(info.value)


@pytest.mark.parametrize(
    "bad", ["", "   ", "https://", "https://:443", "https://h.example.com:99999"]
)
def test_malformed_host_is_refused(bad: str) -> None:
    with pytest.raises(InvalidArgumentError):
        normalize_host(bad)


@pytest.mark.parametrize("bad", [None, 42, b"https://us.posthog.com"])
def test_non_string_host_is_refused(bad: object) -> None:
    with pytest.raises(InvalidArgumentError):
        normalize_host(bad)  # type: ignore[arg-type]


def test_client_refuses_bad_host_at_construction() -> None:
    with pytest.raises(InvalidArgumentError, match=r"https://us\.posthog\.com"):
        pda.AsyncPostHog(host="https://us.i.posthog.com", rate_limit=None)
    with pytest.raises(InvalidArgumentError):
        pda.AsyncPostHog(host="http://posthog.example.com", rate_limit=None)


# --- project id -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [(42, "42"), ("42", "42"), (" 42 ", "42"), ("0042", "42"), ("@current", "@current")],
)
def test_project_id_is_normalized(given: int | str, expected: str) -> None:
    assert normalize_project_id(given) == expected


@pytest.mark.parametrize(
    "bad", [0, -1, True, False, "0", "-3", "abc", "1.5", "", "@Current", "٣", 4.0, None, "4 2"]
)
def test_bad_project_id_is_refused(bad: object) -> None:
    with pytest.raises(InvalidArgumentError):
        normalize_project_id(bad)  # type: ignore[arg-type]


def test_client_refuses_bad_project_id() -> None:
    with pytest.raises(InvalidArgumentError):
        pda.AsyncPostHog(project_id=0, rate_limit=None)
    with pytest.raises(InvalidArgumentError):
        pda.AsyncPostHog(project_id=True, rate_limit=None)


# --- Timeout ----------------------------------------------------------------------------


def test_timeout_defaults() -> None:
    timeout = pda.Timeout()
    assert (timeout.connect, timeout.read, timeout.total, timeout.stream_idle) == (
        10.0,
        60.0,
        None,
        300.0,
    )


def test_timeout_accepts_none_and_numbers() -> None:
    timeout = pda.Timeout(connect=1, read=None, total=2.5, stream_idle=None)
    assert timeout.connect == 1
    assert timeout.read is None
    assert timeout.total == 2.5
    assert timeout.stream_idle is None


@pytest.mark.parametrize("field", ["connect", "read", "total", "stream_idle"])
@pytest.mark.parametrize("bad", [0, -1, -0.5, math.inf, math.nan, True, "5", [5]])
def test_timeout_refuses_bad_values(field: str, bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match=field):
        pda.Timeout(**{field: bad})  # type: ignore[arg-type]


def test_timeout_is_frozen() -> None:
    timeout = pda.Timeout()
    with pytest.raises(AttributeError):
        timeout.read = 5  # type: ignore[misc]


def test_timeout_coerce() -> None:
    given = pda.Timeout(connect=3)
    assert pda.Timeout.coerce(given) is given
    assert pda.Timeout.coerce(None) == pda.Timeout()
    assert pda.Timeout.coerce(7) == pda.Timeout(connect=7, read=7, total=7, stream_idle=7)
    assert pda.Timeout.coerce(0.25).total == 0.25
    for bad in (0, -1, True, "5", math.nan):
        with pytest.raises(InvalidArgumentError):
            pda.Timeout.coerce(bad)  # type: ignore[arg-type]


def test_client_timeout_argument() -> None:
    assert pda.AsyncPostHog(rate_limit=None).timeout == pda.Timeout()
    assert pda.AsyncPostHog(timeout=5, rate_limit=None).timeout.read == 5
    with pytest.raises(InvalidArgumentError):
        pda.AsyncPostHog(timeout=-1, rate_limit=None)


# --- RateLimit --------------------------------------------------------------------------


def test_rate_limit_defaults_mirror_posthog() -> None:
    limit = pda.RateLimit()
    assert (limit.per_minute, limit.per_hour) == (480, 4800)
    assert limit.windows() == [(60.0, 480), (3600.0, 4800)]


def test_rate_limit_windows_can_be_switched_off() -> None:
    assert pda.RateLimit(per_minute=None).windows() == [(3600.0, 4800)]
    assert pda.RateLimit(per_hour=None, per_minute=10).windows() == [(60.0, 10)]
    assert pda.RateLimit(per_minute=None, per_hour=None).windows() == []


@pytest.mark.parametrize("field", ["per_minute", "per_hour"])
@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "10"])
def test_rate_limit_refuses_bad_values(field: str, bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match=field):
        pda.RateLimit(**{field: bad})  # type: ignore[arg-type]


def test_client_rate_limit_argument() -> None:
    assert pda.AsyncPostHog().rate_limit == pda.RateLimit()
    assert pda.AsyncPostHog(rate_limit=None).rate_limit is None
    with pytest.raises(InvalidArgumentError):
        pda.AsyncPostHog(rate_limit=480)  # type: ignore[arg-type]


# --- other constructor arguments --------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"max_concurrency": 0},
        {"max_concurrency": -1},
        {"max_concurrency": True},
        {"max_concurrency": "8"},
        {"max_concurrency": 2.0},
        {"max_retries": -1},
        {"max_retries": True},
        {"max_retries": 1.0},
        {"max_event_bytes": 10},
        {"max_event_bytes": True},
        {"max_retry_wait": -1},
        {"max_retry_wait": math.nan},
        {"session": "not a session"},
    ],
)
def test_client_refuses_bad_options(options: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError):
        pda.AsyncPostHog(api_key=KEY, rate_limit=None, **options)  # type: ignore[arg-type]

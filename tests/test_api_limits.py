"""What an API error or a rate-limit header means for the drains (unit level).

The errors are built by the SDK's own parser (``anthropic._error_classes.make_status_error``,
what the client raises for a response) from the bodies the errors page documents; the
end-to-end tests send the same bodies over HTTP from ``tests/fake_anthropic.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic._error_classes import make_status_error

from drain_ls.backends.base import BackendError, RateLimits
from drain_ls.backends.errors import classify
from drain_ls.budget import Price, Usage, cost_usd, worst_case


def sdk_error(
    status: int,
    error_type: str,
    code: str | None = None,
    message: str = "an error",
    headers: dict[str, str] | None = None,
    path: str = "/v1/messages",
) -> anthropic.APIStatusError:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if code is not None:
        error["details"] = {"error_code": code}
    body = {"type": "error", "error": error, "request_id": "req_1"}
    request = httpx2.Request("POST", f"https://api.example{path}")
    response = httpx2.Response(status, request=request, json=body, headers=headers or {})
    return make_status_error("error", body=body, response=response)


@pytest.mark.parametrize(
    ("status", "error_type", "code", "message", "kind", "sdk_class"),
    [
        (
            429,
            "rate_limit_error",
            "enforced_spend_limit_reached",
            "API-WORDS",
            "spend_limit",
            anthropic.EnforcedSpendLimitReachedError,
        ),
        (
            429,
            "rate_limit_error",
            "contract_spend_limit_reached",
            "API-WORDS",
            "spend_limit",
            anthropic.ContractSpendLimitReachedError,
        ),
        # The words of the message no longer decide anything: a plain 429 is a rate limit,
        # whatever it says; a coded one is a spend limit, whatever it says.
        (
            429,
            "rate_limit_error",
            None,
            "You have reached your specified API usage limits.",
            "rate_limited",
            anthropic.RateLimitError,
        ),
        (
            429,
            "rate_limit_error",
            "ramp_limit_exceeded",
            "API-WORDS",
            "rate_limited",
            anthropic.RampLimitExceededError,
        ),
        (402, "billing_error", None, "API-WORDS", "billing", anthropic.PaymentRequiredError),
        (
            402,
            "billing_error",
            "linked_organization_spend_limit_reached",
            "API-WORDS",
            "billing",
            anthropic.LinkedOrganizationSpendLimitReachedError,
        ),
        (
            400,
            "invalid_request_error",
            None,
            "You have reached your specified workspace API usage limits. You will regain access "
            "on 2027-01-01 at 00:00 UTC.",
            "spend_limit",
            anthropic.BadRequestError,
        ),
        (
            400,
            "invalid_request_error",
            None,
            "max_tokens: too large",
            "request",
            anthropic.BadRequestError,
        ),
        (
            400,
            "invalid_request_error",
            "organization_on_hold",
            "API-WORDS",
            "auth",
            anthropic.OrganizationOnHoldError,
        ),
        (404, "not_found_error", None, "model: claude-x", "model", anthropic.NotFoundError),
        (413, "request_too_large", None, "API-WORDS", "too_large", anthropic.ContentTooLargeError),
        (529, "overloaded_error", None, "API-WORDS", "overloaded", anthropic.OverloadedError),
        (500, "api_error", None, "API-WORDS", "server", anthropic.InternalServerError),
        (401, "authentication_error", None, "API-WORDS", "auth", anthropic.AuthenticationError),
    ],
)
def test_errors_are_classified_by_status_type_and_code(
    status: int,
    error_type: str,
    code: str | None,
    message: str,
    kind: str,
    sdk_class: type[Exception],
) -> None:
    exc = sdk_error(status, error_type, code, message)
    assert type(exc) is sdk_class  # the SDK's own reading of the body
    error = classify(exc, Usage(input_tokens=3))
    assert error.kind == kind
    assert error.status == status and error.error_type == error_type
    assert error.error_code == code
    assert error.usage == Usage(input_tokens=3)
    assert message not in str(error)  # the API's words are never kept (they may quote code)
    if kind in ("spend_limit", "billing", "model", "auth"):
        assert kind in BackendError.STOPPING


def test_a_404_on_a_batch_route_is_the_batch_not_the_model() -> None:
    exc = sdk_error(404, "not_found_error", path="/v1/messages/batches/msgbatch_1/results")
    assert classify(exc, route="batch").kind == "request"
    assert classify(exc).kind == "model"


@pytest.mark.parametrize("value", ["7", "0", "nan", "-3", "soon", None])
def test_retry_after_is_a_finite_wait_or_nothing(value: str | None) -> None:
    headers = {"retry-after": value} if value is not None else {}
    error = classify(sdk_error(429, "rate_limit_error", headers=headers))
    expected = {"7": 7.0, "0": 0.0}.get(value or "")
    assert error.retry_after == expected


def at(now: datetime) -> RateLimits:
    limits = RateLimits(now=lambda: now)
    return limits


def test_headroom_recovers_when_the_reset_time_passes_without_a_new_response() -> None:
    now = datetime(2026, 12, 6, 13, 0, 0, tzinfo=UTC)
    clock = [now]
    limits = RateLimits(now=lambda: clock[0])
    reset = now + timedelta(seconds=40)
    limits.values.update(
        {
            "tokens-limit": "50000",
            "tokens-remaining": "10000",
            "tokens-reset": reset.isoformat().replace("+00:00", "Z"),
            "requests-limit": "50",
            "requests-remaining": "49",
            "requests-reset": (now + timedelta(seconds=1)).isoformat().replace("+00:00", "Z"),
        }
    )
    assert limits.remaining_share("tokens") == pytest.approx(0.2)
    held = limits.holding_back(0.5)
    assert held is not None
    assert held[0] == pytest.approx(40.0) and held[1] == reset
    clock[0] = reset + timedelta(milliseconds=1)  # no response came in between
    assert limits.remaining_share("tokens") == 1.0
    assert limits.holding_back(0.5) is None


def test_the_hold_back_waits_for_the_latest_low_window() -> None:
    now = datetime(2026, 12, 6, 13, 0, 0, tzinfo=UTC)
    limits = at(now)
    for kind, seconds in (("input-tokens", 5), ("output-tokens", 50)):
        limits.values[f"{kind}-limit"] = "100"
        limits.values[f"{kind}-remaining"] = "1"
        limits.values[f"{kind}-reset"] = (now + timedelta(seconds=seconds)).isoformat()
    held = limits.holding_back(0.5)
    assert held is not None and held[0] == pytest.approx(50.0)


def test_values_of_unknown_age_without_a_reset_time_hold_nothing_back() -> None:
    limits = at(datetime(2026, 12, 6, tzinfo=UTC))
    limits.values.update({"tokens-limit": "100", "tokens-remaining": "10"})
    assert limits.remaining_share("tokens") == pytest.approx(0.1)
    assert limits.holding_back(0.5) is None  # else it could hold back for good
    limits.values.update({"tokens-limit": "nan", "tokens-reset": "2030-01-01T00:00:00Z"})
    assert limits.holding_back(0.5) is None  # not a number: not a reason to stop


def test_long_context_prices_apply_above_their_threshold() -> None:
    price = Price(0.10, 0.50, long_above=100_000, long_input=0.20, long_output=0.75)
    small = Usage(input_tokens=1_000, output_tokens=1_000)
    assert cost_usd(small, price) == pytest.approx((1_000 * 0.10 + 1_000 * 0.50) / 1e6)
    big = Usage(input_tokens=90_000, cache_read_tokens=20_000, output_tokens=1_000)
    assert cost_usd(big, price) == pytest.approx(
        (90_000 * 0.20 + 20_000 * 0.02 + 1_000 * 0.75) / 1e6
    )
    # A reservation prices its worst case the same way: the 1-hour write at the long rate.
    tokens, usd = worst_case(150_000, 1_000, price)
    assert tokens == 151_000
    assert usd == pytest.approx((150_000 * 0.40 + 1_000 * 0.75) / 1e6)
    assert cost_usd(small, price, batch=True) == pytest.approx(cost_usd(small, price) / 2)


@pytest.mark.parametrize("reset", [None, "Sun, 06 Dec 2026 13:01:00 GMT", "30"])
def test_a_low_window_with_no_readable_reset_is_stale_after_a_minute(reset: str | None) -> None:
    # A proxy that drops the reset header, or a format that is not RFC 3339: the hold-back
    # must still end (nothing is sent while it lasts, so no newer header would come).
    now = datetime(2026, 12, 6, 13, 0, 0, tzinfo=UTC)
    clock = [now]
    limits = RateLimits(now=lambda: clock[0])
    limits.update("tokens-limit", "100")
    limits.update("tokens-remaining", "10")
    if reset is not None:
        limits.update("tokens-reset", reset)
    held = limits.holding_back(0.5)
    assert held is not None and held[0] == pytest.approx(60.0)
    clock[0] = now + timedelta(seconds=61)
    assert limits.holding_back(0.5) is None


def test_a_usage_limit_set_on_the_organisation_stops_like_a_workspace_one() -> None:
    # The two 400s of a limit the user set (the rate-limits page words the workspace one;
    # the organisation's reads the same without "workspace"); neither has an error_code.
    for message in (
        "You have reached your specified API usage limits. You will regain access on "
        "2027-01-01 at 00:00 UTC.",
        "You have reached your specified workspace API usage limits. You will regain access "
        "on 2027-01-01 at 00:00 UTC.",
    ):
        error = classify(sdk_error(400, "invalid_request_error", message=message))
        assert error.kind == "spend_limit" and "usage limit" in str(error)
        assert "2027" not in str(error)


def test_a_price_the_user_gives_keeps_the_catalogues_long_context_terms() -> None:
    from drain_ls.budget import price_of, price_overrides

    overrides = price_overrides({"claude-haiku-5-5": {"input": 0.10, "output": 0.50}})
    price = price_of("claude-haiku-5-5", overrides)
    listed = price_of("claude-haiku-5-5")
    assert price is not None and listed is not None
    assert price.long_above == listed.long_above == 100_000
    _, reserved = worst_case(150_000, 1_000, price)
    billed = cost_usd(Usage(input_tokens=150_000, output_tokens=1_000), listed)
    assert billed <= reserved
    # The user's own base price counts below the threshold (cache prices follow it).
    cheaper = price_of(
        "claude-haiku-5-5", price_overrides({"claude-haiku-5-5": {"input": 0.05, "output": 0.25}})
    )
    assert (
        cheaper is not None and cheaper.input == 0.05 and cheaper.cache_read == pytest.approx(0.005)
    )

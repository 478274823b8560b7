"""Every public service method, every parameter, hostile values: refused before the wire.

The sweep finds the service methods by introspecting the client, so a new method or a new
parameter without a valid baseline here fails the completeness test instead of going
unchecked. Each hostile value replaces one parameter of a valid call; the call must raise
:class:`RequestValidationError` and the mock must have seen no request at all.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from heymarket_async import HeymarketClient, SendMessage
from heymarket_async._protocol import ApiRequest, path
from heymarket_async.errors import HeymarketError, RequestValidationError
from heymarket_async.resources._base import Resource
from heymarket_async.resources.contacts import CreateContact
from heymarket_async.resources.contacts_v2 import ContactChannelInput
from heymarket_async.resources.email import SendEmail
from heymarket_async.resources.schedules import ScheduledContent
from heymarket_async.resources.templates import GalleryContent
from heymarket_async.resources.users import UserUpdate

from ..helpers import MockApi
from ..hostile import Answer, HostileServer

PHONE = "15105553344"
OTHER = "14155550100"
UUID = "6f1c2d3e-0a1b-4c5d-8e9f-001122334455"
HUGE = 10**5000


def _next_slot() -> datetime:
    # Two hours ahead on a 15-minute boundary: valid for any run of the suite.
    now = datetime.now(UTC) + timedelta(hours=2)
    return now.replace(minute=0, second=0, microsecond=0)


SCHEDULE = {
    "inbox_id": 42,
    "execute_at": _next_slot(),
    "content": ScheduledContent(text="Hi"),
    "phone_number": PHONE,
}

# One valid call per public method (parameters not listed keep their defaults).
BASELINES: dict[str, dict[str, Any]] = {
    "contacts.batch_create": {"contacts": [CreateContact(phone=PHONE)], "overwrite": False},
    "contacts.create": {"phone": PHONE},
    "contacts.create_fields": {"titles": ["Color"]},
    "contacts.delete": {"contact_id": 5},
    "contacts.get": {"contact_id": 5},
    "contacts.get_by": {"phone": PHONE},
    "contacts.iter_all": {},
    "contacts.replace": {"contact_id": 5, "phone": PHONE},
    "contacts.resolve_custom_fields": {"values": {"Color": "blue"}},
    "contacts.set_status": {"status": "blocked", "phone": PHONE},
    "contacts.status": {"phone": PHONE},
    "contacts.update": {"contact_id": 5, "first": "Ann"},
    "contacts.v2.add_channel": {"contact_id": UUID, "channel": ContactChannelInput.phone(PHONE)},
    "contacts.v2.bulk_delete": {"contact_ids": [UUID]},
    "contacts.v2.bulk_upsert": {"contacts": [{"contact_id": UUID, "first": "B"}]},
    "contacts.v2.create": {"contact_channels": [ContactChannelInput.phone(PHONE)]},
    "contacts.v2.delete": {"contact_id": UUID},
    "contacts.v2.delete_channel": {"contact_id": UUID, "channel_type": "phone"},
    "contacts.v2.get": {"contact_id": UUID},
    "contacts.v2.get_channel": {"contact_id": UUID, "channel_type": "phone"},
    "contacts.v2.iter_all": {},
    "contacts.v2.list_channels": {"contact_id": UUID},
    "contacts.v2.search": {"phones": [PHONE]},
    "contacts.v2.update": {"contact_id": UUID, "first": "Ann"},
    "contacts.v2.update_channel": {
        "contact_id": UUID,
        "channel": ContactChannelInput.phone(PHONE),
    },
    "conversations.close": {"inbox_id": 42, "user_id": 7, "target": PHONE},
    "conversations.count": {},
    "conversations.get": {"conversation_id": 9},
    "conversations.iter_all": {"user_id": 7, "inboxes": [42]},
    "conversations.open": {"inbox_id": 42, "user_id": 7, "chat_id": 9},
    "conversations.read": {"inbox_id": 42, "user_id": 7, "target": PHONE},
    "conversations.reassign": {"inbox_id": 42, "user_id": 7, "reassign_id": 8, "target": PHONE},
    "conversations.transfer": {"conversation_id": 9, "transfer_inbox_id": 43},
    "conversations.unread": {"inbox_id": 42, "user_id": 7, "target": PHONE},
    "email.send": {"creator_id": 7, "inbox": 9, "text": "Hi", "targets": ["to:a@example.com"]},
    "email.send_request": {
        "send": SendEmail(creator_id=7, inbox=9, text="Hi", targets=["to:a@example.com"])
    },
    "lists.create": {"title": "April", "phones": [PHONE]},
    "lists.delete": {"list_id": 3},
    "lists.update": {"list_id": 3, "add_phones": [PHONE]},
    "messages.count": {},
    "messages.history": {"phone_number": PHONE, "inbox_id": 42},
    "messages.iter_all": {},
    "messages.send": {"inbox_id": 42, "creator_id": 7, "phone_number": PHONE, "text": "Hi"},
    "messages.send_request": {
        "send": SendMessage(inbox_id=42, creator_id=7, phone_number=PHONE, text="Hi")
    },
    "schedules.create": SCHEDULE,
    "schedules.delete": {"schedule_id": 4},
    "schedules.get": {"schedule_id": 4},
    "schedules.update": {"schedule_id": 4, **SCHEDULE},
    "surveys.get": {"survey_id": 2},
    "surveys.iter_all": {},
    "surveys.list": {},
    "tags.create": {"tag": "VIP"},
    "tags.delete": {"tag_id": 6},
    "tags.get": {"tag_id": 6},
    "tags.iter_all": {},
    "templates.create": {"title": "T", "content": GalleryContent(text="Hi")},
    "templates.delete": {"template_id": 8},
    "templates.get": {"template_id": 8},
    "templates.iter_all": {},
    "templates.update": {"template_id": 8, "title": "T", "content": {"text": "Hi"}},
    "users.get": {"phones": [PHONE]},
    "users.update": {"users": [UserUpdate(id=3, role_id=4)]},
}

# Values a kind usually refuses that one parameter documents as valid.
ALLOWED = (("assignee_id", -1),)  # §2.4: -1 clears the assignment
NOT_INPUT = frozenset({"self", "timeout"})  # the timeout is client configuration

# Values no parameter of its kind accepts. None is added for parameters whose default is
# not None (None is "unset" elsewhere).
INTS: list[Any] = [True, False, 0, -1, 2**63, HUGE, 1.5, math.nan, math.inf, "seven", [7]]
TEXTS: list[Any] = ["\ud800", "a\udfffb", 5, HUGE, b"x", ["x"], math.nan]
PATH_TEXTS: list[Any] = [
    "..",
    ".",
    "",
    " ",
    "a/b",
    "a?b=1",
    "a#b",
    "%2e%2e",
    f"{UUID}/..",
    "../v1/team",
    "\ud800",
    5,
    True,
]
BOOLS: list[Any] = ["yes", 1, HUGE, 0.0, math.nan]
LATE = datetime.max.replace(tzinfo=timezone(timedelta(hours=-1)))
EARLY = datetime.min.replace(tzinfo=timezone(timedelta(hours=1)))
DATETIMES: list[Any] = [datetime(2026, 4, 16), LATE, EARLY, "2026-04-16T00:00:00Z", math.nan]
LISTS: list[Any] = [
    5,
    math.nan,
    PHONE,
    b"15105553344",
    {PHONE: 1},
    [None],
    [math.nan],
    [math.inf],
    ["\ud800"],
    [True],
    [HUGE],
]
DEEP: Any = 1
for _ in range(40):
    DEEP = [DEEP]
MAPPINGS: list[Any] = [
    {"12": math.nan},
    {"12": -math.inf},
    {"12": "\ud800"},
    {"12": HUGE},
    {"12": DEEP},
    {"12": object()},
    {"12\ud800": 1},
    5,
    "x",
    [1],
]
OBJECTS: list[Any] = [5, HUGE, "text", [1], {"bogus": 1}, {"text": "\ud800"}, math.nan]


def _kind(name: str, annotation: str) -> list[Any]:
    """The hostile values for a parameter, chosen by its annotation."""
    if "Iterable" in annotation:
        return LISTS
    if annotation.startswith("Mapping"):
        return MAPPINGS
    if "datetime" in annotation:
        extra = INTS[:6] if "int" in annotation else []  # history takes Unix seconds too
        return DATETIMES + extra
    if any(model in annotation for model in ("Content", "ChannelInput", "Send")):
        return OBJECTS
    if annotation.startswith("bool"):
        return BOOLS
    if annotation.startswith("int"):
        return INTS
    if name in {"contact_id", "channel_type"}:
        return PATH_TEXTS
    if "str" in annotation or annotation.startswith(("MessageOrder", "ListType")):
        return TEXTS
    raise AssertionError(f"no hostile values for {name}: {annotation}")


def _services(client: HeymarketClient) -> dict[str, Resource]:
    # Services are created on first access: find them through the class, not vars().
    found = {
        name: getattr(client, name)
        for name, member in vars(HeymarketClient).items()
        if isinstance(member, functools.cached_property)
        and isinstance(getattr(client, name), Resource)
    }
    found["contacts.v2"] = client.contacts.v2
    return found


def _methods(client: HeymarketClient) -> Iterator[tuple[str, inspect.Signature]]:
    for prefix, service in _services(client).items():
        for name, function in inspect.getmembers(type(service), inspect.isfunction):
            if not name.startswith("_"):
                yield f"{prefix}.{name}", inspect.signature(function)


def _parameters(signature: inspect.Signature) -> list[inspect.Parameter]:
    return [p for p in signature.parameters.values() if p.name not in NOT_INPUT]


def _cases() -> Iterator[Any]:
    client = HeymarketClient(api_key="k" * 32, rate_limit_per_minute=None)
    for method, signature in sorted(_methods(client)):
        for parameter in _parameters(signature):
            values = list(_kind(parameter.name, str(parameter.annotation)))
            values = [v for v in values if (parameter.name, v) not in ALLOWED]
            if parameter.default is inspect.Parameter.empty or parameter.default is not None:
                values.append(None)
            yield pytest.param(method, parameter.name, values, id=f"{method}-{parameter.name}")


async def _call(client: HeymarketClient, method: str, kwargs: dict[str, Any]) -> object:
    target: Any = client
    for part in method.split("."):
        target = getattr(target, part)
    result = target(**kwargs)
    if inspect.isawaitable(result):
        return await result
    assert isinstance(result, AsyncIterator)
    return await anext(result, None)


def test_every_public_method_and_parameter_has_a_baseline() -> None:
    """The sweep covers the whole public surface: no method or parameter is left out."""
    client = HeymarketClient(api_key="k" * 32, rate_limit_per_minute=None)
    methods = dict(_methods(client))
    with_input = {name for name, sig in methods.items() if _parameters(sig)}
    assert with_input == set(BASELINES)
    for name, signature in methods.items():
        for parameter in _parameters(signature):
            assert _kind(parameter.name, str(parameter.annotation))  # every kind is known
        required = {p.name for p in _parameters(signature) if p.default is p.empty}
        assert required <= set(BASELINES.get(name, {})), name


@pytest.mark.parametrize("method", sorted(BASELINES))
async def test_baselines_are_valid_and_reach_the_wire(
    client: HeymarketClient, mock_api: MockApi, method: str
) -> None:
    """Each baseline passes validation and sends a request (so the sweep is not vacuous)."""
    try:
        await _call(client, method, BASELINES[method])
    except RequestValidationError as exc:  # pragma: no cover - the failure being tested
        pytest.fail(f"{method} baseline is invalid: {exc}")
    except HeymarketError:
        pass  # nothing is mocked: the request was attempted and got no answer
    assert list(mock_api.all_calls())


@pytest.mark.parametrize(("method", "parameter", "values"), list(_cases()))
async def test_hostile_values_are_refused_before_the_wire(
    client: HeymarketClient, mock_api: MockApi, method: str, parameter: str, values: list[Any]
) -> None:
    """None, wrong types, surrogates, NaN/inf, huge ints, datetime extremes and dot segments
    in any parameter raise RequestValidationError (a ValueError) and send nothing."""
    for value in values:
        kwargs = {**BASELINES[method], parameter: value}
        with pytest.raises(RequestValidationError) as info:
            await _call(client, method, kwargs)
        assert isinstance(info.value, ValueError)
        assert not list(mock_api.all_calls()), (method, parameter, value)


@pytest.mark.parametrize(
    "call",
    [
        lambda hm: hm.contacts.v2.delete(".."),
        lambda hm: hm.contacts.v2.delete("."),
        lambda hm: hm.contacts.v2.get("../../v1/team"),
        lambda hm: hm.contacts.v2.update("..", first="A"),
        lambda hm: hm.contacts.v2.delete_channel(UUID, ".."),
        lambda hm: hm.contacts.v2.list_channels("%2e%2e"),
        lambda hm: hm.tags.delete(tag_id=True),
    ],
)
async def test_dot_segments_never_reach_the_wire(
    client: HeymarketClient, mock_api: MockApi, call: Callable[[HeymarketClient], Any]
) -> None:
    """`contacts.v2.delete('..')` once sent DELETE /v2/; now nothing is sent."""
    with pytest.raises(RequestValidationError):
        await call(client)
    assert not list(mock_api.all_calls())


async def test_nan_in_a_custom_field_is_never_sent(
    client: HeymarketClient, mock_api: MockApi
) -> None:
    """`{"custom": {"12": NaN}}` is not JSON: refused at construction, nothing on the wire."""
    with pytest.raises(RequestValidationError, match="finite"):
        await client.contacts.create(phone=PHONE, custom={"12": math.nan})
    with pytest.raises(RequestValidationError, match="cannot be sent as JSON"):
        await client.request(ApiRequest(method="POST", path="/v1/contact", json={"x": math.nan}))
    assert not list(mock_api.all_calls())


@pytest.mark.parametrize(
    ("segment", "raw"),
    [
        ("a/b", "a%2Fb"),
        ("a?b=1", "a%3Fb=1"),  # yarl sends '=' bare: a path allows it, meaning unchanged
        ("a#b", "a%23b"),
        ("100%", "100%25"),
        ("%2e%2e", "%252e%252e"),
        ("...", "..."),
        ("é", "%C3%A9"),
    ],
)
async def test_odd_path_segments_arrive_encoded_as_built(segment: str, raw: str) -> None:
    """On a real connection the server sees the segment exactly as path() encoded it."""
    async with HostileServer() as server:
        server.script("GET", f"/v1/x/{segment}/y", then=Answer.json({"ok": True}))
        async with server.client() as hm:
            await hm.request(ApiRequest(method="GET", path=path("/v1/x/{}/y", segment)))
        (seen,) = server.requests
        assert seen.raw_path == f"/v1/x/{raw}/y"
        assert seen.path == f"/v1/x/{segment}/y"

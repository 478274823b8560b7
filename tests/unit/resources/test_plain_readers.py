"""The hand-written readers of the two hottest answers (a send's, the team's) against the
full cattrs readers: identical results, identical errors, on a varied corpus."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heymarket_async._protocol import ApiResponse, decipher_response, slot_setters
from heymarket_async.errors import UnexpectedResponseError
from heymarket_async.resources._base import plain_object, read_model
from heymarket_async.resources._message_models import _read_plain_sent_message
from heymarket_async.resources.messages import SendMessage, SentMessage, read_sent_message
from heymarket_async.resources.team import Team, TeamMember, _read_plain_team, read_team

SEND = SendMessage(inbox_id=1, creator_id=2, phone_number="15105553344", text="hi", local_id="l-1")

# Values chosen around every rule the readers apply: id range and type, quoted decimals,
# bools (ints in Python), timestamps in several spellings and broken ones, nulls, wrong types.
EDGE_INTS = [0, 1, -1, 7, 2**63 - 1, 2**63, -(2**63), 10**30]
TIMES = [
    "2026-11-23T19:02:07.390063Z",
    "2026-11-23T19:02:07Z",
    "2026-11-23T19:02:07+02:00",
    "2026-11-23T19:02:07",
    "2026-11-23",
    "1700000000",
    " 1700000000 ",
    "9" * 40,
    "",
    "  ",
    "yesterday",
    "2026-13-45T99:99:99Z",
    "20261123",  # ISO basic format to fromisoformat, Unix seconds to the full reader
    "20261123T190207+0000",
    "\uff11\uff17\uff10\uff10",  # fullwidth digits
    " 2026-11-23T19:02:07Z ",
    "2026-11-23T19:02:07.5-05:30",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(EDGE_INTS),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["12", "-3", "0", "1.5", "abc", "\u00b2", "9" * 25, "true"]),
    st.sampled_from(TIMES),
    st.text(max_size=8),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.sampled_from(["id", "x", "name"]), scalars, max_size=3),
)

SENT_KEYS = ["id", "date", "gallery_url", "local_id", "convo_id", "queued", "compliance_results"]
usable_ids = st.integers(min_value=1, max_value=2**63 - 1)
plain_ids = st.one_of(usable_ids, usable_ids, st.sampled_from(EDGE_INTS))


def objects(keys: list[str], common: dict[str, st.SearchStrategy[Any]]) -> Any:
    """Mostly the common shape (so the hand-written path runs), often bent out of it."""
    usual = st.fixed_dictionaries(
        {"id": common["id"]}, optional={key: common.get(key, values) for key in keys[1:]}
    )
    odd = st.dictionaries(st.sampled_from([*keys, "conversation", "extra"]), values, max_size=8)
    bent = st.builds(lambda a, b: {**a, **b}, usual, odd)
    return st.one_of(usual, usual, usual, odd, bent)


sent_objects = objects(
    SENT_KEYS,
    {
        "id": plain_ids,
        "date": st.one_of(st.none(), st.sampled_from(TIMES), st.sampled_from(TIMES[:3])),
        "gallery_url": st.one_of(st.none(), st.text(max_size=5)),
        "local_id": st.one_of(st.none(), st.text(max_size=5)),
        "convo_id": st.one_of(st.none(), plain_ids),
        "queued": st.one_of(st.none(), st.booleans()),
        "compliance_results": st.one_of(st.none(), st.none(), st.just({"a": 1})),
    },
)
members = objects(
    ["id", "name", "role", "email"],
    {"id": plain_ids, **dict.fromkeys(["name", "role", "email"], st.one_of(st.none(), st.text()))},
)
team_objects = objects(
    ["id", "name", "list_size", "members"],
    {
        "id": plain_ids,
        "name": st.one_of(st.none(), st.text(max_size=5)),
        "list_size": st.one_of(st.none(), st.integers(), st.sampled_from(EDGE_INTS)),
        "members": st.one_of(st.none(), st.lists(st.one_of(members, values), max_size=3)),
    },
)


def answer(data: Any, wrapper: str, wrap: int) -> ApiResponse:
    body: Any = data if wrap == 0 else {wrapper: data} if wrap == 1 else {wrapper: None, **data}
    return decipher_response(200, {"X-Request-Id": "r-1"}, json.dumps(body).encode())


def outcome(read: Any) -> tuple[str, Any]:
    """What a reader gives: the result's repr and request_id, or the error's."""
    try:
        result = read()
    except UnexpectedResponseError as exc:
        return "error", (type(exc), str(exc), exc.status, exc.request_id, exc.local_id)
    return "read", (type(result), repr(result), result.request_id)


def full_sent(response: ApiResponse) -> SentMessage:
    return read_model(
        response,
        SentMessage,
        wrapper="message",
        local_id=SEND.local_id,
        missing={"local_id": SEND.local_id},
    )


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=sent_objects, wrap=st.integers(0, 2))
def test_a_send_answer_reads_the_same_by_hand_and_by_cattrs(data: Any, wrap: int) -> None:
    response = answer(data, "message", wrap)
    assert outcome(lambda: read_sent_message(response, SEND)) == outcome(
        lambda: full_sent(response)
    )


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=team_objects, wrap=st.integers(0, 2))
def test_a_team_answer_reads_the_same_by_hand_and_by_cattrs(data: Any, wrap: int) -> None:
    response = answer(data, "team", wrap)
    assert outcome(lambda: read_team(response)) == outcome(
        lambda: read_model(response, Team, wrapper="team")
    )


DOCUMENTED_SENT = [
    {"id": 100002, "date": "2026-11-23T19:02:07.390063Z"},
    {"id": 1, "date": "2026-11-23T19:02:07Z", "gallery_url": "https://x/y.png", "other": [1]},
    {"id": 2**63 - 1, "date": None, "local_id": "theirs", "convo_id": 9, "queued": True},
    {"message": {"id": 5, "date": 1700000000}},
]


@pytest.mark.parametrize("body", DOCUMENTED_SENT)
def test_documented_send_answers_take_the_hand_written_path(body: dict[str, Any]) -> None:
    """Guards the comparison above against a hand-written path that always gives up."""
    response = decipher_response(200, {"X-Request-Id": "r-9"}, json.dumps(body).encode())
    data = plain_object(response, "message")
    assert data is not None
    sent = _read_plain_sent_message(data, "r-9", SEND.local_id)
    if "message" in body:  # a Unix time is left to the full reader
        assert sent is None
        return
    assert sent is not None
    assert repr(sent) == repr(full_sent(response))
    assert sent.request_id == "r-9"


ODD_SENT = [
    {"id": "12", "date": "2026-11-23T19:02:07Z"},  # a quoted id: the full reader accepts it
    {"id": True},
    {"id": 0},
    {"id": 2**63},
    {"id": 1.0},
    {"id": 3, "conversation": {"id": 8}},
    {"id": 3, "compliance_results": {"a": 1}},
    {"id": 3, "date": "yesterday"},
    {"id": 3, "queued": "yes"},
    {"id": 3, "convo_id": -4},
]


@pytest.mark.parametrize("body", ODD_SENT)
def test_odd_send_answers_are_left_to_the_full_reader(body: dict[str, Any]) -> None:
    assert _read_plain_sent_message(body, None, "l-1") is None
    response = decipher_response(200, {}, json.dumps(body).encode())
    assert outcome(lambda: read_sent_message(response, SEND)) == outcome(
        lambda: full_sent(response)
    )


def test_the_sandbox_team_answer_takes_the_hand_written_path() -> None:
    body = {
        "id": 1001,
        "name": "Sandbox Team",
        "list_size": 10000,
        "members": [{"id": 7, "name": "Olive", "role": "owner", "x": 1}, {"id": 8}],
    }
    team = _read_plain_team(body, "r-2")
    response = decipher_response(200, {"X-Request-Id": "r-2"}, json.dumps(body).encode())
    assert team is not None
    assert repr(team) == repr(read_model(response, Team, wrapper="team"))


@pytest.mark.parametrize(
    "body",
    [
        {"id": 1, "members": None},
        {"id": 1, "members": [{"id": 0}]},
        {"id": 1, "members": [{"id": "7"}]},
        {"id": 1, "members": ["x"]},
        {"id": 1, "list_size": "10"},
        {"id": 1, "list_size": True},
        {"id": 1, "name": 5},
        {"id": False},
    ],
)
def test_odd_team_answers_are_left_to_the_full_reader(body: dict[str, Any]) -> None:
    assert _read_plain_team(body, None) is None
    response = decipher_response(200, {}, json.dumps(body).encode())
    assert outcome(lambda: read_team(response)) == outcome(
        lambda: read_model(response, Team, wrapper="team")
    )


def test_an_unreadable_answer_is_never_read_by_hand() -> None:
    assert plain_object(decipher_response(200, {}, b"ok")) is None
    assert plain_object(decipher_response(200, {}, b'{"id": 1', truncated=True)) is None
    assert plain_object(decipher_response(200, {}, b"[1]")) is None


def test_slot_setters_insist_on_every_field() -> None:
    """A field added to a model without its reader's setter fails at import, not later."""
    with pytest.raises(TypeError, match="fields"):
        slot_setters(TeamMember, "id", "name", "role")
    set_id, set_name, set_role, set_email = slot_setters(TeamMember, "id", "name", "role", "email")
    member = object.__new__(TeamMember)
    for setter, value in [(set_id, 7), (set_name, "n"), (set_role, None), (set_email, "e")]:
        setter(member, value)
    built = TeamMember(id=7, name="n", email="e")
    assert member == built
    assert hash(member) == hash(built)
    assert pickle.loads(pickle.dumps(member)) == built  # noqa: S301 - our own bytes

"""Every reader the services use, fed 2xx bodies no well-behaved server sends.

A 2xx means the server accepted the request, so a reader either returns a value (an
action whose answer is not needed) or raises ``UnexpectedResponseError``; never a bare
TypeError/ValueError/KeyError/RecursionError, and never an empty list for an answer it
could not read.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

import pytest

import heymarket_async.resources
from heymarket_async._protocol import ApiResponse, decipher_response
from heymarket_async.errors import ResponseTooLargeError, UnexpectedResponseError
from heymarket_async.resources._base import read_list, read_model
from heymarket_async.resources._paging import read_count
from heymarket_async.resources.contacts import (
    Contact,
    ContactSaved,
    MessagingStatus,
    read_batch_result,
    read_contact_fields,
    read_contact_saved,
)
from heymarket_async.resources.contacts_v2 import (
    ContactChannel,
    ContactV2,
    read_channels,
    read_upsert_result,
)
from heymarket_async.resources.conversations import read_acknowledgement
from heymarket_async.resources.email import SendEmail, read_sent_email
from heymarket_async.resources.inboxes import Inbox
from heymarket_async.resources.lists import (
    DeleteList,
    ListCreated,
    UpdateList,
    read_list_deleted,
    read_list_updated,
)
from heymarket_async.resources.messages import Conversation, Message, SendMessage, read_sent_message
from heymarket_async.resources.schedules import (
    Schedule,
    ScheduleCreated,
    ScheduleDeleted,
    ScheduleUpdated,
    read_schedule_written,
)
from heymarket_async.resources.surveys import Survey, read_surveys
from heymarket_async.resources.tags import Tag, TagCreated, TagDeleted, read_tag_written
from heymarket_async.resources.team import Team, read_team
from heymarket_async.resources.templates import (
    Template,
    TemplateCreated,
    TemplateDeleted,
    TemplateUpdated,
    read_template_written,
)
from heymarket_async.resources.users import read_memberships

Reader = Callable[[ApiResponse], object]

SEND = SendMessage(inbox_id=1, creator_id=2, phone_number="15105553344", text="hi", local_id="l-1")
EMAIL = SendEmail(creator_id=2, inbox=3, text="hi", targets=["to:a@example.com"], local_id="e-1")

# Readers of answers that list things: an answer they cannot read must raise.
LISTINGS: dict[str, Reader] = {
    **{
        f"read_list[{model.__name__}]": (lambda r, m=model: read_list(r, m, wrappers=("items",)))
        for model in (Contact, ContactV2, Conversation, Inbox, Message, Tag, Template)
    },
    "read_contact_fields": read_contact_fields,
    "read_channels": read_channels,
    "read_surveys": read_surveys,
    "read_memberships": read_memberships,
}

READERS: dict[str, Reader] = {
    **LISTINGS,
    **{
        f"read_model[{model.__name__}]": (lambda r, m=model: read_model(r, m, wrapper="x"))
        for model in (
            Contact,
            ContactSaved,
            MessagingStatus,
            ContactV2,
            ContactChannel,
            Conversation,
            ListCreated,
            Schedule,
            Survey,
            Tag,
            Team,
            Template,
        )
    },
    "read_count": read_count,
    "read_batch_result": lambda r: read_batch_result(r, 3),
    "read_contact_saved": lambda r: read_contact_saved(r, 12),
    "read_contact_saved[uuid]": lambda r: read_contact_saved(r, "0b0e-uuid"),
    "read_channels[acknowledged]": lambda r: read_channels(r, acknowledged=True),
    "read_upsert_result": read_upsert_result,
    "read_acknowledgement": read_acknowledgement,
    "read_sent_message": lambda r: read_sent_message(r, SEND),
    "read_team": read_team,
    "read_sent_email": lambda r: read_sent_email(r, EMAIL),
    "read_list_updated": lambda r: read_list_updated(r, UpdateList(list_id=5, title="t")),
    "read_list_deleted": lambda r: read_list_deleted(r, DeleteList(list_id=5)),
    "read_schedule_written[created]": (
        lambda r: read_schedule_written(r, ScheduleCreated, local_id="s-1")
    ),
    "read_schedule_written[updated]": lambda r: read_schedule_written(r, ScheduleUpdated, id=7),
    "read_schedule_written[deleted]": lambda r: read_schedule_written(r, ScheduleDeleted, id=7),
    "read_tag_written[created]": lambda r: read_tag_written(r, TagCreated),
    "read_tag_written[deleted]": lambda r: read_tag_written(r, TagDeleted, id=7),
    "read_template_written[created]": (
        lambda r: read_template_written(r, TemplateCreated, local_id="t-1")
    ),
    "read_template_written[updated]": lambda r: read_template_written(r, TemplateUpdated, id=7),
    "read_template_written[deleted]": lambda r: read_template_written(r, TemplateDeleted, id=7),
}

HUGE = b"9" * 5000
DEEP_BUT_PARSEABLE = b'{"x": ' * 400 + b"1" + b"}" * 400
ODD_BODIES: dict[str, bytes] = {
    "ok-text": b"ok",
    "ok-json": b'"ok"',
    "success-text": b"Success\n",
    "html": b"<html><body><h1>Done</h1></body></html>",
    "empty": b"",
    "null": b"null",
    "true": b"true",
    "negative": b"-1",
    "fraction": b"1.5",
    "empty-array": b"[]",
    "empty-object": b"{}",
    "open-brackets": b"[" * 100_000,
    "superscript-count": '"\u00b2"'.encode(),
    "count-5000-digits": b'"' + HUGE + b'"',
    "number-5000-digits": HUGE,
    "object-5000-digit-id": b'{"id": ' + HUGE + b"}",
    "object-4000-digit-id": b'{"id": ' + b"9" * 4000 + b', "date": ' + b"9" * 4000 + b"}",
    "object-float-overflow-id": b'{"id": 1e400, "count": 1e400}',
    "object-superscript-id": '{"id": "\u00b2", "count": "\u00b2"}'.encode(),
    "object-wrong-types": b'{"id": [], "date": {}, "title": [1], "messages": 5, "x": "s"}',
    "object-null-id": b'{"id": null, "contacts": null, "failed_contacts": 5}',
    "object-string-id": b'{"id": "abc", "uuid": 5, "rev": "x"}',
    "field-map-superscript": '{"fields": {"\u00b2": "t"}}'.encode(),
    "array-of-junk": b'[1, "x", null, [], {"id": "abc"}]',
    "array-of-objects-without-id": b"[{}, {}]",
    "deep-but-parseable": DEEP_BUT_PARSEABLE,
    "wrapped-null": b'{"x": null, "messages": null, "memberships": 5}',
}


def odd_responses() -> list[Any]:
    cases = [
        pytest.param(decipher_response(200, {"X-Request-Id": "r-1"}, body), id=name)
        for name, body in ODD_BODIES.items()
    ]
    truncated = decipher_response(200, {}, b'{"id": 1', truncated=True)
    cases.append(pytest.param(truncated, id="truncated"))
    return cases


@pytest.mark.parametrize("response", odd_responses())
@pytest.mark.parametrize("name", sorted(READERS))
def test_readers_raise_only_unexpected_response_errors(name: str, response: ApiResponse) -> None:
    """Any odd 2xx either reads (an action) or raises UnexpectedResponseError, accepted."""
    raised: UnexpectedResponseError | None = None
    try:
        READERS[name](response)
    except UnexpectedResponseError as exc:
        raised = exc
    if raised is not None:
        assert raised.accepted is True
        assert raised.status == 200
        assert "accepted" in str(raised)
        assert isinstance(raised, ResponseTooLargeError) == response.truncated


UNREADABLE_FOR_A_LISTING = ["ok-text", "html", "empty-object", "open-brackets", "null", "true"]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        (name, body)
        for name in sorted(LISTINGS)
        for body in UNREADABLE_FOR_A_LISTING
        # A null memberships answer is documented to mean no users.
        if (name, body) != ("read_memberships", "null")
    ],
)
def test_listings_never_read_an_unreadable_answer_as_empty(name: str, body: str) -> None:
    """A listing answered with text, HTML, {} or junk raises instead of listing nothing."""
    with pytest.raises(UnexpectedResponseError):
        LISTINGS[name](decipher_response(200, {}, ODD_BODIES[body]))


@pytest.mark.parametrize("name", sorted(set(LISTINGS) - {"read_memberships"}))
def test_listings_never_read_an_empty_body_as_empty(name: str) -> None:
    """An empty body is not an empty list (history lookups decide resends on it)."""
    with pytest.raises(UnexpectedResponseError, match="empty body"):
        LISTINGS[name](decipher_response(200, {}, b""))


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_listings_raise_too_large_for_a_truncated_answer(name: str) -> None:
    """A listing whose answer was over max_response_size raises ResponseTooLargeError."""
    with pytest.raises(ResponseTooLargeError, match="max_response_size"):
        LISTINGS[name](decipher_response(200, {}, b"[", truncated=True))


@pytest.mark.parametrize(
    "body", ['"\u00b2"'.encode(), b'"' + HUGE + b'"', b'{"count": "' + HUGE + b'"}']
)
def test_count_refuses_odd_digits(body: bytes) -> None:
    """A count of "²" or 5,000 digits raises UnexpectedResponseError, not ValueError."""
    with pytest.raises(UnexpectedResponseError, match="a count"):
        read_count(decipher_response(200, {}, body))


@pytest.mark.parametrize("body", [b'"42"', b"42", b'{"count": "42"}', b'{"count": 42}', b"42 "])
def test_count_reads_documented_shapes(body: bytes) -> None:
    """The documented count shapes still read."""
    assert read_count(decipher_response(200, {}, body)) == 42


@pytest.mark.parametrize("body", [b"ok", b'"ok"', b"success", b'"Success"', b"OK\r\n"])
@pytest.mark.parametrize(
    "name",
    [
        "read_acknowledgement",
        "read_batch_result",
        "read_channels[acknowledged]",
        "read_upsert_result",
        "read_contact_saved",
        "read_list_updated",
        "read_list_deleted",
        "read_schedule_written[updated]",
        "read_schedule_written[deleted]",
        "read_tag_written[deleted]",
        "read_template_written[updated]",
        "read_template_written[deleted]",
    ],
)
def test_bare_acknowledgements_succeed(name: str, body: bytes) -> None:
    """A bare ok/success, quoted or not, is a successful answer to a write or an action."""
    assert READERS[name](decipher_response(200, {"Content-Type": "text/plain"}, body)) is not None


@pytest.mark.parametrize(
    ("reader", "local_id"),
    [(READERS["read_sent_message"], "l-1"), (READERS["read_sent_email"], "e-1")],
)
@pytest.mark.parametrize("body", [b"ok", b"<p>queued</p>", b"", b"[]", b'{"id": "abc"}'])
def test_unreadable_send_answer_says_accepted_and_carries_the_local_id(
    reader: Reader, local_id: str, body: bytes
) -> None:
    """A send answered 2xx but unreadable raises with the local_id to look up."""
    with pytest.raises(UnexpectedResponseError) as info:
        reader(decipher_response(200, {"X-Request-Id": "r-7"}, body))
    assert info.value.local_id == local_id
    assert info.value.request_id == "r-7"
    assert "accepted" in str(info.value)


def test_error_messages_show_no_values_from_a_json_answer() -> None:
    """A JSON answer's values (which may echo anything) stay out of the error message."""
    body = b'{"id": "Bearer secret-token-value", "count": "secret-token-value"}'
    for name in ("read_model[Team]", "read_count", "read_sent_message", "read_list[Message]"):
        with pytest.raises(UnexpectedResponseError) as info:
            READERS[name](decipher_response(200, {}, body))
        assert "secret-token-value" not in str(info.value), name


def test_every_reader_in_the_resources_is_covered() -> None:
    """Each module-level read_* function of the resources appears in READERS."""
    covered = {name.split("[")[0] for name in READERS}
    found = set()
    for module_info in pkgutil.iter_modules(heymarket_async.resources.__path__):
        module = importlib.import_module(f"heymarket_async.resources.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("read_") and function.__module__ == module.__name__:
                found.add(name)
    # read_failures reads a nested value, not an answer; read_batch/upsert cover it.
    assert found - {"read_failures"} <= covered

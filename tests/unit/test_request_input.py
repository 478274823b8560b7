"""Hostile input at the pure layer: path segments, strict JSON bodies, free-form JSON values,
datetimes that overflow, list parameters, and nested request objects given as mappings."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from heymarket_async import errors
from heymarket_async._protocol import ApiRequest, path, path_segment
from heymarket_async._validation import (
    MAX_ID,
    MAX_JSON_DEPTH,
    as_tuple,
    check_aware_datetime,
    check_json_value,
    check_positive_int,
    check_text,
)
from heymarket_async.errors import RequestValidationError
from heymarket_async.resources.contacts import (
    ContactPayload,
    CreateContact,
    build_batch_create_contacts,
    build_create_contact,
)
from heymarket_async.resources.contacts_v2 import (
    ContactChannelInput,
    CreateContactV2,
    UpdateContactV2,
    build_add_channel,
    build_bulk_upsert_contacts,
    build_create_contact_v2,
    build_update_channel,
)
from heymarket_async.resources.conversations import (
    ChangeConversationState,
    build_change_conversation_state,
)
from heymarket_async.resources.lists import CreateList, UpdateList
from heymarket_async.resources.messages import HistoryQuery, SendMessage
from heymarket_async.resources.schedules import (
    Attachment,
    CreateSchedule,
    GalleryEntry,
    ScheduledContent,
    build_create_schedule,
)
from heymarket_async.resources.templates import (
    CreateTemplate,
    GalleryContent,
    build_create_template,
)
from heymarket_async.resources.users import UpdateUsers, UserUpdate, build_update_users

PHONE = "15105553344"
OTHER = "14155550100"
UUID = "6f1c2d3e-0a1b-4c5d-8e9f-001122334455"
IMAGE = "https://cdn.example.com/a.png"
NOW = datetime(2026, 4, 16, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 4, 16, 12, 0, tzinfo=UTC)
LATE_OFFSET = datetime.max.replace(tzinfo=timezone(timedelta(hours=-1)))
EARLY_OFFSET = datetime.min.replace(tzinfo=timezone(timedelta(hours=1)))


# --- Path segments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("a?b=1", "a%3Fb%3D1"),
        ("a#frag", "a%23frag"),
        ("100%", "100%25"),
        ("%2e%2e", "%252e%252e"),
        ("...", "..."),
        (".hidden", ".hidden"),
        ("a..b", "a..b"),
        ("é ü", "%C3%A9%20%C3%BC"),
        ("a\nb", "a%0Ab"),
        (42, "42"),
        (MAX_ID, str(MAX_ID)),
    ],
)
def test_path_percent_encodes_every_odd_but_valid_segment(value: str | int, segment: str) -> None:
    """A segment is encoded whole: separators, '%' and non-ASCII cannot change the path."""
    assert path("/v1/x/{}/y", value) == f"/v1/x/{segment}/y"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("..", "dot segment"),
        (".", "dot segment"),
        ("", "empty"),
        ("   ", "empty"),
        ("a\ud800", "surrogate"),
        (0, "positive integer"),
        (-3, "positive integer"),
        (True, "int or a str"),
        (MAX_ID + 1, "at most"),
        pytest.param(10**5000, "at most", id="huge"),
        (1.0, "int or a str"),
        (None, "int or a str"),
        (b"x", "int or a str"),
    ],
)
def test_path_refuses_segments_that_would_rewrite_or_break_the_url(
    value: object, reason: str
) -> None:
    """Dot segments, blanks, surrogates, bools and ids out of range never reach a URL."""
    with pytest.raises(RequestValidationError, match=reason):
        path("/v2/contact/{}", value)  # type: ignore[arg-type]
    with pytest.raises(RequestValidationError) as info:
        path_segment(value, name="contact_id")
    assert info.value.field == "contact_id"


# --- Strict JSON bodies ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"custom": {"12": math.nan}},
        {"custom": {"12": math.inf}},
        [-math.inf],
        {"text": "a\ud800b"},
        {"a\udfff": 1},
        pytest.param({"n": 10**5000}, id="huge"),
        {"x": object()},
        {"x": {1, 2}},
    ],
)
def test_body_bytes_refuses_what_is_not_strict_json(body: Any) -> None:
    """NaN/Infinity, lone surrogates and unencodable values are a RequestValidationError."""
    request = ApiRequest(method="POST", path="/x", json=body)
    with pytest.raises(RequestValidationError, match="cannot be sent as JSON"):
        request.body_bytes()


def test_body_bytes_refuses_a_cycle_and_runaway_nesting() -> None:
    """A self-containing body and one nested past the recursion limit are refused, typed."""
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    deep: Any = 1
    for _ in range(100_000):
        deep = [deep]
    for body in (cyclic, deep):
        with pytest.raises(RequestValidationError):
            ApiRequest(method="POST", path="/x", json=body).body_bytes()


def test_body_bytes_keeps_finite_numbers_and_text() -> None:
    """Ordinary values still encode compactly, non-ASCII as UTF-8."""
    body = {"f": 1.5, "n": -(2**63), "t": "é", "z": None}
    request = ApiRequest(method="POST", path="/x", json=body)
    assert request.body_bytes() == '{"f":1.5,"n":-9223372036854775808,"t":"é","z":null}'.encode()


# --- Values checked at construction ---------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "finite"),
        (-math.inf, "finite"),
        ([1, [2, math.inf]], "finite"),
        ("\ud83d", "surrogate"),
        ({"\udc00": 1}, "surrogate"),
        ({1: "x"}, "keys must be strings"),
        (2**63, "64 bits"),
        (-(2**63) - 1, "64 bits"),
        pytest.param(10**5000, "64 bits", id="huge"),
        (b"bytes", "JSON value"),
        ({1, 2}, "JSON value"),
        (_nested(MAX_JSON_DEPTH + 1), "nested"),
    ],
)
def test_json_values_refuse_what_cannot_be_sent(value: object, reason: str) -> None:
    """Free-form JSON values are checked deeply, with the path to the bad value named."""
    with pytest.raises(RequestValidationError, match=reason):
        check_json_value("custom", value)


def test_json_values_accept_ordinary_json() -> None:
    """Finite numbers, bools, null, text, lists and string-keyed mappings pass."""
    check_json_value("v", {"a": [1, 2.5, True, None, "é"], "b": _nested(MAX_JSON_DEPTH - 1)})


def test_json_value_errors_name_the_nested_position() -> None:
    """The error's field points at the offending value inside the structure."""
    with pytest.raises(RequestValidationError) as info:
        check_json_value("custom", {"12": [0, {"x": math.nan}]})
    assert info.value.field == "custom['12'][1]['x']"


@pytest.mark.parametrize(
    "bad", [True, 0, -1, MAX_ID + 1, pytest.param(10**5000, id="huge"), 1.0, "7", None]
)
def test_positive_ids_are_ints_in_64_bits(bad: object) -> None:
    """Ids are ints from 1 to 2**63-1; a 5,000-digit int is described, never printed."""
    with pytest.raises(RequestValidationError) as info:
        check_positive_int("inbox_id", bad)
    assert len(str(info.value)) < 200


def test_text_refuses_lone_surrogates_anywhere() -> None:
    """A lone surrogate in any text field fails at model construction."""
    check_text("text", "fine 😀")
    with pytest.raises(RequestValidationError, match="surrogate"):
        check_text("text", "bad \udfff")
    builders: list[Callable[[], object]] = [
        lambda: SendMessage(inbox_id=1, creator_id=2, phone_number=PHONE, text="hi \ud800"),
        lambda: SendMessage(
            inbox_id=1, creator_id=2, phone_number=PHONE, text="hi", author="\ud800"
        ),
        lambda: SendMessage(
            inbox_id=1, creator_id=2, phone_number=PHONE, media_url="https://x.example/\ud800"
        ),
        lambda: CreateContact(phone=PHONE, first="\ud800"),
        lambda: CreateContact(phone=PHONE, custom={"12": "\ud800"}),
        lambda: CreateList(title="\ud800", phones=[PHONE]),
        lambda: UserUpdate(id=1, first_name="\ud800"),
        lambda: Attachment(url=IMAGE, name="\ud800"),
        lambda: GalleryEntry(url=IMAGE, annotation_text="\ud800"),
        lambda: ContactChannelInput(channel_type="facebook", channel_id="\ud800"),
    ]
    for build in builders:
        with pytest.raises(RequestValidationError, match=r"surrogate|E\.164|not a"):
            build()


@pytest.mark.parametrize("when", [LATE_OFFSET, EARLY_OFFSET])
def test_datetimes_that_overflow_in_utc_are_refused(when: datetime) -> None:
    """datetime.max/min with an offset are aware but out of range in UTC: a typed error."""
    with pytest.raises(RequestValidationError, match="out of range"):
        check_aware_datetime("before", when)
    with pytest.raises(RequestValidationError, match="out of range"):
        HistoryQuery(phone_number=PHONE, inbox_id=1, before=when)
    with pytest.raises(RequestValidationError, match="out of range"):
        CreateSchedule(
            inbox_id=1,
            execute_at=when,
            content=ScheduledContent(text="hi"),
            phone_number=PHONE,
            now=NOW,
        )


def test_a_clock_at_the_end_of_time_is_refused() -> None:
    """An injected `now` too close to datetime.max to add the lead time is a typed error."""
    with pytest.raises(RequestValidationError) as info:
        CreateSchedule(
            inbox_id=1,
            execute_at=LATER,
            content=ScheduledContent(text="hi"),
            phone_number=PHONE,
            now=datetime.max.replace(tzinfo=UTC),
        )
    assert info.value.field == "now"


# --- List parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, 5, 1.5, PHONE, b"15105553344", {PHONE: 1}])
def test_list_parameters_refuse_non_lists_by_name(bad: object) -> None:
    """None, numbers, a bare string and a mapping are not lists: refused, never iterated."""
    with pytest.raises(RequestValidationError, match="must be a list") as info:
        as_tuple("phones", bad)
    assert info.value.field == "phones"
    models: list[Callable[[], object]] = [
        lambda: CreateList(title="T", phones=bad),  # type: ignore[arg-type]
        lambda: CreateList(title="T", contacts=bad),  # type: ignore[arg-type]
        lambda: UpdateList(list_id=1, add_emails=bad),  # type: ignore[arg-type]
        lambda: SendMessage(inbox_id=1, creator_id=2, targets=bad, text="x"),  # type: ignore[arg-type]
        lambda: UpdateUsers(users=bad),  # type: ignore[arg-type]
        lambda: GalleryContent(text="x", gallery=bad),  # type: ignore[arg-type]
        lambda: ScheduledContent(text="x", attachments=bad),  # type: ignore[arg-type]
        lambda: build_batch_create_contacts(bad),  # type: ignore[arg-type]
        lambda: build_bulk_upsert_contacts(bad),  # type: ignore[arg-type]
    ]
    for build in models:
        with pytest.raises(RequestValidationError):
            build()


def test_tuple_converters_still_take_any_iterable() -> None:
    """Generators, sets and lists all become tuples."""
    assert CreateList(title="T", phones=(p for p in [PHONE])).phones == (PHONE,)
    assert CreateList(title="T", contacts={3}).contacts == (3,)
    assert as_tuple("x", [1, 2]) == (1, 2)


# --- Conversations: chat_id with target ---------------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        {"chat_id": 900, "target": PHONE},
        {"chat_id": 900, "targets": [PHONE, OTHER]},
        {"chat_id": 900},
        {"target": PHONE},
    ],
)
def test_open_close_accept_chat_id_with_a_target(names: dict[str, Any]) -> None:
    """chat_id may come with target (the API reference's own example sends both)."""
    change = ChangeConversationState(inbox_id=42, user_id=7, **names)
    request = build_change_conversation_state("open", change)
    assert request.json == {"inbox_id": 42, "user_id": 7, **names}


def test_open_close_still_refuse_no_target_and_two_kinds_of_target() -> None:
    """Nothing named, or target with targets, is still refused."""
    with pytest.raises(RequestValidationError, match="got none"):
        ChangeConversationState(inbox_id=42, user_id=7)
    with pytest.raises(RequestValidationError, match="target and targets"):
        ChangeConversationState(
            inbox_id=42, user_id=7, chat_id=9, target=PHONE, targets=[PHONE, OTHER]
        )


# --- Nested request objects as mappings -----------------------------------------------------


def _schedule(content: Any) -> CreateSchedule:
    return CreateSchedule(
        inbox_id=1,
        execute_at=LATER,
        content=content,
        phone_number=PHONE,
        local_id="s-1",
        now=NOW,
    )


@pytest.mark.parametrize(
    ("as_model", "as_mapping"),
    [
        (
            lambda c: build_create_template(CreateTemplate(title="T", content=c, local_id="t")),
            (
                GalleryContent(text="Hi", gallery=[GalleryEntry(url=IMAGE, annotation_text="a")]),
                {"text": "Hi", "gallery": [{"url": IMAGE, "annotation_text": "a"}]},
            ),
        ),
        (
            lambda c: build_create_schedule(_schedule(c)),
            (
                ScheduledContent(
                    text="Hi",
                    to=PHONE,
                    attachments=[Attachment(url=IMAGE, name="a.png", type="image/png")],
                    gallery=[GalleryEntry(url=IMAGE)],
                ),
                {
                    "text": "Hi",
                    "to": PHONE,
                    "attachments": [{"url": IMAGE, "name": "a.png", "type": "image/png"}],
                    "gallery": [{"url": IMAGE}],
                },
            ),
        ),
        (
            lambda c: build_add_channel(UUID, c),
            (ContactChannelInput.phone(PHONE), {"channel_type": "phone", "channel_id": PHONE}),
        ),
        (
            lambda c: build_update_channel(UUID, c),
            (
                ContactChannelInput(channel_type="email", channel_id="a@example.com"),
                {"channel_type": "email", "channel_id": "a@example.com"},
            ),
        ),
        (
            lambda c: build_create_contact_v2(CreateContactV2(contact_channels=[c])),
            (
                ContactChannelInput.email("a@example.com"),
                {"channel_type": "email", "channel_id": "a@example.com"},
            ),
        ),
        (
            lambda c: build_update_users(UpdateUsers(users=[c])),
            (UserUpdate(id=3, role_id=4), {"id": 3, "role_id": 4}),
        ),
        (
            lambda c: build_batch_create_contacts([c]),
            (
                CreateContact(phone=PHONE, first="Ann", tags=[5], custom={12: "blue"}),
                {"phone": PHONE, "first": "Ann", "tags": [{"tag_id": 5}], "custom": {"12": "blue"}},
            ),
        ),
        (
            lambda c: build_bulk_upsert_contacts([c]),
            (
                UpdateContactV2(contact_id=UUID, first="B"),
                {"contact_id": UUID, "first": "B"},
            ),
        ),
        (
            lambda c: build_bulk_upsert_contacts([c]),
            (
                CreateContactV2(contact_channels=[ContactChannelInput.phone(PHONE)]),
                {"contact_channels": [{"channel_type": "phone", "channel_id": PHONE}]},
            ),
        ),
    ],
    ids=[
        "template",
        "schedule",
        "add-channel",
        "update-channel",
        "v2-create",
        "users",
        "batch",
        "upsert-update",
        "upsert-create",
    ],
)
def test_nested_mappings_build_the_same_request_as_models(
    as_model: Callable[[Any], ApiRequest], as_mapping: tuple[Any, Any]
) -> None:
    """A mapping with the documented fields and the model give byte-identical requests."""
    model, mapping = as_mapping
    from_model, from_mapping = as_model(model), as_model(mapping)
    assert from_mapping == from_model
    assert from_mapping.body_bytes() == from_model.body_bytes()


@pytest.mark.parametrize(
    ("build", "field", "reason"),
    [
        (lambda: CreateTemplate(title="T", content={"txt": "Hi"}), "content", "'txt'"),
        (lambda: CreateTemplate(title="T", content={"text": 5}), "content.text", "string"),
        (lambda: CreateTemplate(title="T", content={}), "content", "some content"),
        (lambda: CreateTemplate(title="T", content=None), "content", "mapping"),  # type: ignore[arg-type]
        (
            lambda: GalleryContent(gallery=[{"url": IMAGE, "position": 1}]),
            "gallery[0]",
            "'position'",
        ),
        (
            lambda: GalleryContent(gallery=[{"url": "ftp://x"}]),
            "gallery[0].url",
            "http",
        ),
        (lambda: _schedule({"text": "Hi", "from": PHONE}), "content", "'from'"),
        (lambda: _schedule({"text": "Hi", "to": "+1 510"}), "content.to", "E.164"),
        (
            lambda: _schedule({"template": {"id": math.nan}}),
            "content.template['id']",
            "finite",
        ),
        (
            lambda: _schedule({"attachments": [{"url": IMAGE, "name": 3}]}),
            "content.attachments[0].name",
            "string",
        ),
        (lambda: _schedule({1: "x"}), "content", "unknown field"),
        (lambda: build_add_channel(UUID, {"type": "phone"}), "channel", "'type'"),
        (lambda: build_add_channel(UUID, None), "channel", "ContactChannelInput"),  # type: ignore[arg-type]
        (
            lambda: build_add_channel(UUID, {"channel_type": "phone", "channel_id": "x"}),
            "channel.channel_id",
            "E.164",
        ),
        (
            lambda: CreateContactV2(contact_channels=[{"channel_type": "phone"}]),
            "contact_channels[0]",
            "channel_id",
        ),
        (lambda: UpdateUsers(users=[{"id": True}]), "users[0].id", "positive"),
        (
            lambda: build_bulk_upsert_contacts([{"contact_id": "..", "first": "B"}]),
            "contacts[0].contact_id",
            "UUID",
        ),
        (
            lambda: build_batch_create_contacts([{"phone": PHONE, "tags": [{"id": 5}]}]),
            "contacts[0].tags[0]",
            "positive",
        ),
    ],
)
def test_nested_mappings_are_validated_like_models(
    build: Callable[[], object], field: str, reason: str
) -> None:
    """Unknown keys and wrong values in a nested mapping name the key or the nested field."""
    with pytest.raises(RequestValidationError, match=reason) as info:
        build()
    assert info.value.field == field


def test_schedule_targets_and_template_objects_are_checked_as_json() -> None:
    """Object targets and template objects pass through only when they are strict JSON."""
    with pytest.raises(RequestValidationError) as info:
        CreateSchedule(
            inbox_id=1,
            execute_at=LATER,
            content=ScheduledContent(text="x"),
            targets=[{"phone": PHONE}, {"phone": math.inf}],
            now=NOW,
        )
    assert info.value.field == "targets[1]['phone']"
    with pytest.raises(RequestValidationError, match="finite"):
        ScheduledContent(template={"id": math.nan})


def test_custom_fields_refuse_nan_before_the_body_is_built() -> None:
    """A NaN custom field fails at construction; the request is never built."""
    with pytest.raises(RequestValidationError) as info:
        ContactPayload(custom={"12": math.nan})
    assert info.value.field == "custom['12']"
    request = build_create_contact(CreateContact(phone=PHONE, custom={"12": 1.5}))
    assert request.body_bytes() == b'{"phone":"15105553344","custom":{"12":1.5}}'


def test_validation_errors_stay_value_errors() -> None:
    """Everything refused here is a RequestValidationError, hence a ValueError."""
    assert issubclass(errors.RequestValidationError, ValueError)

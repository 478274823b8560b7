"""Scheduled messages: ``/v1/schedule`` create, get, update, delete.

Contract: heymarket-api.md §2.6 (seed S5). The request names the send time ``execute_at``,
the answer ``execute``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse, path
from ..errors import RequestValidationError
from ._base import Resource, ResponseModel, Timeout, read_model

__all__ = [
    "MIN_LEAD_TIME",
    "Attachment",
    "CreateSchedule",
    "GalleryEntry",
    "Schedule",
    "ScheduleCreated",
    "ScheduleDeleted",
    "ScheduleMeta",
    "ScheduleMetaContent",
    "ScheduleUpdated",
    "ScheduledContent",
    "Schedules",
    "UpdateSchedule",
    "build_create_schedule",
    "build_delete_schedule",
    "build_get_schedule",
    "build_update_schedule",
    "read_schedule_written",
]

T = TypeVar("T", bound=ResponseModel)

MIN_LEAD_TIME: Final = timedelta(minutes=15)
"""§2.6: a schedule must be at least this far in the future."""
_SLOT_MINUTES: Final = 15  # §2.6: send times fall on :00, :15, :30 or :45


# --- Request models -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Attachment:
    """A file attached to scheduled content (``{name, type, url}`` in the API reference)."""

    url: str = attrs.field(validator=check.http_url)
    name: str | None = attrs.field(default=None, validator=check.optional_text)
    type: str | None = attrs.field(default=None, validator=check.optional_text)


def _annotation_position(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        check.check_json_value(attribute.name, value)
        return
    if not isinstance(value, str):
        raise RequestValidationError(
            attribute.name, f"must be text or an integer, got {type(value).__name__}"
        )
    check.check_text(attribute.name, value)


@attrs.frozen(kw_only=True)
class GalleryEntry:
    """A gallery image in scheduled content (field meanings are undocumented)."""

    url: str = attrs.field(validator=check.http_url)
    original_url: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.http_url)
    )
    annotation_text: str | None = attrs.field(default=None, validator=check.optional_text)
    annotation_position: str | int | None = attrs.field(
        default=None, validator=_annotation_position
    )


# Items may be models or mappings with the documented fields (copied from the API
# reference); anything that is not a list is left for the validator to refuse by name.


def _attachments(
    value: Iterable[Attachment | Mapping[str, Any]],
) -> tuple[Attachment, ...]:
    return check.nested_tuple(Attachment, "attachments", value)


def gallery_entries(
    value: Iterable[GalleryEntry | Mapping[str, Any]],
) -> tuple[GalleryEntry, ...]:
    """attrs converter: gallery entries given as models or mappings, as a tuple."""
    return check.nested_tuple(GalleryEntry, "gallery", value)


def _items_of(kind: type[Any]) -> Callable[[object, attrs.Attribute[Any], object], None]:
    def validate(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, tuple):
            raise RequestValidationError(
                attribute.name, f"must be a list of {kind.__name__}, got {type(value).__name__}"
            )
        for index, item in enumerate(value):
            if not isinstance(item, kind):
                raise RequestValidationError(
                    f"{attribute.name}[{index}]",
                    f"must be a {kind.__name__}, got {type(item).__name__}",
                )

    return validate


@attrs.frozen(kw_only=True)
class ScheduledContent:
    """What a scheduled message sends: ``text``, a ``template``, files, or a mix.

    Args:
        text: the message body.
        template: a template id (the API also documents an object here; a mapping of JSON
            values is sent as given).
        to: the recipient, E.164 digits without ``+``.
        attachments: files to attach.
        gallery: gallery images.

    Raises:
        RequestValidationError: the content is empty or a field is invalid.
    """

    text: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    template: int | Mapping[str, Any] | None = attrs.field(default=None)
    to: str | None = attrs.field(default=None, validator=attrs.validators.optional(check.phone))
    attachments: tuple[Attachment, ...] = attrs.field(
        default=(), converter=_attachments, validator=_items_of(Attachment)
    )
    gallery: tuple[GalleryEntry, ...] = attrs.field(
        default=(), converter=gallery_entries, validator=_items_of(GalleryEntry)
    )

    @template.validator
    def _check_template(self, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, Mapping):
            check.check_json_value(attribute.name, value)
        elif value is not None:
            check.check_positive_int(attribute.name, value)

    def __attrs_post_init__(self) -> None:
        if self.text is None and self.template is None and not (self.attachments or self.gallery):
            raise RequestValidationError(
                "content", "give some content: text, template, attachments or gallery"
            )


def _schedule_targets(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # §2.6: group MMS targets; the element shape is undocumented, so phone strings are
    # checked and objects are passed through as given.
    if not isinstance(value, tuple):
        raise RequestValidationError(
            attribute.name, f"must be a list, not a single {type(value).__name__}"
        )
    for index, item in enumerate(value):
        if isinstance(item, Mapping):
            check.check_json_value(f"{attribute.name}[{index}]", item)
        else:
            check.check_phone(f"{attribute.name}[{index}]", item)


def _execute_at(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check.aware_datetime(_inst, attribute, value)
    assert isinstance(value, datetime)
    utc = value.astimezone(UTC)
    if utc.minute % _SLOT_MINUTES or utc.second or utc.microsecond:
        raise RequestValidationError(
            attribute.name,
            f"must fall on a 15-minute boundary (:00, :15, :30 or :45, zero seconds), "
            f"got {value.isoformat()}",
        )


def _content(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, ScheduledContent):
        raise RequestValidationError(
            attribute.name,
            f"must be a ScheduledContent or a mapping of its fields, got {type(value).__name__}",
        )


def _scheduled_content(value: ScheduledContent | Mapping[str, Any]) -> ScheduledContent:
    return check.nested(ScheduledContent, "content", value)


def _schedule_targets_tuple(value: Iterable[str | Mapping[str, Any]]) -> tuple[Any, ...]:
    return check.str_tuple(value)  # type: ignore[arg-type]  # the validator judges the rest


@attrs.frozen(kw_only=True)
class _ScheduleBody:
    """The body shared by create and update (§2.6)."""

    inbox_id: int = attrs.field(validator=check.positive_int)
    execute_at: datetime = attrs.field(validator=_execute_at)
    content: ScheduledContent = attrs.field(converter=_scheduled_content, validator=_content)
    phone_number: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.phone)
    )
    conversation_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    list_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    targets: tuple[str | Mapping[str, Any], ...] = attrs.field(
        default=(), converter=_schedule_targets_tuple, validator=_schedule_targets
    )
    user_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    # Injected clock for the "15 minutes ahead" rule (tests, or a caller's own clock).
    # It is never sent.
    now: datetime | None = attrs.field(
        default=None,
        eq=False,
        repr=False,
        validator=attrs.validators.optional(check.aware_datetime),
    )

    def __attrs_post_init__(self) -> None:
        check.check_exactly_one(
            (
                ("phone_number", self.phone_number),
                ("conversation_id", self.conversation_id),
                ("list_id", self.list_id),
                ("targets", self.targets),
            ),
            choices="target: phone_number, conversation_id, list_id or targets",
        )
        # Items may be objects (their shape is undocumented), so only the count is checked.
        if self.targets and len(self.targets) < 2:
            raise RequestValidationError(
                "targets", "a group MMS needs at least 2 recipients; use phone_number for one"
            )
        now = datetime.now(UTC) if self.now is None else self.now
        try:
            earliest = now + MIN_LEAD_TIME
        except OverflowError as exc:
            raise RequestValidationError("now", f"{now.isoformat()} is out of range") from exc
        if self.execute_at < earliest:
            raise RequestValidationError(
                "execute_at",
                f"must be at least 15 minutes in the future, got {self.execute_at.isoformat()} "
                f"at {now.isoformat(timespec='seconds')}",
            )


@attrs.frozen(kw_only=True)
class CreateSchedule(_ScheduleBody):
    """A validated ``POST /v1/schedule`` request.

    ``execute_at`` must be timezone-aware, on a 15-minute boundary, and at least 15
    minutes after ``now`` (default: the current time); give exactly one target. A
    ``local_id`` is generated when omitted, to identify the schedule later; the API does
    not promise dedupe for it, so this request is never resent after an ambiguous failure.

    Raises:
        RequestValidationError: a field or a combination of fields is invalid.
    """

    local_id: str = attrs.field(factory=check.new_local_id, validator=check.local_id)


@attrs.frozen(kw_only=True)
class UpdateSchedule(_ScheduleBody):
    """A validated ``PUT /v1/schedule/{id}`` request: the whole body, as for create."""

    schedule_id: int = attrs.field(validator=check.positive_int)
    local_id: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.local_id)
    )


# --- Response models -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ScheduleMetaContent:
    """The content stored with a schedule (``meta.content``); fields as the API sends them."""

    text: str | None = None
    template: int | dict[str, Any] | None = None
    to: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    gallery: tuple[dict[str, Any], ...] = ()
    local_day: int | None = None
    local_time: str | None = None
    offset: int | None = None


@attrs.frozen(kw_only=True)
class ScheduleMeta:
    """A schedule's ``meta``: its content, target and campaign links."""

    content: ScheduleMetaContent | None = None
    conversation_id: int | None = None
    list_id: int | None = None
    campaign_id: int | None = None
    campaign_step_id: int | None = None
    campaign_target_phone: str | None = None


@attrs.frozen(kw_only=True)
class Schedule(ResponseModel):
    """A scheduled message as ``GET /v1/schedule/{id}`` returns it.

    ``execute`` is the send time (the request field is ``execute_at``).
    """

    id: int
    execute: datetime | None = None
    inbox_id: int | None = None
    local_id: str | None = None
    meta: ScheduleMeta | None = None
    op: str | None = None
    rev: int | None = None
    created: datetime | None = None
    updated: datetime | None = None


@attrs.frozen(kw_only=True)
class ScheduleCreated(ResponseModel):
    """The answer to a create.

    Attributes:
        id: the schedule's id; ``None`` when the server answered without one (its answer
            is undocumented: ``{id}`` per one source, possibly a bare ``"ok"``).
        local_id: the ``local_id`` the request carried.
    """

    id: int | None = None
    local_id: str | None = None


@attrs.frozen(kw_only=True)
class ScheduleUpdated(ResponseModel):
    """The answer to an update; ``id`` is the schedule's."""

    id: int
    rev: int | None = None


@attrs.frozen(kw_only=True)
class ScheduleDeleted(ResponseModel):
    """The answer to a delete; ``id`` is the schedule's."""

    id: int


def _template(value: object, _type: object) -> int | dict[str, Any] | None:
    # §2.6: an object in the docs, an int in the GET schema.
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError(f"template must be an id or an object, got {value!r}")


converter.register_structure_hook(int | dict[str, Any] | None, _template)
for _model in (
    ScheduleMetaContent,
    ScheduleMeta,
    Schedule,
    ScheduleCreated,
    ScheduleUpdated,
    ScheduleDeleted,
):
    check.read_leniently(_model)

# --- Wire mapping -----------------------------------------------------------------------------

# `now` is a local clock, never sent; ids in the path are not repeated in the body; a
# caller-given local_id must be sent even though its default is a factory.
converter.register_unstructure_hook(
    CreateSchedule,
    make_dict_unstructure_fn(
        CreateSchedule,
        converter,
        _cattrs_omit_if_default=True,
        now=override(omit=True),
        local_id=override(omit_if_default=False),
    ),
)
converter.register_unstructure_hook(
    UpdateSchedule,
    make_dict_unstructure_fn(
        UpdateSchedule,
        converter,
        _cattrs_omit_if_default=True,
        now=override(omit=True),
        schedule_id=override(omit=True),
    ),
)


def build_create_schedule(create: CreateSchedule) -> ApiRequest:
    """``POST /v1/schedule``.

    Not replay-safe: §4 promises no dedupe for a schedule's ``local_id``, and no endpoint
    lists schedules to reconcile with, so an ambiguous failure is reported, not resent.
    """
    return ApiRequest(
        method="POST",
        path="/v1/schedule",
        json=unstructure(create),
        idempotency_key=create.local_id,
        replay_safe=False,
    )


def build_get_schedule(schedule_id: int) -> ApiRequest:
    """``GET /v1/schedule/{id}``."""
    check.check_positive_int("schedule_id", schedule_id)
    return ApiRequest(method="GET", path=path("/v1/schedule/{}", schedule_id))


def build_update_schedule(update: UpdateSchedule) -> ApiRequest:
    """``PUT /v1/schedule/{id}``: a full replacement, so repeating it is harmless."""
    return ApiRequest(
        method="PUT",
        path=path("/v1/schedule/{}", update.schedule_id),
        json=unstructure(update),
        idempotency_key=update.local_id,
    )


def build_delete_schedule(schedule_id: int) -> ApiRequest:
    """``DELETE /v1/schedule/{id}``."""
    check.check_positive_int("schedule_id", schedule_id)
    return ApiRequest(method="DELETE", path=path("/v1/schedule/{}", schedule_id))


def _as_object(response: ApiResponse, known: Mapping[str, Any]) -> ApiResponse:
    # Write answers are undocumented (§2.6): an object, a bare id, "ok" or nothing. What we
    # already know fills the gaps; what the server says wins.
    data = response.data
    if isinstance(data, dict):
        inner = data.get("schedule")
        data = inner if isinstance(inner, dict) else data
    elif isinstance(data, int) and not isinstance(data, bool):
        data = {"id": data}
    elif isinstance(data, str) and data.isascii() and data.isdigit() and len(data) <= 18:
        data = {"id": int(data)}
    else:
        data = {}
    return attrs.evolve(response, data={**known, **data})


def read_schedule_written(response: ApiResponse, into: type[T], **known: Any) -> T:
    """A create/update/delete answer of any shape read into ``into``, gaps filled by ``known``."""
    return read_model(_as_object(response, known), into)


class Schedules(Resource):
    """Messages scheduled for later."""

    async def create(
        self,
        *,
        inbox_id: int,
        execute_at: datetime,
        content: ScheduledContent | Mapping[str, Any],
        phone_number: str | None = None,
        conversation_id: int | None = None,
        list_id: int | None = None,
        targets: Iterable[str | Mapping[str, Any]] = (),
        local_id: str | None = None,
        user_id: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ScheduleCreated:
        """Schedule a message.

        Not retried after an ambiguous failure (5xx, timeout, reset): the API promises no
        dedupe here, so resending could schedule the message twice.

        Args:
            inbox_id: the sending inbox.
            execute_at: the send time: timezone-aware, on :00/:15/:30/:45, and at least 15
                minutes ahead.
            content: what to send: a :class:`ScheduledContent`, or a mapping of its fields
                as in the API reference (``{"text": ..., "to": ...}``).
            phone_number, conversation_id, list_id, targets: exactly one target.
            local_id: your identifier; generated when omitted.
            user_id: send as this member (default: the team owner).

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
        """
        extra: dict[str, Any] = {} if local_id is None else {"local_id": local_id}
        create = CreateSchedule(
            inbox_id=inbox_id,
            execute_at=execute_at,
            content=content,
            phone_number=phone_number,
            conversation_id=conversation_id,
            list_id=list_id,
            targets=targets,
            user_id=user_id,
            **extra,
        )
        response = await self._requester.request(build_create_schedule(create), timeout=timeout)
        return read_schedule_written(response, ScheduleCreated, local_id=create.local_id)

    async def get(self, schedule_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT) -> Schedule:
        """One scheduled message."""
        response = await self._requester.request(build_get_schedule(schedule_id), timeout=timeout)
        return read_model(response, Schedule, wrapper="schedule")

    async def update(
        self,
        schedule_id: int,
        *,
        inbox_id: int,
        execute_at: datetime,
        content: ScheduledContent | Mapping[str, Any],
        phone_number: str | None = None,
        conversation_id: int | None = None,
        list_id: int | None = None,
        targets: Iterable[str | Mapping[str, Any]] = (),
        local_id: str | None = None,
        user_id: int | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> ScheduleUpdated:
        """Replace a scheduled message's time, content and target (same rules as create)."""
        update = UpdateSchedule(
            schedule_id=schedule_id,
            inbox_id=inbox_id,
            execute_at=execute_at,
            content=content,
            phone_number=phone_number,
            conversation_id=conversation_id,
            list_id=list_id,
            targets=targets,
            local_id=local_id,
            user_id=user_id,
        )
        response = await self._requester.request(build_update_schedule(update), timeout=timeout)
        return read_schedule_written(response, ScheduleUpdated, id=schedule_id)

    async def delete(
        self, schedule_id: int, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> ScheduleDeleted:
        """Cancel and remove a scheduled message."""
        request = build_delete_schedule(schedule_id)
        response = await self._requester.request(request, timeout=timeout)
        return read_schedule_written(response, ScheduleDeleted, id=schedule_id)

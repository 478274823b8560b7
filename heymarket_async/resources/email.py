"""Email: ``POST /v1/email/send`` (heymarket-api.md §2.1, seed S3)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import attrs
from cattrs.gen import make_dict_unstructure_fn, override

from .. import _validation as check
from .._config import USE_CLIENT_DEFAULT
from .._converter import converter, unstructure
from .._protocol import ApiRequest, ApiResponse
from ..errors import RequestValidationError
from ._base import Resource, ResponseModel, Timeout, read_model

__all__ = ["Emails", "SendEmail", "SentEmail", "build_send_email", "read_sent_email"]

_TARGET_PREFIXES: Final = ("to:", "cc:")


def _email_targets(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # §2.1: each item is "to:" or "cc:" followed by one or more comma-separated addresses.
    items = value if isinstance(value, tuple) else None
    if items is None:
        raise RequestValidationError(
            attribute.name, f"must be a list, not a single {type(value).__name__}"
        )
    for index, item in enumerate(items):
        name = f"{attribute.name}[{index}]"
        if not isinstance(item, str) or not item.startswith(_TARGET_PREFIXES):
            raise RequestValidationError(
                name,
                f"must start with 'to:' or 'cc:' (e.g. 'to:a@example.com'), got {check.show(item)}",
            )
        addresses = item[3:].split(",")
        for address in addresses:
            check.email_address(name, address.strip())


@attrs.frozen(kw_only=True)
class SendEmail:
    """A validated ``POST /v1/email/send`` request.

    Start a thread with ``targets`` (e.g. ``["to:a@example.com,b@example.com",
    "cc:c@example.com"]``) or reply into one with ``convo_id``, not both. ``inbox`` is the
    email inbox id (the API's name, not ``inbox_id``). Without a ``local_id`` one is
    generated here, once; the API promises a repeat with the same ``local_id`` creates no
    second email.

    Raises:
        RequestValidationError: a field or a combination of fields is invalid.
    """

    creator_id: int = attrs.field(validator=check.positive_int)
    inbox: int = attrs.field(validator=check.positive_int)
    text: str = attrs.field(validator=check.non_empty_text)
    raw_text: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    conv_title: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    targets: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=_email_targets
    )
    convo_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    # §4: one local_id per logical send, reused by every retry.
    local_id: str = attrs.field(factory=check.new_local_id, validator=check.local_id)

    def __attrs_post_init__(self) -> None:
        if bool(self.targets) == (self.convo_id is not None):
            raise RequestValidationError(
                None,
                "give either targets (a new email thread) or convo_id (a reply), exactly one",
            )


@attrs.frozen(kw_only=True)
class SentEmail(ResponseModel):
    """The answer to an email send: queued, not yet delivered.

    Attributes:
        id: the created message's id.
        convo_id: the conversation; pass it as ``convo_id`` to reply in the same thread.
        queued: whether it is queued for delivery.
        date: when the server created it.
        compliance_results: as sent by the server (contents undocumented).
        local_id: the ``local_id`` the request carried.
    """

    id: int
    convo_id: int | None = None
    queued: bool | None = None
    date: datetime | None = None
    compliance_results: dict[str, Any] | None = None
    local_id: str | None = None


check.read_leniently(SentEmail)
# A caller-given local_id must be sent even though its default is a factory.
converter.register_unstructure_hook(
    SendEmail,
    make_dict_unstructure_fn(
        SendEmail, converter, _cattrs_omit_if_default=True, local_id=override(omit_if_default=False)
    ),
)


def build_send_email(send: SendEmail) -> ApiRequest:
    """``POST /v1/email/send``: replay-safe, since §4 documents dedupe by ``local_id``."""
    return ApiRequest(
        method="POST",
        path="/v1/email/send",
        json=unstructure(send),
        idempotency_key=send.local_id,
        replay_safe=True,
    )


def read_sent_email(response: ApiResponse, send: SendEmail) -> SentEmail:
    """A :class:`SentEmail` from the answer (bare or under ``message``), with our ``local_id``.

    Raises:
        UnexpectedResponseError: the answer cannot be read; the email WAS accepted, and
            the error carries its ``local_id``.
    """
    sent = read_model(response, SentEmail, wrapper="message", local_id=send.local_id)
    return sent if sent.local_id is not None else attrs.evolve(sent, local_id=send.local_id)


class Emails(Resource):
    """Send email from an email inbox."""

    async def send(
        self,
        *,
        creator_id: int,
        inbox: int,
        text: str,
        targets: Iterable[str] = (),
        convo_id: int | None = None,
        raw_text: str | None = None,
        conv_title: str | None = None,
        local_id: str | None = None,
        timeout: Timeout = USE_CLIENT_DEFAULT,
    ) -> SentEmail:
        """Send an email, or reply in an email thread.

        Retries after a timeout or 5xx resend the same ``local_id``, which the API
        deduplicates.

        Args:
            creator_id: the sending user.
            inbox: the email inbox id.
            text: the body; HTML allowed.
            targets: ``"to:..."`` / ``"cc:..."`` items for a new thread.
            convo_id: the thread to reply in, instead of ``targets``.
            raw_text: a plain-text alternative.
            conv_title: the title of a new thread.
            local_id: your idempotency key; generated when omitted.

        Raises:
            RequestValidationError: invalid arguments; nothing was sent.
            APIError: the API refused the email.
        """
        # Leaving local_id out lets the model generate it.
        extra: dict[str, Any] = {} if local_id is None else {"local_id": local_id}
        send = SendEmail(
            creator_id=creator_id,
            inbox=inbox,
            text=text,
            targets=targets,
            convo_id=convo_id,
            raw_text=raw_text,
            conv_title=conv_title,
            **extra,
        )
        return await self.send_request(send, timeout=timeout)

    async def send_request(
        self, send: SendEmail, *, timeout: Timeout = USE_CLIENT_DEFAULT
    ) -> SentEmail:
        """Send a prebuilt :class:`SendEmail`.

        Raises:
            RequestValidationError: ``send`` is not a :class:`SendEmail`.
        """
        if not isinstance(send, SendEmail):
            raise RequestValidationError("send", f"must be a SendEmail, got {type(send).__name__}")
        response = await self._requester.request(build_send_email(send), timeout=timeout)
        return read_sent_email(response, send)

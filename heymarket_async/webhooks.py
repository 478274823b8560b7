"""Heymarket webhooks (§5): typed events, token check, dedupe keys and an aiohttp receiver.

Heymarket POSTs a JSON envelope ``{"type", "id", "token", "event_data"}`` to a URL set in
the app's webhook settings. The pure half of this module (:func:`parse_event`,
:func:`verify_token`, :attr:`WebhookEvent.dedupe_key`) needs no event loop; the receiver
(:func:`create_webhook_app`, :class:`WebhookReceiver`) checks the token, answers 200 at
once, drops redeliveries and runs your ``async`` callback in the background.

Example::

    from aiohttp import web
    from heymarket_async.webhooks import MessageEvent, WebhookEvent, create_webhook_app

    async def on_event(event: WebhookEvent) -> None:
        if isinstance(event, MessageEvent) and event.is_inbound:
            print(event.message.text, event.message.conversation)

    web.run_app(create_webhook_app(on_event, token="the token shown in the app"))
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, Final, TypeVar

import attrs
import cattrs
from aiohttp import web

from ._converter import converter
from .errors import ConfigurationError, HeymarketError
from .resources.messages import Conversation, Message

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_REMEMBERED",
    "DEFAULT_PATH",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "MAX_EVENT_DEPTH",
    "WEBHOOK_RECEIVER_KEY",
    "CallEvent",
    "ChatEvent",
    "EventType",
    "MessageEvent",
    "OptEvent",
    "UnknownEvent",
    "WebhookCallback",
    "WebhookEvent",
    "WebhookPayloadError",
    "WebhookReceiver",
    "create_webhook_app",
    "parse_event",
    "verify_token",
    "webhook_handler",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PATH: Final = "/heymarket/webhook"
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
DEFAULT_MAX_REMEMBERED: Final = 10_000
DEFAULT_SHUTDOWN_TIMEOUT: Final = 5.0
DEFAULT_BODY_TIMEOUT: Final = 10.0
"""Seconds a sender gets to deliver a whole body before the receiver answers 408."""

# A Message is a few levels deep; anything far deeper is not an event, and walking it
# (parsing, hashing for dedupe, a user's callback) could exhaust the recursion limit.
MAX_EVENT_DEPTH: Final = 32
# Webhook configuration ids are database ids: at most a signed 64-bit integer.
_MAX_WEBHOOK_ID: Final = 2**63 - 1

_ENVELOPE_FIELDS: Final = ("type", "id", "token", "event_data")
_SECRET_PATH_RE: Final = re.compile(r"[A-Za-z0-9._~-]+")


class WebhookPayloadError(HeymarketError, ValueError):
    """A webhook body is not a Heymarket event envelope (§5).

    Raised for malformed JSON, a missing or mistyped envelope field, or an ``event_data``
    that does not have the shape its event type promises. Extra fields are never an error.
    """


class EventType(StrEnum):
    """The documented webhook event types (§5).

    Values are the API's wire strings. The inbound-message event is spelled
    ``"message_recieved"`` on the wire; its member is the correctly spelled
    ``MESSAGE_RECEIVED``, and ``EventType("message_received")`` is accepted too in case the
    API ever fixes the spelling.
    """

    MESSAGE_SENT = "message_sent"
    MESSAGE_RECEIVED = "message_recieved"  # §5: the API's own spelling, matched exactly
    CHAT_REASSIGNED = "chat_reassigned"
    CHAT_CLOSED = "chat_closed"
    CHAT_OPENED = "chat_opened"
    CHAT_PENDING = "chat_pending"
    CHAT_TRANSFERRED = "chat_transferred"
    TARGET_OPT_OUT = "target_opt_out"
    TARGET_OPT_IN = "target_opt_in"
    TARGET_DOUBLE_OPT_IN = "target_double_opt_in"
    TARGET_DOUBLE_OPT_RESTRICTED = "target_double_opt_restricted"
    INCOMING_CALL = "incoming_call"

    @classmethod
    def _missing_(cls, value: object) -> EventType | None:
        if value == "message_received":
            return cls.MESSAGE_RECEIVED
        return None


_MESSAGE_TYPES: Final = frozenset({EventType.MESSAGE_SENT, EventType.MESSAGE_RECEIVED})
_CHAT_TYPES: Final = frozenset(
    {
        EventType.CHAT_REASSIGNED,
        EventType.CHAT_CLOSED,
        EventType.CHAT_OPENED,
        EventType.CHAT_PENDING,
        EventType.CHAT_TRANSFERRED,
    }
)
_OPT_TYPES: Final = frozenset(
    {
        EventType.TARGET_OPT_OUT,
        EventType.TARGET_OPT_IN,
        EventType.TARGET_DOUBLE_OPT_IN,
        EventType.TARGET_DOUBLE_OPT_RESTRICTED,
    }
)


def _digest(data: Mapping[str, Any]) -> str:
    """A hash of the canonical JSON of ``data`` (sorted keys, no whitespace)."""
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _first_text(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


# --- Events --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WebhookEvent:
    """One webhook delivery (§5); every parsed event is one of its subclasses.

    Attributes:
        type: an :class:`EventType` for documented types, the raw string otherwise.
        webhook_id: the envelope's ``id``: the webhook *configuration* that sent this, not
            an event id (several deliveries share it).
        token: the configuration's verification token; never shown in ``repr``.
        event_data: the ``event_data`` object exactly as received.
    """

    type: EventType | str
    webhook_id: int
    token: str = attrs.field(repr=False)
    event_data: Mapping[str, Any]

    @property
    def dedupe_key(self) -> tuple[str, str]:
        """``(type, stable id)``: equal for redeliveries of one event (§5 asks for this dedupe).

        The id is the message id for message events, the conversation id and ``updated``
        for chat events, and otherwise a SHA-256 of the canonical ``event_data`` JSON.
        """
        return (str(self.type), self._stable_id())

    def _stable_id(self) -> str:
        return _digest(self.event_data)


@attrs.frozen(kw_only=True)
class MessageEvent(WebhookEvent):
    """``message_sent`` or ``message_recieved`` (sic): ``event_data`` is a Message (§2.1).

    Attributes:
        message: the message; ``message.conversation.id`` is the ``chat_id`` to reply into.
    """

    message: Message

    @property
    def is_inbound(self) -> bool:
        """Whether a contact sent this message to you (``message_recieved``)."""
        return self.type == EventType.MESSAGE_RECEIVED

    def _stable_id(self) -> str:
        return str(self.message.id)


@attrs.frozen(kw_only=True)
class ChatEvent(WebhookEvent):
    """A conversation was reassigned, closed, opened, set pending or transferred (§2.3).

    Attributes:
        conversation: the conversation after the change.
    """

    conversation: Conversation

    def _stable_id(self) -> str:
        # One conversation changes many times; its `updated` stamp tells the changes apart.
        updated = self.event_data.get("updated")
        if isinstance(updated, str | int | float) and not isinstance(updated, bool) and updated:
            return f"{self.conversation.id}@{updated}"
        return f"{self.conversation.id}#{_digest(self.event_data)}"


@attrs.frozen(kw_only=True)
class OptEvent(WebhookEvent):
    """A contact opted out or in, or double opt-in changed (``target_*`` events).

    §5: the payload's fields are undocumented, so it stays in ``event_data``.
    """

    @property
    def target(self) -> str | None:
        """The contact's phone number (``target``, ``phone`` or ``phone_number``), if present."""
        return _first_text(self.event_data, "target", "phone", "phone_number")

    @property
    def is_opt_out(self) -> bool:
        """Whether the contact opted out (``target_opt_out``)."""
        return self.type == EventType.TARGET_OPT_OUT


@attrs.frozen(kw_only=True)
class CallEvent(WebhookEvent):
    """``incoming_call``; §5: the payload shape is undocumented, so it stays in ``event_data``."""

    @property
    def target(self) -> str | None:
        """The caller's phone number (``target``, ``phone`` or ``phone_number``), if present."""
        return _first_text(self.event_data, "target", "phone", "phone_number")


@attrs.frozen(kw_only=True)
class UnknownEvent(WebhookEvent):
    """An event type this SDK does not know; ``type`` is the raw string (never an error)."""


# --- Parsing (pure) --------------------------------------------------------------------------


def _load_envelope(payload: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(payload, Mapping):
        data: object = payload
    else:
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError) as exc:
            raise WebhookPayloadError(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise WebhookPayloadError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _webhook_id(value: object) -> int:
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
        if text.isascii() and text.isdigit() and len(text) <= 19:
            value = int(text)
        else:
            raise WebhookPayloadError("id must be an integer, got a string that is not one")
    if isinstance(value, bool) or not isinstance(value, int):
        raise WebhookPayloadError(f"id must be an integer, got {type(value).__name__}")
    if not -_MAX_WEBHOOK_ID <= value <= _MAX_WEBHOOK_ID:
        raise WebhookPayloadError("id must be an integer of at most 64 bits")
    return value


def _check_depth(data: object, limit: int = MAX_EVENT_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` (iteratively, so any depth is safe)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[object] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > limit:
            raise WebhookPayloadError(f"event_data is nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def _read(data: Mapping[str, Any], into: type[T]) -> T:
    try:
        return converter.structure(data, into)
    except cattrs.BaseValidationError as exc:
        details = "; ".join(cattrs.transform_error(exc, path="$.event_data"))
        raise WebhookPayloadError(f"event_data is not a {into.__name__}: {details}") from exc
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise WebhookPayloadError(f"event_data is not a {into.__name__}: {exc}") from exc


def _event_from_envelope(envelope: Mapping[str, Any]) -> WebhookEvent:
    # §5: the generated schema marks all four envelope fields required.
    missing = [name for name in _ENVELOPE_FIELDS if name not in envelope]
    if missing:
        raise WebhookPayloadError(f"missing envelope field(s): {', '.join(missing)}")
    raw_type = envelope["type"]
    if not isinstance(raw_type, str) or not raw_type:
        raise WebhookPayloadError("type must be a non-empty string")
    webhook_id = _webhook_id(envelope["id"])
    token = envelope["token"]
    if not isinstance(token, str):
        raise WebhookPayloadError(f"token must be a string, got {type(token).__name__}")
    raw_data = envelope["event_data"]
    if not isinstance(raw_data, Mapping):
        raise WebhookPayloadError(
            f"event_data must be a JSON object, got {type(raw_data).__name__}"
        )
    _check_depth(raw_data)
    data = dict(raw_data)
    try:
        kind = EventType(raw_type)
    except ValueError:
        return UnknownEvent(type=raw_type, webhook_id=webhook_id, token=token, event_data=data)
    if kind in _MESSAGE_TYPES:
        return MessageEvent(
            type=kind,
            webhook_id=webhook_id,
            token=token,
            event_data=data,
            message=_read(data, Message),
        )
    if kind in _CHAT_TYPES:
        return ChatEvent(
            type=kind,
            webhook_id=webhook_id,
            token=token,
            event_data=data,
            conversation=_read(data, Conversation),
        )
    if kind in _OPT_TYPES:
        return OptEvent(type=kind, webhook_id=webhook_id, token=token, event_data=data)
    return CallEvent(type=kind, webhook_id=webhook_id, token=token, event_data=data)


def parse_event(payload: bytes | str | Mapping[str, Any]) -> WebhookEvent:
    """Parse one webhook body into a typed event; this does not check the token.

    Unknown event types become :class:`UnknownEvent` and unknown fields are ignored, so new
    server-side additions never break a receiver.

    Args:
        payload: the raw request body, or the already decoded JSON object.

    Returns:
        A :class:`MessageEvent`, :class:`ChatEvent`, :class:`OptEvent`, :class:`CallEvent`
        or :class:`UnknownEvent`.

    Raises:
        WebhookPayloadError: malformed JSON, a missing or mistyped envelope field, or an
            ``event_data`` of the wrong shape for its type.
    """
    return _event_from_envelope(_load_envelope(payload))


def verify_token(payload_token: str, expected: str) -> bool:
    """Whether a delivery's ``token`` equals the one configured for the webhook (§5).

    The comparison takes the same time wherever the strings differ, so it leaks nothing
    about the expected token. Non-ASCII text is compared as UTF-8. An empty ``expected``
    never matches.

    Args:
        payload_token: the ``token`` field of the delivery.
        expected: the token shown in the Heymarket app's webhook settings.
    """
    if not expected:
        return False
    return hmac.compare_digest(
        payload_token.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


# --- Receiver (aiohttp) ------------------------------------------------------------------------

WebhookCallback = Callable[[WebhookEvent], Awaitable[object]]
"""The user's ``async def callback(event)``; its return value is ignored."""


def _reply(
    status: int, *, error: str | None = None, headers: Mapping[str, str] | None = None, **extra: Any
) -> web.Response:
    body: dict[str, Any] = {"ok": error is None, **extra}
    if error is not None:
        body["error"] = error
    return web.json_response(body, status=status, headers=headers)


class WebhookReceiver:
    """Receives Heymarket webhook deliveries and hands typed events to an async callback.

    Mount :meth:`handle` on a route and append :meth:`on_cleanup` to the app's
    ``on_cleanup`` (or use :func:`create_webhook_app`, which does both). Per delivery:
    only ``POST`` (else 405); a body over ``max_body_bytes`` gets 413; a body not received
    in full within ``body_timeout`` seconds gets 408 and the connection is closed (a slow
    sender cannot hold it open); malformed JSON 400; a wrong token 401, before
    ``event_data`` is read; a malformed event (including an odd ``id`` or an
    ``event_data`` nested deeper than :data:`MAX_EVENT_DEPTH`) 400; otherwise 200
    ``{"ok": true}`` at once, with the callback run in a background task. A redelivery
    whose :attr:`~WebhookEvent.dedupe_key` is among the last ``max_remembered`` keys gets
    200 and no callback. A callback that raises is logged and its key forgotten, so a
    later replay runs again.

    Args:
        callback: ``async def callback(event: WebhookEvent)``.
        token: the webhook's verification token from the Heymarket app.
        max_remembered: how many dedupe keys to keep (least recently seen dropped first);
            0 turns dedupe off.
        max_body_bytes: the largest accepted body.
        shutdown_timeout: seconds :meth:`close` waits for running callbacks before
            cancelling them.
        secret_path: when set, the last URL path segment must equal it (else 404): a
            second, unguessable factor beside the token (§5).
        body_timeout: seconds to receive a whole body before answering 408.

    Raises:
        ConfigurationError: an option is invalid (e.g. an empty token).
    """

    def __init__(
        self,
        callback: WebhookCallback,
        *,
        token: str,
        max_remembered: int = DEFAULT_MAX_REMEMBERED,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        secret_path: str | None = None,
        body_timeout: float = DEFAULT_BODY_TIMEOUT,
    ) -> None:
        if not callable(callback):
            raise ConfigurationError("callback must be an async function")
        if not token or not isinstance(token, str):
            raise ConfigurationError("token must be the non-empty token from the Heymarket app")
        if isinstance(max_remembered, bool) or not isinstance(max_remembered, int):
            raise ConfigurationError("max_remembered must be an integer")
        if max_remembered < 0:
            raise ConfigurationError("max_remembered must be 0 or more")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ConfigurationError("max_body_bytes must be an integer")
        if max_body_bytes <= 0:
            raise ConfigurationError("max_body_bytes must be positive")
        if not shutdown_timeout > 0:
            raise ConfigurationError("shutdown_timeout must be a positive number of seconds")
        if type(body_timeout) not in {int, float} or not 0 < body_timeout < math.inf:
            raise ConfigurationError("body_timeout must be a positive number of seconds")
        if secret_path is not None and not _SECRET_PATH_RE.fullmatch(secret_path):
            raise ConfigurationError(
                "secret_path must be URL-safe text (letters, digits, '-', '_', '.', '~'), "
                "e.g. secrets.token_urlsafe(32)"
            )
        self._callback = callback
        self._token = token
        self._max_remembered = max_remembered
        self._max_body_bytes = max_body_bytes
        self._shutdown_timeout = shutdown_timeout
        self._body_timeout = float(body_timeout)
        self._secret_path = secret_path
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(pending={self.pending}, remembered={len(self._seen)}, "
            f"max_remembered={self._max_remembered})"
        )

    @property
    def pending(self) -> int:
        """How many callbacks are running."""
        return len(self._tasks)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler: answer one delivery and schedule its callback."""
        if self._secret_path is not None and not verify_token(
            request.path.rsplit("/", 1)[-1], self._secret_path
        ):
            return _reply(404, error="not found")
        if request.method != "POST":
            return _reply(405, error="method not allowed", headers={"Allow": "POST"})
        if self._closing:
            # Not 2xx, so a sender that retries will deliver it to the next instance.
            return _reply(503, error="shutting down")
        try:
            async with asyncio.timeout(self._body_timeout):
                body = await self._read_body(request)
        except TimeoutError:
            logger.warning(
                "webhook delivery rejected: body not received within %g s", self._body_timeout
            )
            return await self._give_up(request)
        if body is None:
            return _reply(413, error=f"body larger than {self._max_body_bytes} bytes")
        try:
            envelope = _load_envelope(body)
        except WebhookPayloadError as exc:
            logger.warning("webhook delivery rejected: %s", exc)
            return _reply(400, error=str(exc))
        token = envelope.get("token")
        # §5: authenticate by token before trusting anything else in the body.
        if not isinstance(token, str) or not verify_token(token, self._token):
            logger.warning("webhook delivery rejected: invalid token")
            return _reply(401, error="invalid token")
        try:
            event = _event_from_envelope(envelope)
        except WebhookPayloadError as exc:
            logger.warning("webhook delivery rejected: %s", exc)
            return _reply(400, error=str(exc))
        if not self._remember(event.dedupe_key):
            # §5: redeliveries must not create duplicate work, yet still need a 2xx.
            logger.debug("webhook redelivery dropped: %s", event.dedupe_key)
            return _reply(200, duplicate=True)
        task = asyncio.create_task(self._run(event), name=f"heymarket-webhook-{event.type}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return _reply(200)

    async def join(self) -> None:
        """Wait until every callback started so far (and any started meanwhile) has ended."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self, *, timeout: float | None = None) -> None:
        """Refuse new deliveries (503), wait for running callbacks, then cancel the rest.

        Args:
            timeout: seconds to wait before cancelling; default ``shutdown_timeout``.
        """
        self._closing = True
        wait_s = self._shutdown_timeout if timeout is None else timeout
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=wait_s)
        if not pending:
            return
        logger.warning("cancelling %d webhook callback(s) still running at shutdown", len(pending))
        for task in pending:
            task.cancel()
        _done, stuck = await asyncio.wait(pending, timeout=wait_s)
        if stuck:
            logger.error("%d webhook callback(s) ignored cancellation", len(stuck))

    async def on_cleanup(self, _app: web.Application) -> None:
        """An ``app.on_cleanup`` hook that calls :meth:`close`."""
        await self.close()

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The body, or ``None`` when it exceeds the limit (checked while streaming)."""
        if request.content_length is not None and request.content_length > self._max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > self._max_body_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _give_up(self, request: web.Request) -> web.StreamResponse:
        """Answer 408, then close the connection at once instead of draining the body."""
        response = _reply(408, error=f"body not received within {self._body_timeout:g} s")
        response.force_close()
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:
            pass  # the sender is gone already
        # Otherwise aiohttp would keep reading the rest of the slow body ("lingering").
        request.protocol.force_close()
        return response

    def _remember(self, key: tuple[str, str]) -> bool:
        """Record ``key``; ``False`` when it was already among the remembered keys."""
        if self._max_remembered == 0:
            return True
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self._max_remembered:
            self._seen.popitem(last=False)
        return True

    async def _run(self, event: WebhookEvent) -> None:
        try:
            await self._callback(event)
        except Exception:
            # The delivery was acknowledged already, so the failure can only be logged;
            # forgetting the key lets a replay of the same event be processed again.
            self._seen.pop(event.dedupe_key, None)
            logger.exception(
                "webhook callback failed for a %s event (webhook id %d)",
                event.type,
                event.webhook_id,
            )


WEBHOOK_RECEIVER_KEY: Final = web.AppKey("heymarket_webhook_receiver", WebhookReceiver)
"""``app[WEBHOOK_RECEIVER_KEY]`` is the receiver inside an app from :func:`create_webhook_app`."""


def webhook_handler(
    callback: WebhookCallback,
    *,
    token: str,
    max_remembered: int = DEFAULT_MAX_REMEMBERED,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    secret_path: str | None = None,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An aiohttp handler for your own app, behaving as :class:`WebhookReceiver` describes.

    Nothing drains this handler's running callbacks when the app stops; to wait for them
    (then cancel them) on cleanup, build a :class:`WebhookReceiver`, mount its ``handle`` and
    append its ``on_cleanup`` instead.

    Raises:
        ConfigurationError: an option is invalid.
    """
    receiver = WebhookReceiver(
        callback,
        token=token,
        max_remembered=max_remembered,
        max_body_bytes=max_body_bytes,
        shutdown_timeout=shutdown_timeout,
        secret_path=secret_path,
        body_timeout=body_timeout,
    )
    return receiver.handle


def create_webhook_app(
    callback: WebhookCallback,
    *,
    token: str,
    path: str = DEFAULT_PATH,
    secret_path: str | None = None,
    max_remembered: int = DEFAULT_MAX_REMEMBERED,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> web.Application:
    """An aiohttp application that receives Heymarket webhooks at ``path``.

    Serve it with ``web.run_app`` or an ``AppRunner``, or nest it with ``add_subapp``. On
    cleanup, running callbacks get ``shutdown_timeout`` seconds to finish, then are
    cancelled. The :class:`WebhookReceiver` is ``app[WEBHOOK_RECEIVER_KEY]``.

    Args:
        callback: ``async def callback(event: WebhookEvent)``, run off the request path.
        token: the webhook's verification token from the Heymarket app.
        path: where deliveries arrive; with ``secret_path`` the URL is ``{path}/{secret_path}``.
        secret_path: an optional unguessable last path segment (§5).
        max_remembered: how many dedupe keys to keep; 0 turns dedupe off.
        max_body_bytes: the largest accepted body (larger ones get 413).
        shutdown_timeout: seconds to wait for callbacks at cleanup.
        body_timeout: seconds to receive a whole body; a slower sender gets 408.

    Raises:
        ConfigurationError: an option is invalid.
    """
    if not path.startswith("/"):
        raise ConfigurationError(f"path must start with '/', got {path!r}")
    receiver = WebhookReceiver(
        callback,
        token=token,
        max_remembered=max_remembered,
        max_body_bytes=max_body_bytes,
        shutdown_timeout=shutdown_timeout,
        secret_path=secret_path,
        body_timeout=body_timeout,
    )
    app = web.Application(client_max_size=max_body_bytes)
    route = path if secret_path is None else f"{path.rstrip('/')}/{{secret}}"
    # Every method reaches the handler, so a GET gets the same JSON 405 as elsewhere.
    app.router.add_route("*", route, receiver.handle)
    app[WEBHOOK_RECEIVER_KEY] = receiver
    app.on_cleanup.append(receiver.on_cleanup)
    return app

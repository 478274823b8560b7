"""An asyncio-first SDK for the Heymarket business-messaging REST API."""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

from ._version import version as _version

if _typing.TYPE_CHECKING:  # static analysis and IDEs see every name; runtime loads on first use
    from ._client import HeymarketClient
    from ._config import (
        DEFAULT_RETRY,
        DEFAULT_TIMEOUTS,
        USE_CLIENT_DEFAULT,
        RetryPolicy,
        Timeouts,
    )
    from ._protocol import ApiRequest, ApiResponse
    from ._validation import normalize_phone
    from .resources._base import ResponseList
    from .resources.contacts import (
        Contact,
        ContactBatchResult,
        ContactFailure,
        ContactField,
        ContactNote,
        ContactPayload,
        ContactSaved,
        ContactStatus,
        CreateContact,
        MessagingStatus,
        UpdateContact,
    )
    from .resources.contacts_v2 import (
        ContactChannel,
        ContactChannelInput,
        ContactUpsertResult,
        ContactV2,
        CreateContactV2,
        UpdateContactV2,
    )
    from .resources.conversations import (
        Acknowledgement,
        ChangeConversationState,
        MarkConversation,
        ReassignConversation,
        TransferConversation,
    )
    from .resources.email import SendEmail, SentEmail
    from .resources.inboxes import Inbox
    from .resources.lists import (
        CreateList,
        DeleteList,
        ListCreated,
        ListDeleted,
        ListUpdated,
        UpdateList,
    )
    from .resources.messages import (
        Conversation,
        ConversationMember,
        Message,
        SendMessage,
        SentMessage,
    )
    from .resources.schedules import (
        Attachment,
        CreateSchedule,
        GalleryEntry,
        Schedule,
        ScheduleCreated,
        ScheduledContent,
        ScheduleDeleted,
        ScheduleMeta,
        ScheduleMetaContent,
        ScheduleUpdated,
        UpdateSchedule,
    )
    from .resources.surveys import Survey
    from .resources.tags import (
        CreateTag,
        Tag,
        TagCreated,
        TagDeleted,
    )
    from .resources.team import Team, TeamMember
    from .resources.templates import (
        CreateTemplate,
        GalleryContent,
        Template,
        TemplateContent,
        TemplateCreated,
        TemplateDeleted,
        TemplateUpdated,
        UpdateTemplate,
    )
    from .resources.users import TeamUser, UserUpdate

__all__ = [
    "Acknowledgement",
    "ApiRequest",
    "ApiResponse",
    "Attachment",
    "ChangeConversationState",
    "Contact",
    "ContactBatchResult",
    "ContactChannel",
    "ContactChannelInput",
    "ContactFailure",
    "ContactField",
    "ContactNote",
    "ContactPayload",
    "ContactSaved",
    "ContactStatus",
    "ContactUpsertResult",
    "ContactV2",
    "Conversation",
    "ConversationMember",
    "CreateContact",
    "CreateContactV2",
    "CreateList",
    "CreateSchedule",
    "CreateTag",
    "CreateTemplate",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUTS",
    "DeleteList",
    "GalleryContent",
    "GalleryEntry",
    "HeymarketClient",
    "Inbox",
    "ListCreated",
    "ListDeleted",
    "ListUpdated",
    "MarkConversation",
    "Message",
    "MessagingStatus",
    "ReassignConversation",
    "ResponseList",
    "RetryPolicy",
    "Schedule",
    "ScheduleCreated",
    "ScheduleDeleted",
    "ScheduleMeta",
    "ScheduleMetaContent",
    "ScheduleUpdated",
    "ScheduledContent",
    "SendEmail",
    "SendMessage",
    "SentEmail",
    "SentMessage",
    "Survey",
    "Tag",
    "TagCreated",
    "TagDeleted",
    "Team",
    "TeamMember",
    "TeamUser",
    "Template",
    "TemplateContent",
    "TemplateCreated",
    "TemplateDeleted",
    "TemplateUpdated",
    "Timeouts",
    "TransferConversation",
    "USE_CLIENT_DEFAULT",
    "UpdateContact",
    "UpdateContactV2",
    "UpdateList",
    "UpdateSchedule",
    "UpdateTemplate",
    "UserUpdate",
    "normalize_phone",
]


# Every public name loads with its module on first use (``heymarket_async.Contact`` imports
# ``resources.contacts`` then): a program, or the ``heymarket`` command, pays at start-up
# only for the parts it touches.
_LAZY_EXPORTS: _typing.Final[dict[str, str]] = {
    "Acknowledgement": "resources.conversations",
    "ApiRequest": "_protocol",
    "ApiResponse": "_protocol",
    "Attachment": "resources.schedules",
    "ChangeConversationState": "resources.conversations",
    "Contact": "resources.contacts",
    "ContactBatchResult": "resources.contacts",
    "ContactChannel": "resources.contacts_v2",
    "ContactChannelInput": "resources.contacts_v2",
    "ContactFailure": "resources.contacts",
    "ContactField": "resources.contacts",
    "ContactNote": "resources.contacts",
    "ContactPayload": "resources.contacts",
    "ContactSaved": "resources.contacts",
    "ContactStatus": "resources.contacts",
    "ContactUpsertResult": "resources.contacts_v2",
    "ContactV2": "resources.contacts_v2",
    "Conversation": "resources.messages",
    "ConversationMember": "resources.messages",
    "CreateContact": "resources.contacts",
    "CreateContactV2": "resources.contacts_v2",
    "CreateList": "resources.lists",
    "CreateSchedule": "resources.schedules",
    "CreateTag": "resources.tags",
    "CreateTemplate": "resources.templates",
    "DEFAULT_RETRY": "_config",
    "DEFAULT_TIMEOUTS": "_config",
    "DeleteList": "resources.lists",
    "GalleryContent": "resources.templates",
    "GalleryEntry": "resources.schedules",
    "HeymarketClient": "_client",
    "Inbox": "resources.inboxes",
    "ListCreated": "resources.lists",
    "ListDeleted": "resources.lists",
    "ListUpdated": "resources.lists",
    "MarkConversation": "resources.conversations",
    "Message": "resources.messages",
    "MessagingStatus": "resources.contacts",
    "ReassignConversation": "resources.conversations",
    "ResponseList": "resources._base",
    "RetryPolicy": "_config",
    "Schedule": "resources.schedules",
    "ScheduleCreated": "resources.schedules",
    "ScheduleDeleted": "resources.schedules",
    "ScheduleMeta": "resources.schedules",
    "ScheduleMetaContent": "resources.schedules",
    "ScheduleUpdated": "resources.schedules",
    "ScheduledContent": "resources.schedules",
    "SendEmail": "resources.email",
    "SendMessage": "resources.messages",
    "SentEmail": "resources.email",
    "SentMessage": "resources.messages",
    "Survey": "resources.surveys",
    "Tag": "resources.tags",
    "TagCreated": "resources.tags",
    "TagDeleted": "resources.tags",
    "Team": "resources.team",
    "TeamMember": "resources.team",
    "TeamUser": "resources.users",
    "Template": "resources.templates",
    "TemplateContent": "resources.templates",
    "TemplateCreated": "resources.templates",
    "TemplateDeleted": "resources.templates",
    "TemplateUpdated": "resources.templates",
    "Timeouts": "_config",
    "TransferConversation": "resources.conversations",
    "USE_CLIENT_DEFAULT": "_config",
    "UpdateContact": "resources.contacts",
    "UpdateContactV2": "resources.contacts_v2",
    "UpdateList": "resources.lists",
    "UpdateSchedule": "resources.schedules",
    "UpdateTemplate": "resources.templates",
    "UserUpdate": "resources.users",
    "normalize_phone": "_validation",
}

# Public submodules, reachable as attributes (``heymarket_async.errors.RateLimitError``)
# without importing them first; each loads on first use.
_SUBMODULES: _typing.Final = frozenset(
    {"bulk", "cli", "errors", "redis", "resources", "sandbox", "testing", "webhooks"}
)


if _typing.TYPE_CHECKING:
    __version__: str
else:
    # Hidden from type checkers, which see the imports above: a misspelt name stays an
    # error for them instead of an attribute of type Any.
    def __getattr__(name: str) -> _typing.Any:
        if name == "__version__":
            return _version()
        module = _LAZY_EXPORTS.get(name)
        if module is not None:
            value = getattr(_importlib.import_module(f".{module}", __name__), name)
            globals()[name] = value  # later lookups are plain attribute reads
            return value
        if name in _SUBMODULES:
            return _importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # `redis` only when its extra is installed: tools that read every listed name would
    # otherwise get an ImportError.
    import importlib.util  # noqa: PLC0415 - only dir() needs it; import stays cheap

    shown = _SUBMODULES if importlib.util.find_spec("redis") else _SUBMODULES - {"redis"}
    return sorted({*globals(), *__all__, *shown})

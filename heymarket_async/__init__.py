"""An asyncio-first SDK for the Heymarket business-messaging REST API."""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

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
from ._version import version as _version
from .resources._base import ResponseList

if _typing.TYPE_CHECKING:  # static analysis and IDEs see every name; runtime loads on first use
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


# The resource models load with their module on first use (``heymarket_async.Contact``
# imports ``resources.contacts`` then), keeping ``import heymarket_async`` cheap.
_LAZY_EXPORTS: _typing.Final[dict[str, str]] = {
    "Acknowledgement": "conversations",
    "Attachment": "schedules",
    "ChangeConversationState": "conversations",
    "Contact": "contacts",
    "ContactBatchResult": "contacts",
    "ContactChannel": "contacts_v2",
    "ContactChannelInput": "contacts_v2",
    "ContactFailure": "contacts",
    "ContactField": "contacts",
    "ContactNote": "contacts",
    "ContactPayload": "contacts",
    "ContactSaved": "contacts",
    "ContactStatus": "contacts",
    "ContactUpsertResult": "contacts_v2",
    "ContactV2": "contacts_v2",
    "Conversation": "messages",
    "ConversationMember": "messages",
    "CreateContact": "contacts",
    "CreateContactV2": "contacts_v2",
    "CreateList": "lists",
    "CreateSchedule": "schedules",
    "CreateTag": "tags",
    "CreateTemplate": "templates",
    "DeleteList": "lists",
    "GalleryContent": "templates",
    "GalleryEntry": "schedules",
    "Inbox": "inboxes",
    "ListCreated": "lists",
    "ListDeleted": "lists",
    "ListUpdated": "lists",
    "MarkConversation": "conversations",
    "Message": "messages",
    "MessagingStatus": "contacts",
    "ReassignConversation": "conversations",
    "Schedule": "schedules",
    "ScheduleCreated": "schedules",
    "ScheduleDeleted": "schedules",
    "ScheduleMeta": "schedules",
    "ScheduleMetaContent": "schedules",
    "ScheduleUpdated": "schedules",
    "ScheduledContent": "schedules",
    "SendEmail": "email",
    "SendMessage": "messages",
    "SentEmail": "email",
    "SentMessage": "messages",
    "Survey": "surveys",
    "Tag": "tags",
    "TagCreated": "tags",
    "TagDeleted": "tags",
    "Team": "team",
    "TeamMember": "team",
    "TeamUser": "users",
    "Template": "templates",
    "TemplateContent": "templates",
    "TemplateCreated": "templates",
    "TemplateDeleted": "templates",
    "TemplateUpdated": "templates",
    "TransferConversation": "conversations",
    "UpdateContact": "contacts",
    "UpdateContactV2": "contacts_v2",
    "UpdateList": "lists",
    "UpdateSchedule": "schedules",
    "UpdateTemplate": "templates",
    "UserUpdate": "users",
}


def __getattr__(name: str) -> _typing.Any:
    if name == "__version__":
        return _version()
    module = _LAZY_EXPORTS.get(name)
    if module is not None:
        value = getattr(_importlib.import_module(f".resources.{module}", __name__), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

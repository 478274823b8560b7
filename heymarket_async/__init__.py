"""An asyncio-first SDK for the Heymarket business-messaging REST API."""

from __future__ import annotations

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


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

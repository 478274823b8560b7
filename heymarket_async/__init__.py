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
from .resources.team import Team, TeamMember

__all__ = [
    "ApiRequest",
    "ApiResponse",
    "Attachment",
    "Conversation",
    "ConversationMember",
    "CreateList",
    "CreateSchedule",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUTS",
    "DeleteList",
    "GalleryEntry",
    "HeymarketClient",
    "Inbox",
    "ListCreated",
    "ListDeleted",
    "ListUpdated",
    "Message",
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
    "Team",
    "TeamMember",
    "Timeouts",
    "USE_CLIENT_DEFAULT",
    "UpdateList",
    "UpdateSchedule",
    "normalize_phone",
]


def __getattr__(name: str) -> str:
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Conversations, templates, tags, surveys and users through HeymarketClient against the
sandbox, including how each write behaves when its answer is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from heymarket_async import GalleryContent, HeymarketClient, RetryPolicy, UserUpdate
from heymarket_async.errors import BadRequestError, NetworkError, NotFoundError
from heymarket_async.sandbox import Fault, Sandbox

PHONES = ("15105553301", "15105553302", "15105553303")
OWNER = 7  # a member of inboxes 42 and 43 in the sandbox's seed
SUPPORT_INBOX = 43


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None) as sb:
        yield sb


@pytest.fixture
async def hm(sandbox: Sandbox) -> AsyncIterator[HeymarketClient]:
    async with HeymarketClient(
        **sandbox.client_kwargs(),
        rate_limit_per_minute=None,
        retry=RetryPolicy(attempts=4, deadline=20.0),
    ) as client:
        yield client


async def start_conversations(hm: HeymarketClient, sandbox: Sandbox) -> list[int]:
    """Send one message to each of PHONES and return their conversation ids."""
    ids = []
    for phone in PHONES:
        await hm.messages.send(
            inbox_id=sandbox.default_inbox_id,
            creator_id=sandbox.default_creator_id,
            phone_number=phone,
            text="Hello",
        )
        [message] = await hm.messages.history(phone_number=phone, inbox_id=sandbox.default_inbox_id)
        assert message.conversation is not None
        ids.append(message.conversation.id)
    return ids


async def test_conversations_page_and_count(hm: HeymarketClient, sandbox: Sandbox) -> None:
    """Every conversation is walked once across small pages, newest first, and counted."""
    before = await hm.conversations.count()
    ids = await start_conversations(hm, sandbox)
    walk = hm.conversations.iter_all(user_id=OWNER, inboxes=[sandbox.default_inbox_id], limit=2)
    walked = [c async for c in walk]
    assert [c.id for c in walked] == ids[::-1]
    assert [c.target for c in walked] == list(PHONES[::-1])
    assert await hm.conversations.count() == before + 3
    assert sandbox.stats.requests("POST /v1/conversations") == 3  # 2 + 1, then an empty page


async def test_conversation_actions_change_what_get_shows(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """Close, open, unread, read, reassign and transfer each answer a string and take effect."""
    first, *_ = await start_conversations(hm, sandbox)
    inbox = sandbox.default_inbox_id
    phone = PHONES[0]
    closed = await hm.conversations.close(inbox_id=inbox, user_id=OWNER, chat_id=first)
    assert (closed.message, (await hm.conversations.get(first)).status) == ("ok", "closed")
    walk = hm.conversations.iter_all(user_id=OWNER, inboxes=[inbox], closed=True)
    assert [c.id async for c in walk] == [first]
    await hm.conversations.open(inbox_id=inbox, user_id=OWNER, target=phone)
    assert (await hm.conversations.get(first)).status == "open"
    await hm.conversations.unread(inbox_id=inbox, user_id=OWNER, target=phone)
    assert (await hm.conversations.get(first)).read == 0
    marked = await hm.conversations.read(inbox_id=inbox, user_id=OWNER, target=phone)
    assert marked.message == "Marked as Read"
    assert (await hm.conversations.get(first)).read == 1
    await hm.conversations.reassign(inbox_id=inbox, user_id=OWNER, reassign_id=9, target=phone)
    assert (await hm.conversations.get(first)).assigned == 9
    moved = await hm.conversations.transfer(first, transfer_inbox_id=SUPPORT_INBOX)
    assert moved.request_id
    assert (await hm.conversations.get(first)).inbox == SUPPORT_INBOX
    with pytest.raises(BadRequestError):
        await hm.conversations.transfer(first, transfer_inbox_id=SUPPORT_INBOX)


async def test_lost_answer_to_a_close_is_retried(hm: HeymarketClient, sandbox: Sandbox) -> None:
    """A close whose answer is lost is sent again: closing twice is closing once."""
    first, *_ = await start_conversations(hm, sandbox)
    sandbox.faults.next(Fault.commit_then_drop(), route="POST /v1/conversations/close")
    ack = await hm.conversations.close(
        inbox_id=sandbox.default_inbox_id, user_id=OWNER, chat_id=first
    )
    assert ack.message == "ok"
    assert sandbox.stats.requests("POST /v1/conversations/close") == 2


async def test_lost_answer_to_a_transfer_is_reported(hm: HeymarketClient, sandbox: Sandbox) -> None:
    """A transfer whose answer is lost is not repeated; get() shows it happened."""
    first, *_ = await start_conversations(hm, sandbox)
    sandbox.faults.next(Fault.commit_then_drop(), route="POST /v1/conversations/transfer")
    with pytest.raises(NetworkError):
        await hm.conversations.transfer(first, transfer_inbox_id=SUPPORT_INBOX)
    assert sandbox.stats.requests("POST /v1/conversations/transfer") == 1
    assert (await hm.conversations.get(first)).inbox == SUPPORT_INBOX


async def test_template_lifecycle(hm: HeymarketClient) -> None:
    """A template is created, read back by name, updated, listed and deleted."""
    seeded = [t.id async for t in hm.templates.iter_all()]
    created = await hm.templates.create(
        title="Follow-up", content=GalleryContent(text="Hi {{first_name}}"), local_id="tpl-e2e"
    )
    assert created.local_id == "tpl-e2e"
    fetched = await hm.templates.get(created.id)
    assert (fetched.name, fetched.local_id) == ("Follow-up", "tpl-e2e")
    assert fetched.content is not None
    assert fetched.content.text == "Hi {{first_name}}"
    updated = await hm.templates.update(
        created.id, title="Follow-up 2", content=GalleryContent(text="Hello again")
    )
    assert updated.rev is not None
    assert fetched.rev is not None
    assert updated.rev > fetched.rev
    listed = [t async for t in hm.templates.iter_all(max_pages=5)]
    assert listed[0].id == created.id  # the most recently updated comes first
    assert listed[0].name == "Follow-up 2"
    assert sorted(t.id for t in listed) == sorted([*seeded, created.id])
    assert (await hm.templates.delete(created.id)).id == created.id
    with pytest.raises(NotFoundError):
        await hm.templates.get(created.id)


async def test_lost_answer_to_a_template_create_is_reported_not_repeated(
    hm: HeymarketClient, sandbox: Sandbox
) -> None:
    """The create is not resent, and exactly one template carries its local_id."""
    sandbox.faults.next(Fault.commit_then_drop(), route="POST /v1/template")
    with pytest.raises(NetworkError):
        await hm.templates.create(
            title="Lost", content=GalleryContent(text="x"), local_id="tpl-lost"
        )
    assert sandbox.stats.requests("POST /v1/template") == 1
    found = [t.id async for t in hm.templates.iter_all() if t.local_id == "tpl-lost"]
    assert len(found) == 1


async def test_tag_lifecycle(hm: HeymarketClient) -> None:
    """A tag is created with a colour, read, listed first among the seeds and deleted."""
    created = await hm.tags.create(tag="Priority", color="#ff8800")
    tag = await hm.tags.get(created.id)
    assert (tag.tag, tag.color) == ("Priority", "#ff8800")
    listed = [t async for t in hm.tags.iter_all()]
    assert listed[0].id == created.id
    assert len({t.id for t in listed}) == len(listed)
    assert {"VIP", "Newsletter", "Wholesale"} <= {t.tag for t in listed}
    await hm.tags.delete(created.id)
    with pytest.raises(NotFoundError):
        await hm.tags.get(created.id)


async def test_surveys_page_by_number(hm: HeymarketClient, sandbox: Sandbox) -> None:
    """Surveys list one page, walk all pages (ending on the short one) and fetch by id."""
    first_page = await hm.surveys.list(page=1, limit=2)
    assert len(first_page) == 2
    walked = [s async for s in hm.surveys.iter_all(limit=2)]
    assert [s.id for s in walked[:2]] == [s.id for s in first_page]
    assert len(walked) == 3
    assert sandbox.stats.requests("POST /v1/surveys") == 3  # list() + two pages, no empty one
    survey = await hm.surveys.get(walked[0].id)
    assert survey.type in {"nps", "csat"}
    assert survey.question


async def test_users_lookup_by_body_on_get_and_update(hm: HeymarketClient) -> None:
    """Users are found by phone or email sent in a GET body and renamed through update."""
    found = await hm.users.get(phones=["14155550108"], emails=["MIA@sandbox.example"])
    assert sorted(u.id for u in found) == [8, 9]
    assert await hm.users.get(emails=["nobody@sandbox.example"]) == []
    [updated] = await hm.users.update(users=[UserUpdate(id=9, first_name="Mira")])
    assert (updated.id, updated.name) == (9, "Mira Member")
    [again] = await hm.users.get(phones=["14155550109"])
    assert again.name == "Mira Member"
    team = await hm.team.get()
    assert "Mira Member" in {m.name for m in team.members}

"""The hostile test server itself: scripts are consumed in order and every request is kept."""

from __future__ import annotations

import pytest

from heymarket_async import RetryPolicy
from heymarket_async.errors import ServerError
from tests.hostile import Answer, HostileServer


async def test_scripted_answers_then_the_fallback_and_a_record_of_each_request() -> None:
    async with HostileServer() as server:
        server.script(
            "GET",
            "/v1/inboxes",
            Answer.json([{"id": 1}], drip=0.001),
            then=Answer.text("<html>down</html>", status=502),
        )
        async with server.client(retry=RetryPolicy.disabled()) as hm:
            inboxes = await hm.inboxes.list()
            assert [inbox.id for inbox in inboxes] == [1]
            with pytest.raises(ServerError):
                await hm.inboxes.list()
        assert len(server.seen("GET", "/v1/inboxes")) == 2

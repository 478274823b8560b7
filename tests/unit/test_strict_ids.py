"""Ids read from a 2xx answer are JSON integers in 1..2**63-1, or the answer is unreadable."""

from __future__ import annotations

from typing import Any

import pytest

from heymarket_async._protocol import ApiResponse
from heymarket_async.errors import UnexpectedResponseError
from heymarket_async.resources._base import read_list, read_model
from heymarket_async.resources.lists import ListCreated
from heymarket_async.resources.messages import Message
from heymarket_async.resources.team import Team


def answer(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


@pytest.mark.parametrize("odd", [True, False, 1.9, 1.0, 0, -5, 2**63, 2**70, "0x1f5", "1e3"])
def test_an_odd_id_makes_the_answer_unreadable(odd: object) -> None:
    with pytest.raises(UnexpectedResponseError, match="accepted"):
        read_model(answer({"id": odd, "rev": 1}), ListCreated)


@pytest.mark.parametrize(("given", "read"), [(1, 1), (2**63 - 1, 2**63 - 1), ("501", 501)])
def test_a_usable_id_is_read(given: object, read: int) -> None:
    assert read_model(answer({"id": given}), ListCreated).id == read


def test_an_odd_nested_id_makes_the_list_unreadable() -> None:
    good = {"id": 1, "local_id": "a", "broadcast_id": 7}
    assert len(read_list(answer([good]), Message)) == 1
    with pytest.raises(UnexpectedResponseError):
        read_list(answer([good, {**good, "id": 2, "broadcast_id": True}]), Message)
    with pytest.raises(UnexpectedResponseError):
        read_list(answer([good, {**good, "id": 2, "broadcast_id": 2**64}]), Message)


def test_an_odd_count_is_not_read_as_an_integer() -> None:
    with pytest.raises(UnexpectedResponseError):
        read_model(answer({"id": 1, "rev": 2.5}), ListCreated)


@pytest.mark.parametrize("odd", [0, -1, 2**63])
def test_an_odd_id_in_a_nested_model_makes_the_answer_unreadable(odd: int) -> None:
    """Ids are checked in models nested in models and in tuples of models, every time
    (the per-class field lists are cached after the first answer)."""
    for _ in range(2):
        message = read_model(answer({"id": 1, "conversation": {"id": 5}}), Message)
        assert message.conversation is not None
        assert message.conversation.id == 5
        with pytest.raises(UnexpectedResponseError):
            read_model(answer({"id": 1, "conversation": {"id": odd}}), Message)
        team = {"id": 1, "members": [{"id": 7}, {"id": odd}]}
        with pytest.raises(UnexpectedResponseError):
            read_model(answer(team), Team)

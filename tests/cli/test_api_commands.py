"""The single-endpoint commands against a live sandbox, and the error and exit-code rules."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from heymarket_async.sandbox import LedgerKind, Sandbox

from . import forget_credentials, read_json, run_cli, use_sandbox

REQUEST_ID = re.compile(r"request id ([0-9a-f]{32})")


@pytest.fixture
async def sandbox(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Sandbox]:
    async with Sandbox(rate_limit_per_minute=None) as sb:
        use_sandbox(monkeypatch, sb)
        yield sb


def next_slot(lead: timedelta = timedelta(minutes=45)) -> datetime:
    """A quarter-hour boundary at least ``lead`` from now, in UTC."""
    when = (datetime.now(UTC) + lead).replace(second=0, microsecond=0)
    return when + timedelta(minutes=(15 - when.minute % 15) % 15)


async def test_inboxes_prints_a_table(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    """`inboxes` prints one row per inbox with its id, name and phone."""
    assert await run_cli("inboxes") == 0
    out = capsys.readouterr().out
    assert re.search(r"42\s+Main\s+14155550142", out)
    assert re.search(r"44\s+Email", out)


async def test_inboxes_json(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    """`inboxes --json` writes one JSON document with the inboxes and the request id."""
    assert await run_cli("inboxes", "--json") == 0
    document = read_json(capsys)
    assert [inbox["id"] for inbox in document["inboxes"]] == [42, 43, 44]
    assert re.fullmatch(r"[0-9a-f]{32}", document["request_id"])


async def test_team_text_and_json(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    """`team` shows the list size and members; `--json` carries the same data."""
    assert await run_cli("team") == 0
    out = capsys.readouterr().out
    assert re.search(r"list_size\s+10000", out)
    assert re.search(r"7\s+Olive Owner\s+owner", out)
    assert await run_cli("team", "--json") == 0
    team = read_json(capsys)["team"]
    assert (team["id"], team["list_size"]) == (1001, 10_000)
    assert [member["id"] for member in team["members"]] == [7, 8, 9]


async def test_send_to_a_formatted_phone(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """`send --normalize` accepts a formatted number and sends exactly one message to it."""
    status = await run_cli(
        "send", "--inbox", "42", "--creator", "7", "--phone", "(510) 555-3344",
        "--normalize", "--text", "Hi", "--local-id", "cli-send-1", "--json",
    )  # fmt: skip
    assert status == 0
    message = read_json(capsys)["message"]
    assert message["local_id"] == "cli-send-1"
    assert [(e.recipient, e.local_id) for e in sandbox.ledger] == [("15105553344", "cli-send-1")]
    assert message["id"] == sandbox.ledger[0].message_id


async def test_send_text_output_names_the_message(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """`send` without --json prints the message id, local_id and request id."""
    args = ("--inbox", "42", "--creator", "7", "--phone", "15105553344", "--text", "Hi")
    assert await run_cli("send", *args) == 0
    out = capsys.readouterr().out
    assert f"sent message {sandbox.ledger[0].message_id}" in out
    assert REQUEST_ID.search(out)


async def test_send_list_without_local_id_is_refused_before_the_wire(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list send without --local-id exits 2 naming the field, and no request is made."""
    status = await run_cli("send", "--inbox", "42", "--creator", "7", "--list", "5", "--text", "x")
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("heymarket: error: invalid local_id: ")
    assert sandbox.stats.total_requests == 0


async def test_invalid_phone_names_field_and_reason(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed phone exits 2 with the field and the reason on one stderr line."""
    args = ("--inbox", "42", "--creator", "7", "--phone", "555-nope", "--text", "Hi")
    assert await run_cli("send", *args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        "invalid phone_number: '555-nope' is not a phone number this SDK can read" in captured.err
    )
    assert "Traceback" not in captured.err


async def test_email_send(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    """`email` sends one email to the --to and --cc addresses in a new titled thread."""
    status = await run_cli(
        "email", "--creator", "7", "--inbox", str(sandbox.email_inbox_id),
        "--to", "a@example.com", "b@example.com", "--cc", "c@example.com",
        "--text", "<p>Hi</p>", "--title", "Hello", "--json",
    )  # fmt: skip
    assert status == 0
    email = read_json(capsys)["email"]
    assert email["convo_id"]
    (entry,) = sandbox.ledger
    assert entry.kind is LedgerKind.EMAIL
    assert set(entry.recipients) == {"a@example.com", "b@example.com", "c@example.com"}


async def test_lists_create_update_delete(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lists create`, `update` and `delete` change the sandbox's lists as asked."""
    status = await run_cli(
        "lists", "create", "--title", "April", "--phone", "15105550001", "15105550002",
        "--local-id", "april-list", "--json",
    )  # fmt: skip
    assert status == 0
    list_id = read_json(capsys)["list"]["id"]
    assert list_id in sandbox.state.lists

    status = await run_cli(
        "lists", "update", str(list_id), "--title", "May",
        "--add-phone", "15105550003", "--remove-phone", "15105550001", "--json",
    )  # fmt: skip
    assert status == 0
    assert read_json(capsys)["list"]["id"] == list_id
    record = sandbox.state.lists[list_id]
    assert record.title == "May"
    phones = {sandbox.state.contacts[contact].phone for contact in record.members}
    assert phones == {"15105550002", "15105550003"}

    assert await run_cli("lists", "delete", str(list_id)) == 0
    assert f"deleted list {list_id}" in capsys.readouterr().out
    assert list_id not in sandbox.state.lists


async def test_schedule_create_get_update_delete(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """`schedule create/get/update/delete` round-trip a scheduled message by its id."""
    at = next_slot()
    status = await run_cli(
        "schedule", "create", "--inbox", "42", "--phone", "15105553344",
        "--at", at.isoformat(), "--text", "See you", "--json",
    )  # fmt: skip
    assert status == 0
    schedule_id = read_json(capsys)["schedule"]["id"]

    assert await run_cli("schedule", "get", str(schedule_id), "--json") == 0
    schedule = read_json(capsys)["schedule"]
    assert schedule["id"] == schedule_id
    assert datetime.fromisoformat(schedule["execute"]) == at
    assert schedule["meta"]["content"]["text"] == "See you"

    later = at + timedelta(minutes=15)
    status = await run_cli(
        "schedule", "update", str(schedule_id), "--inbox", "42", "--phone", "15105553344",
        "--at", later.isoformat().replace("+00:00", "Z"), "--text", "Moved",
    )  # fmt: skip
    assert status == 0
    assert f"updated schedule {schedule_id}" in capsys.readouterr().out

    assert await run_cli("schedule", "get", str(schedule_id)) == 0
    out = capsys.readouterr().out
    assert re.search(r"text\s+Moved", out)
    assert later.isoformat() in out

    assert await run_cli("schedule", "delete", str(schedule_id)) == 0
    assert f"deleted schedule {schedule_id}" in capsys.readouterr().out
    assert schedule_id not in sandbox.state.schedules


async def test_schedule_time_without_zone_is_a_usage_error(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """A send time without an offset exits 2 from argparse, naming --at."""
    status = await run_cli(
        "schedule", "create", "--inbox", "42", "--phone", "15105553344",
        "--at", "2030-05-01T16:00:00", "--text", "x",
    )  # fmt: skip
    assert status == 2
    assert "argument --at: '2030-05-01T16:00:00' has no time zone" in capsys.readouterr().err
    assert sandbox.stats.total_requests == 0


async def test_api_error_exits_3_with_the_request_id(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 404 exits 3 and stderr quotes the status, the API's message and the request id."""
    assert await run_cli("schedule", "get", "999") == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "API error: HTTP 404 not_found: scheduled message 999 not found" in captured.err
    assert REQUEST_ID.search(captured.err)


async def test_api_error_json_document(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --json an API error is also a JSON document carrying the same request id."""
    assert await run_cli("schedule", "delete", "999", "--json") == 3
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert (error["type"], error["status"], error["code"]) == ("NotFoundError", 404, "not_found")
    match = REQUEST_ID.search(captured.err)
    assert match is not None
    assert error["request_id"] == match.group(1)


async def test_missing_credentials_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without credentials the command exits 2 with one helpful line and no traceback."""
    forget_credentials(monkeypatch)
    assert await run_cli("inboxes") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "heymarket: error: configuration: no credentials in the environment: set "
        "HEYMARKET_SECRET_ID and HEYMARKET_SECRET_KEY, or HEYMARKET_API_KEY\n"
    )


async def test_base_url_option_overrides_the_environment(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--base-url wins over HEYMARKET_BASE_URL, and a legacy API key works too."""
    forget_credentials(monkeypatch)
    monkeypatch.setenv("HEYMARKET_API_KEY", sandbox.api_key)
    monkeypatch.setenv("HEYMARKET_BASE_URL", "http://127.0.0.1:1")
    assert await run_cli("team", "--base-url", sandbox.url, "--json") == 0
    assert read_json(capsys)["team"]["id"] == 1001
    assert sandbox.api_key not in capsys.readouterr().err


async def test_no_answer_exits_3(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    """A server that cannot be reached exits 3 with a network error line."""
    assert await run_cli("inboxes", "--base-url", "http://127.0.0.1:1") == 3
    err = capsys.readouterr().err
    assert err.startswith("heymarket: error: no answer from the API: ")
    assert sandbox.secret_key not in err


async def test_secrets_never_appear_in_output(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """Neither the secret key nor a token appears in any output, success or failure."""
    await run_cli("inboxes", "--json")
    await run_cli("schedule", "get", "999", "--json")
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert sandbox.secret_key not in text
        assert "Bearer" not in text

"""Commands that call one API endpoint: inboxes, team, send, email, lists, schedule."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import Any

from .._validation import check_phone, normalize_phone, show
from ..errors import RequestValidationError
from ._args import (
    HELP_FORMATTER,
    Subparsers,
    api_options,
    example,
    open_client,
    output_options,
    positive_int,
    rfc3339,
)
from ._output import ExitCode, Output, clean


def checked_phone(value: str, *, normalize: bool, field: str = "phone_number") -> str:
    """``value`` in the API's format; without ``--normalize`` a formatted number is refused,
    with advice to pass it only when it would help.

    Raises:
        RequestValidationError: not a phone number the API accepts.
    """
    if normalize:
        return normalize_phone(value)
    try:
        check_phone(field, value)
    except RequestValidationError:
        try:
            normalize_phone(value)
        except RequestValidationError as unreadable:  # --normalize would refuse it too
            raise RequestValidationError(field, unreadable.reason) from None
        raise RequestValidationError(
            field,
            f"{show(value)} is not E.164 digits without '+' (e.g. '15105553344'); add "
            f"--normalize to accept formatted numbers such as '+1 (510) 555-3344'",
        ) from None
    return value


def _phone(value: str | None, *, normalize: bool) -> str | None:
    return None if value is None else checked_phone(value, normalize=normalize)


def _phones(values: Iterable[str] | None, *, normalize: bool, field: str) -> list[str]:
    return [checked_phone(v, normalize=normalize, field=field) for v in values or ()]


def _only_given(**values: Any) -> dict[str, Any]:
    """Keyword arguments without the options left out, so the SDK's defaults apply."""
    return {name: value for name, value in values.items() if value is not None}


def _rid(request_id: str | None) -> str:
    return f"request id {clean(request_id)}" if request_id else "no request id"


def _shown(value: object) -> str:
    """A value from an answer, on one line and harmless to a terminal."""
    return clean(str(value))


def _rev(rev: int | None) -> str:
    return "" if rev is None else f", rev {rev}"


# --- inboxes, team --------------------------------------------------------------------------


async def run_inboxes(args: argparse.Namespace, out: Output) -> int:
    """``heymarket inboxes``."""
    async with open_client(args) as hm:
        inboxes = await hm.inboxes.list()
    if out.json_mode:
        out.write_json({"inboxes": list(inboxes), "request_id": inboxes.request_id})
        return ExitCode.OK
    out.table(
        ("id", "name", "phone", "members"),
        [(inbox.id, inbox.name, inbox.phone, inbox.members) for inbox in inboxes],
    )
    return ExitCode.OK


async def run_team(args: argparse.Namespace, out: Output) -> int:
    """``heymarket team``."""
    async with open_client(args) as hm:
        team = await hm.team.get()
    if out.json_mode:
        out.write_json({"team": team})
        return ExitCode.OK
    out.fields([("id", team.id), ("name", team.name), ("list_size", team.list_size)])
    out.line()
    out.table(
        ("member id", "name", "role", "email"),
        [(m.id, m.name, m.role, m.email) for m in team.members],
    )
    return ExitCode.OK


# --- send, email ----------------------------------------------------------------------------


async def run_send(args: argparse.Namespace, out: Output) -> int:
    """``heymarket send``."""
    async with open_client(args) as hm:
        sent = await hm.messages.send(
            inbox_id=args.inbox,
            creator_id=args.creator,
            **_only_given(
                phone_number=_phone(args.phone, normalize=args.normalize),
                chat_id=args.chat,
                list_id=args.list,
                text=args.text,
                template_id=args.template,
                media_url=args.media,
                local_id=args.local_id,
                private=True if args.private else None,
            ),
        )
    if out.json_mode:
        out.write_json({"message": sent})
    else:
        out.line(
            f"sent message {sent.id} (local_id {_shown(sent.local_id)}, {_rid(sent.request_id)})"
        )
    return ExitCode.OK


def _email_targets(to: Sequence[str] | None, cc: Sequence[str] | None) -> list[str]:
    targets = []
    if to:
        targets.append("to:" + ",".join(to))
    if cc:
        targets.append("cc:" + ",".join(cc))
    return targets


async def run_email(args: argparse.Namespace, out: Output) -> int:
    """``heymarket email``."""
    async with open_client(args) as hm:
        sent = await hm.email.send(
            creator_id=args.creator,
            inbox=args.inbox,
            text=args.text,
            targets=_email_targets(args.to, args.cc),
            **_only_given(
                convo_id=args.convo,
                raw_text=args.raw_text,
                conv_title=args.title,
                local_id=args.local_id,
            ),
        )
    if out.json_mode:
        out.write_json({"email": sent})
    else:
        out.line(
            f"sent email {sent.id} in conversation {sent.convo_id} "
            f"(local_id {_shown(sent.local_id)}, {_rid(sent.request_id)})"
        )
    return ExitCode.OK


# --- lists ----------------------------------------------------------------------------------


async def run_lists_create(args: argparse.Namespace, out: Output) -> int:
    """``heymarket lists create``."""
    async with open_client(args) as hm:
        created = await hm.lists.create(
            title=args.title,
            phones=_phones(args.phone, normalize=args.normalize, field="phones"),
            contacts=args.contact or (),
            emails=args.email or (),
            **_only_given(local_id=args.local_id, type=args.type),
        )
    if out.json_mode:
        out.write_json({"list": created})
    else:
        out.line(f"created list {created.id} ({_rid(created.request_id)})")
    return ExitCode.OK


async def run_lists_update(args: argparse.Namespace, out: Output) -> int:
    """``heymarket lists update``."""
    async with open_client(args) as hm:
        updated = await hm.lists.update(
            args.list_id,
            title=args.title,
            add_phones=_phones(args.add_phone, normalize=args.normalize, field="add_phones"),
            remove_phones=_phones(
                args.remove_phone, normalize=args.normalize, field="remove_phones"
            ),
            add_contacts=args.add_contact or (),
            remove_contacts=args.remove_contact or (),
            add_emails=args.add_email or (),
            remove_emails=args.remove_email or (),
        )
    if out.json_mode:
        out.write_json({"list": updated})
    else:
        out.line(f"updated list {updated.id}{_rev(updated.rev)} ({_rid(updated.request_id)})")
    return ExitCode.OK


async def run_lists_delete(args: argparse.Namespace, out: Output) -> int:
    """``heymarket lists delete``."""
    async with open_client(args) as hm:
        deleted = await hm.lists.delete(args.list_id, contact_ids=args.contact)
    if out.json_mode:
        out.write_json({"list": deleted})
    else:
        out.line(f"deleted list {deleted.id} ({_rid(deleted.request_id)})")
    return ExitCode.OK


# --- schedule -------------------------------------------------------------------------------


def _schedule_fields(args: argparse.Namespace) -> dict[str, Any]:
    from ..resources.schedules import ScheduledContent  # noqa: PLC0415 - loaded when the command runs, not for --help

    phone = _phone(args.phone, normalize=args.normalize)
    content = ScheduledContent(**_only_given(text=args.text, template=args.template, to=phone))
    return {
        "inbox_id": args.inbox,
        "execute_at": args.at,
        "content": content,
        **_only_given(
            phone_number=phone,
            conversation_id=args.convo,
            list_id=args.list,
            local_id=args.local_id,
            user_id=args.user,
        ),
    }


async def run_schedule_create(args: argparse.Namespace, out: Output) -> int:
    """``heymarket schedule create``."""
    async with open_client(args) as hm:
        created = await hm.schedules.create(**_schedule_fields(args))
    if out.json_mode:
        out.write_json({"schedule": created})
    else:
        out.line(
            f"scheduled {created.id} for {args.at.isoformat()} "
            f"(local_id {_shown(created.local_id)}, {_rid(created.request_id)})"
        )
    return ExitCode.OK


async def run_schedule_update(args: argparse.Namespace, out: Output) -> int:
    """``heymarket schedule update``."""
    async with open_client(args) as hm:
        updated = await hm.schedules.update(args.schedule_id, **_schedule_fields(args))
    if out.json_mode:
        out.write_json({"schedule": updated})
    else:
        out.line(f"updated schedule {updated.id}{_rev(updated.rev)} ({_rid(updated.request_id)})")
    return ExitCode.OK


async def run_schedule_get(args: argparse.Namespace, out: Output) -> int:
    """``heymarket schedule get``."""
    async with open_client(args) as hm:
        schedule = await hm.schedules.get(args.schedule_id)
    if out.json_mode:
        out.write_json({"schedule": schedule})
        return ExitCode.OK
    meta = schedule.meta
    content = meta.content if meta else None
    out.fields(
        [
            ("id", schedule.id),
            ("execute", schedule.execute.isoformat() if schedule.execute else None),
            ("inbox_id", schedule.inbox_id),
            ("local_id", schedule.local_id),
            ("to", content.to if content else None),
            ("conversation_id", meta.conversation_id if meta else None),
            ("list_id", meta.list_id if meta else None),
            ("text", content.text if content else None),
            ("request id", schedule.request_id),
        ]
    )
    return ExitCode.OK


async def run_schedule_delete(args: argparse.Namespace, out: Output) -> int:
    """``heymarket schedule delete``."""
    async with open_client(args) as hm:
        deleted = await hm.schedules.delete(args.schedule_id)
    if out.json_mode:
        out.write_json({"schedule": deleted})
    else:
        out.line(f"deleted schedule {deleted.id} ({_rid(deleted.request_id)})")
    return ExitCode.OK


# --- parsers --------------------------------------------------------------------------------


def register(sub: Subparsers) -> None:
    """Add the API commands to the top-level subparsers."""
    common = [output_options(), api_options()]
    _leaf(
        sub, common, "inboxes", "list the team's inboxes", "heymarket inboxes --json"
    ).set_defaults(handler=run_inboxes)
    _leaf(
        sub, common, "team", "show the team, its members and list size", "heymarket team"
    ).set_defaults(handler=run_team)
    _register_send(sub, common)
    _register_email(sub, common)
    _register_lists(sub, common)
    _register_schedule(sub, common)


def _register_send(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    parser = _leaf(
        sub,
        common,
        "send",
        "send one SMS/MMS, a list broadcast, or a private note",
        "heymarket send --inbox 42 --creator 7 --phone 15105553344 --text 'Hi'",
        "heymarket send --inbox 42 --creator 7 --list 501 --local-id april-501 --text 'Hi'",
    )
    parser.add_argument(
        "--inbox", type=positive_int, required=True, metavar="ID", help="sending inbox id"
    )
    parser.add_argument(
        "--creator", type=positive_int, required=True, metavar="ID", help="sending member id"
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--phone", help="recipient, E.164 digits without + (formatted: add --normalize)"
    )
    target.add_argument("--chat", type=positive_int, metavar="ID", help="conversation id")
    target.add_argument(
        "--list", type=positive_int, metavar="ID", help="list id (needs --local-id)"
    )
    parser.add_argument("--text", help="message text")
    parser.add_argument("--template", type=positive_int, metavar="ID", help="template id")
    parser.add_argument("--media", metavar="URL", help="media URL (MMS)")
    parser.add_argument(
        "--local-id", help="your idempotency key (generated if omitted; reuse it to retry)"
    )
    parser.add_argument("--private", action="store_true", help="a private note to the team")
    parser.add_argument(
        "--normalize",
        action="store_true",
        help="accept formatted numbers like '+1 (510) 555-3344' (US default country)",
    )
    parser.set_defaults(handler=run_send)


def _register_email(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    parser = _leaf(
        sub,
        common,
        "email",
        "send an email, or reply in an email thread",
        "heymarket email --creator 7 --inbox 44 --to a@example.com --text '<p>Hi</p>'",
        "heymarket email --creator 7 --inbox 44 --convo 500123 --text 'Thanks!'",
    )
    parser.add_argument(
        "--creator", type=positive_int, required=True, metavar="ID", help="sending member id"
    )
    parser.add_argument(
        "--inbox", type=positive_int, required=True, metavar="ID", help="email inbox id"
    )
    parser.add_argument("--to", action="extend", nargs="+", metavar="ADDRESS", help="recipients")
    parser.add_argument("--cc", action="extend", nargs="+", metavar="ADDRESS", help="copies")
    parser.add_argument("--convo", type=positive_int, metavar="ID", help="thread to reply in")
    parser.add_argument("--text", required=True, help="body (HTML allowed)")
    parser.add_argument("--raw-text", help="plain-text alternative")
    parser.add_argument("--title", help="title of a new thread")
    parser.add_argument("--local-id", help="your idempotency key (generated if omitted)")
    parser.set_defaults(handler=run_email)


def _leaf(
    sub: Subparsers, common: list[argparse.ArgumentParser], name: str, help_text: str, *ex: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        parents=common,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=example(*ex),
        formatter_class=HELP_FORMATTER,
    )
    return parser


def _register_lists(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    lists = sub.add_parser(
        "lists",
        help="create, update or delete broadcast lists",
        description="Create, update or delete broadcast lists (v2).",
        epilog=example("heymarket lists create --title April --phone 15105550001 15105550002"),
        formatter_class=HELP_FORMATTER,
    )
    actions = lists.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = _leaf(
        actions,
        common,
        "create",
        "create a list",
        "heymarket lists create --title April --local-id april-list --phone 15105550001",
    )
    create.add_argument("--title", required=True, help="list name")
    create.add_argument("--phone", action="extend", nargs="+", help="member numbers")
    create.add_argument("--contact", action="extend", nargs="+", type=positive_int, metavar="ID")
    create.add_argument("--email", action="extend", nargs="+", metavar="ADDRESS")
    create.add_argument("--local-id", help="your key for the list (avoids duplicates)")
    create.add_argument("--type", choices=["contacts"], help="an omnichannel contact list")
    create.add_argument("--normalize", action="store_true", help="accept formatted numbers")
    create.set_defaults(handler=run_lists_create)

    update = _leaf(
        actions,
        common,
        "update",
        "rename a list or change its members",
        "heymarket lists update 700001 --add-phone 15105550003 --remove-phone 15105550001",
    )
    update.add_argument("list_id", type=positive_int, metavar="LIST_ID")
    update.add_argument("--title", help="new name")
    for verb in ("add", "remove"):
        update.add_argument(f"--{verb}-phone", action="extend", nargs="+", metavar="PHONE")
        update.add_argument(
            f"--{verb}-contact", action="extend", nargs="+", type=positive_int, metavar="ID"
        )
        update.add_argument(f"--{verb}-email", action="extend", nargs="+", metavar="ADDRESS")
    update.add_argument("--normalize", action="store_true", help="accept formatted numbers")
    update.set_defaults(handler=run_lists_update)

    delete = _leaf(
        actions, common, "delete", "delete a list (its contacts stay)", "heymarket lists delete 1"
    )
    delete.add_argument("list_id", type=positive_int, metavar="LIST_ID")
    delete.add_argument(
        "--contact",
        action="extend",
        nargs="+",
        type=positive_int,
        metavar="ID",
        help="contacts to detach first",
    )
    delete.set_defaults(handler=run_lists_delete)


def _schedule_body_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--inbox", type=positive_int, required=True, metavar="ID", help="sending inbox id"
    )
    parser.add_argument(
        "--at",
        type=rfc3339,
        required=True,
        metavar="TIME",
        help="RFC 3339 send time on :00/:15/:30/:45, at least 15 minutes ahead",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--phone", help="recipient, E.164 digits without +")
    target.add_argument("--convo", type=positive_int, metavar="ID", help="conversation id")
    target.add_argument("--list", type=positive_int, metavar="ID", help="list id")
    parser.add_argument("--text", help="message text")
    parser.add_argument("--template", type=positive_int, metavar="ID", help="template id")
    parser.add_argument("--local-id", help="your identifier for the schedule")
    parser.add_argument("--user", type=positive_int, metavar="ID", help="send as this member")
    parser.add_argument("--normalize", action="store_true", help="accept formatted numbers")


def _register_schedule(sub: Subparsers, common: list[argparse.ArgumentParser]) -> None:
    schedule = sub.add_parser(
        "schedule",
        help="create, show, update or delete scheduled messages",
        description="Create, show, update or delete scheduled messages.",
        epilog=example(
            "heymarket schedule create --inbox 42 --phone 15105553344 "
            "--at 2026-05-01T16:00:00Z --text 'See you at 5'"
        ),
        formatter_class=HELP_FORMATTER,
    )
    actions = schedule.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = _leaf(
        actions,
        common,
        "create",
        "schedule a message",
        "heymarket schedule create --inbox 42 --phone 15105553344 "
        "--at 2026-05-01T16:00:00-07:00 --text 'Hi'",
    )
    _schedule_body_options(create)
    create.set_defaults(handler=run_schedule_create)

    get = _leaf(actions, common, "get", "show a scheduled message", "heymarket schedule get 1")
    get.add_argument("schedule_id", type=positive_int, metavar="ID")
    get.set_defaults(handler=run_schedule_get)

    update = _leaf(
        actions,
        common,
        "update",
        "replace a scheduled message's time, content and target",
        "heymarket schedule update 900001 --inbox 42 --phone 15105553344 "
        "--at 2026-05-01T17:00:00Z --text 'Moved to 6'",
    )
    update.add_argument("schedule_id", type=positive_int, metavar="ID")
    _schedule_body_options(update)
    update.set_defaults(handler=run_schedule_update)

    delete = _leaf(
        actions, common, "delete", "cancel a scheduled message", "heymarket schedule delete 1"
    )
    delete.add_argument("schedule_id", type=positive_int, metavar="ID")
    delete.set_defaults(handler=run_schedule_delete)

"""``SendMessage``'s written-out ``__init__`` and send body against what attrs and cattrs
generate for the same declarations: the same values accepted, the same errors (field and
reason, in the same order), equal objects, the same JSON body; and the guarantees of the
batched ``local_id`` generator (uuid4 form, unique across threads and forked processes)."""

from __future__ import annotations

import copy
import enum
import inspect
import pickle
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from cattrs.gen import make_dict_unstructure_fn, override
from hypothesis import given, settings
from hypothesis import strategies as st

from heymarket_async import _validation as check
from heymarket_async._converter import converter
from heymarket_async._protocol import ApiRequest
from heymarket_async.errors import RequestValidationError
from heymarket_async.resources._message_models import _send_body
from heymarket_async.resources.messages import SendMessage, build_send_message

# --- The reference: SendMessage as attrs generated it ------------------------------------


def _reference_local_id(send: ReferenceSend) -> str:
    if send.list_id is not None:
        raise RequestValidationError(
            "local_id",
            "a list broadcast needs a stable local_id that you choose and store with the job "
            "(e.g. local_id='april-2026-list-501'): the API requires it and deduplicates "
            "broadcasts by it, so a safe resend (even after a crash) must carry the same value",
        )
    return check.new_local_id()


@attrs.frozen(kw_only=True)
class ReferenceSend:
    """The same declarations with attrs' generated ``__init__``: converter, default, every
    field validator through its attrs wrapper, then ``__attrs_post_init__``."""

    inbox_id: int = attrs.field(validator=check.positive_int)
    creator_id: int = attrs.field(validator=check.positive_int)
    phone_number: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.phone)
    )
    chat_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    list_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    targets: tuple[str, ...] = attrs.field(
        default=(), converter=check.str_tuple, validator=check.phone_tuple
    )
    text: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )
    media_url: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.http_url)
    )
    template_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    survey_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.positive_int)
    )
    local_id: str = attrs.field(
        default=attrs.Factory(_reference_local_id, takes_self=True), validator=check.local_id
    )
    private: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.boolean)
    )
    author: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(check.non_empty_text)
    )

    def __attrs_post_init__(self) -> None:
        check.check_exactly_one(
            (
                ("phone_number", self.phone_number),
                ("chat_id", self.chat_id),
                ("list_id", self.list_id),
                ("targets", self.targets),
            ),
            choices="target: phone_number, chat_id, list_id (with local_id) or targets (group MMS)",
        )
        if self.targets:
            check.check_group(self.targets, single="phone_number")
        if self.text is None and self.template_id is None and self.media_url is None:
            raise RequestValidationError(None, "give some content: text, template_id or media_url")


FIELDS = [field.name for field in attrs.fields(SendMessage)]

# --- Values around every rule ----------------------------------------------------------------


class Level(enum.IntEnum):
    ONE = 1


class Digits(str):
    """A str subclass: the validators accept it (isinstance), the fast tests hand it over."""


class Fresh:
    """A value made anew for each constructor call (an iterator is used up by the first)."""

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make

    def __repr__(self) -> str:
        return f"Fresh({self.make()!r})"


ABSENT = object()  # the keyword is not passed at all

ODD = [
    True,
    False,
    0,
    -1,
    1,
    7,
    2**63 - 1,
    2**63,
    2**200,
    10**5000,
    1.0,
    float("nan"),
    "",
    " ",
    "1",
    "x",
    b"15105553344",
    [],
    (),
    {},
    Level.ONE,
    Digits("15105553344"),
    Digits(" "),
    object(),
]
# Per field: values its validator accepts, then values it refuses.
IDS = ([1, 42, 2**63 - 1, Level.ONE], [0, -5, 2**63, True, 3.0, "12"])
PHONES = (
    ["15105553344", "15105553345", "4420794600000", Digits("15105553346")],
    [
        "+15105553344",
        "1510555334",
        "0123456789",
        "\u0661\u0665\u0661\u0660\u0665\u0665\u0665\u0663\u0663\u0664\u0664",
        "15105553344\n",
        "1" * 16,
        "12345678",
        "\ud800",
    ],
)
TEXTS = (
    ["hi", "Hello from the benchmark", "h\u00e9llo \U0001f600", Digits("hi"), " x "],
    ["", " ", "\t\n", "\u00a0\u2028", "\ud800", "a\udfffb", Digits(" ")],
)
URLS = (
    ["https://example.com/a.png", "http://x.y/z"],
    ["ftp://x.y/z", "https://", "https://exa mple.com/", "https://example.com/\ud800", "//x.y/z"],
)
LOCAL_IDS = (
    ["k-1", "a" * 128, "a:b.c_d-e", Digits("k-2")],
    ["a" * 129, "has space", "\u00fc", ""],
)
TARGETS: tuple[list[object], list[object]] = (
    [
        (),
        ["15105553344", "15105553345"],
        ("15105553344", "15105553345", "4420794600000"),
        ("15105553344", Digits("15105553345")),
        ["15105553344"],  # valid numbers, too few for a group
        ["15105553344", "15105553344"],  # valid numbers, one repeated
        Fresh(lambda: iter(["15105553344", "15105553345"])),
    ],
    [
        "15105553344",
        None,
        [1, 2],
        ["x", "y"],
        ["15105553344", "1"],
        {"15105553344": 1, "15105553345": 2},
        Fresh(lambda: (phone for phone in ["15105553344", "x"])),
    ],
)
CHOICES: dict[str, tuple[list[object], list[object]]] = {
    "inbox_id": IDS,
    "creator_id": IDS,
    "phone_number": PHONES,
    "chat_id": IDS,
    "list_id": IDS,
    "targets": TARGETS,
    "text": TEXTS,
    "media_url": URLS,
    "template_id": IDS,
    "survey_id": IDS,
    "local_id": LOCAL_IDS,
    "private": ([True, False], [1, 0, "yes"]),
    "author": TEXTS,
}
REQUIRED = {"inbox_id", "creator_id"}
TARGET_FIELDS = ["phone_number", "chat_id", "list_id", "targets"]
CONTENT_FIELDS = ["text", "template_id", "media_url"]
UNSET = {"targets": [ABSENT, ()], "local_id": [ABSENT]}  # the others: absent or None


@st.composite
def sends(draw: st.DrawFn, *, wild: bool) -> dict[str, object]:
    """Keyword arguments: mostly one target and some content, each field valid or unset,
    and (when ``wild``) up to three fields holding anything at all, so that every rule,
    alone or in combination, decides some outcomes."""
    targets = draw(st.permutations(TARGET_FIELDS))[: draw(st.sampled_from([1, 1, 1, 0, 2]))]
    content = draw(st.sets(st.sampled_from(CONTENT_FIELDS), max_size=3))
    chosen = {*REQUIRED, *targets, *content}
    if "list_id" in targets and draw(st.integers(0, 3)):
        chosen.add("local_id")
    broken = draw(st.sets(st.sampled_from(FIELDS), max_size=3)) if wild else set()
    drawn: dict[str, object] = {}
    for name in FIELDS:
        valid, invalid = CHOICES[name]
        if name in broken:
            value = draw(
                st.one_of(
                    st.sampled_from([ABSENT, None, *invalid, *valid]),
                    st.sampled_from(ODD),
                    st.integers(),
                    st.text(max_size=12),
                )
            )
        elif name in chosen:
            value = draw(st.sampled_from(valid))
        elif name in TARGET_FIELDS or name in CONTENT_FIELDS:
            value = draw(st.sampled_from(UNSET.get(name, [ABSENT, None])))
        else:
            value = draw(st.sampled_from([*UNSET.get(name, [ABSENT, None]), *valid]))
        drawn[name] = value
    return drawn


def same(left: object, right: object) -> bool:
    return type(left) is type(right) and (left is right or left == right)


def fate(cls: type[Any], drawn: dict[str, object]) -> tuple[object, ...]:
    """What building ``cls`` from ``drawn`` does: the error it raises, or its field values."""
    kwargs = {
        name: value.make() if isinstance(value, Fresh) else value
        for name, value in drawn.items()
        if value is not ABSENT
    }
    try:
        built = cls(**kwargs)
    except RequestValidationError as exc:
        return ("refused", exc.field, exc.reason)
    except Exception as exc:
        return ("raised", type(exc), str(exc).replace(cls.__name__, "<model>"))
    values = {name: getattr(built, name) for name in FIELDS}
    if "local_id" not in kwargs:
        assert check.is_generated_local_id(values["local_id"])
        values["local_id"] = "<generated>"
    return ("built", values)


def assert_same_fate(drawn: dict[str, object]) -> None:
    new, old = fate(SendMessage, drawn), fate(ReferenceSend, drawn)
    if new[0] == old[0] == "built":
        new_values, old_values = new[1], old[1]
        assert isinstance(new_values, dict)
        assert isinstance(old_values, dict)
        assert all(same(new_values[name], old_values[name]) for name in FIELDS), (new, old)
    else:
        assert new == old


# --- Validation: the same fate for every input -----------------------------------------------


@settings(max_examples=1500)
@given(sends(wild=True))
def test_any_values_meet_the_same_fate(drawn: dict[str, object]) -> None:
    """Bools, huge and negative ints, floats, odd strings, str and int subclasses, lists,
    iterators, missing keywords: the same error (field and reason) or equal fields."""
    assert_same_fate(drawn)


@settings(max_examples=1500)
@given(sends(wild=False))
def test_plausible_values_meet_the_same_fate(drawn: dict[str, object]) -> None:
    """Mostly valid fields, so the rules across fields (one target, some content, a group
    of 2+ distinct numbers, a broadcast's own local_id) decide most outcomes."""
    assert_same_fate(drawn)


@settings(max_examples=500)
@given(sends(wild=True))
def test_with_attrs_validators_disabled_the_same_checks_are_skipped(
    drawn: dict[str, object],
) -> None:
    """``attrs.validators.disabled()`` turns the field checks off, not the rules across
    fields, exactly as in attrs' generated ``__init__``."""
    with attrs.validators.disabled():
        assert_same_fate(drawn)


def test_a_fast_path_refusal_still_names_the_first_invalid_field_in_order() -> None:
    """Two invalid fields: the one declared first is named, as attrs' validators run."""
    with pytest.raises(RequestValidationError) as info:
        SendMessage(
            inbox_id=1, creator_id=2, phone_number="15105553344", text=" ", author=" ", private=1
        )  # type: ignore[arg-type]
    assert (info.value.field, info.value.reason) == ("text", "must not be empty")


def test_a_broadcast_without_local_id_is_refused_before_any_field_check() -> None:
    """The local_id default runs before the validators, so its error comes first."""
    with pytest.raises(RequestValidationError) as info:
        SendMessage(inbox_id=True, creator_id=2, list_id=5, text="x")  # type: ignore[arg-type]
    assert info.value.field == "local_id"


# --- The model itself is unchanged -----------------------------------------------------------


def test_signature_and_field_declarations_are_those_attrs_would_generate() -> None:
    """Same keywords, defaults and annotations; same validators and converter per field."""
    new_parameters = inspect.signature(SendMessage).parameters
    assert list(new_parameters.values()) == list(
        inspect.signature(ReferenceSend).parameters.values()
    )
    reference = attrs.resolve_types(ReferenceSend)
    for new, old in zip(attrs.fields(SendMessage), attrs.fields(reference), strict=True):
        assert (new.name, new.validator, new.converter, new.kw_only, new.type) == (
            old.name,
            old.validator,
            old.converter,
            old.kw_only,
            old.type,
        )
        assert type(new.default) is type(old.default)


def test_repr_eq_hash_frozen_pickle_and_evolve_behave_as_before() -> None:
    fields: dict[str, Any] = {
        "inbox_id": 42,
        "creator_id": 7,
        "targets": ["15105553344", "15105553345"],
        "text": "Hi",
        "media_url": "https://example.com/a.png",
        "template_id": 3,
        "survey_id": 4,
        "local_id": "g-1",
        "private": False,
        "author": "Ann",
    }
    send, reference = SendMessage(**fields), ReferenceSend(**fields)
    assert repr(send) == repr(reference).replace("ReferenceSend(", "SendMessage(")
    assert send == SendMessage(**fields)
    assert hash(send) == hash(SendMessage(**fields))
    assert send != SendMessage(**{**fields, "local_id": "g-2"})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        send.text = "changed"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del send.text  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(send)) == send  # noqa: S301 - our own bytes
    assert copy.copy(send) == send
    assert copy.deepcopy(send) == send
    attrs.validate(send)  # the declared validators still apply to a built model
    assert attrs.evolve(send, text="Bye").text == "Bye"
    with pytest.raises(RequestValidationError) as info:
        attrs.evolve(send, targets=["15105553344"])
    assert info.value.field == "targets"


def test_an_attrs_subclass_keeps_the_rules_across_fields() -> None:
    """A subclass gets attrs' generated ``__init__``, which still calls the rules."""

    @attrs.frozen(kw_only=True)
    class Tagged(SendMessage):
        tag: str = "x"

    with pytest.raises(RequestValidationError) as info:
        Tagged(inbox_id=1, creator_id=2, text="x")
    assert info.value.reason.startswith("give exactly one target")
    with pytest.raises(RequestValidationError) as info:
        Tagged(inbox_id=0, creator_id=2, chat_id=3, text="x")
    assert info.value.field == "inbox_id"
    assert Tagged(inbox_id=1, creator_id=2, chat_id=3, text="x").tag == "x"


# --- The send body: the same dict as cattrs' generated hook ----------------------------------

reference_body = make_dict_unstructure_fn(
    SendMessage,
    converter,
    _cattrs_omit_if_default=True,
    local_id=override(omit_if_default=False),
)
ids = st.one_of(st.integers(min_value=1, max_value=2**63 - 1), st.just(Level.ONE))
phones = st.sampled_from(["15105553344", "15105553345", "4420794600000", Digits("15105553346")])
texts = st.one_of(st.sampled_from(["hi", "h\u00e9llo \U0001f600", Digits("x")]), st.text()).filter(
    lambda text: text.strip() != "" and not check.has_lone_surrogate(text)
)


@st.composite
def valid_sends(draw: st.DrawFn) -> SendMessage:
    target = draw(st.sampled_from(["phone_number", "chat_id", "list_id", "targets"]))
    fields: dict[str, Any] = {"inbox_id": draw(ids), "creator_id": draw(ids)}
    if target == "phone_number":
        fields["phone_number"] = draw(phones)
    elif target == "targets":
        fields["targets"] = draw(st.lists(phones, min_size=2, max_size=3, unique=True))
    else:
        fields[target] = draw(ids)
    content = draw(st.sets(st.sampled_from(["text", "template_id", "media_url"]), min_size=1))
    if "text" in content:
        fields["text"] = draw(texts)
    if "template_id" in content:
        fields["template_id"] = draw(ids)
    if "media_url" in content:
        fields["media_url"] = draw(st.sampled_from(["https://example.com/a.png", "http://x.y/z"]))
    for name, values in (
        ("survey_id", ids),
        ("private", st.booleans()),
        ("author", texts),
        ("local_id", st.from_regex(check.LOCAL_ID_RE, fullmatch=True)),
    ):
        if draw(st.booleans()):
            fields[name] = draw(values)
    if target == "list_id" and "local_id" not in fields:
        fields["local_id"] = "list-1"
    return SendMessage(**fields)


@settings(max_examples=1000)
@given(valid_sends())
def test_send_body_equals_what_cattrs_generates(send: SendMessage) -> None:
    """Same keys in the same order, the same values (the same objects, a list for targets)."""
    body, expected = _send_body(send), reference_body(send)
    assert list(body) == list(expected)
    assert all(same(body[key], expected[key]) for key in expected)
    assert converter.unstructure(send) == expected
    request = build_send_message(send)
    assert (request.json, request.idempotency_key, request.replay_safe, request.method) == (
        expected,
        send.local_id,
        send.is_broadcast,
        "POST",
    )
    # Built through slot setters: equal in every field to the one its __init__ builds.
    built = ApiRequest(
        method="POST",
        path="/v1/message/send",
        json=expected,
        idempotency_key=send.local_id,
        replay_safe=send.is_broadcast,
    )
    assert (request, repr(request)) == (built, repr(built))


# --- Generated local_ids ---------------------------------------------------------------------


def test_generated_local_ids_stay_uuid4_across_batches() -> None:
    """Over several batches: all distinct, each ``hm-`` and a version-4 RFC 4122 uuid's
    lowercase hex, valid as a local_id."""
    drawn = [check.new_local_id() for _ in range(1000)]
    assert len(set(drawn)) == len(drawn)
    for local_id in drawn:
        parsed = uuid.UUID(local_id.removeprefix(check.GENERATED_LOCAL_ID_PREFIX))
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert local_id == f"hm-{parsed.hex}"
        assert check.is_generated_local_id(local_id)
        assert check.LOCAL_ID_RE.fullmatch(local_id)


def test_threads_never_share_a_local_id() -> None:
    per_thread, threads = 3000, 8
    results: list[list[str]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads)

    def draw(out: list[str]) -> None:
        start.wait()
        out.extend(check.new_local_id() for _ in range(per_thread))

    workers = [threading.Thread(target=draw, args=(out,)) for out in results]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    drawn = [local_id for out in results for local_id in out]
    assert len(drawn) == len(set(drawn)) == per_thread * threads


FORK_SCRIPT = """
import os
from heymarket_async._validation import new_local_id

new_local_id()  # the parent now holds spare ids
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(read)
    with os.fdopen(write, "w") as out:
        out.write(" ".join(new_local_id() for _ in range(600)))
    os._exit(0)
os.close(write)
with os.fdopen(read) as incoming:
    child = incoming.read().split()
os.waitpid(pid, 0)
parent = [new_local_id() for _ in range(600)]
print(len(child), len(parent), len(set(child) & set(parent)))
"""


def test_a_forked_child_never_reuses_its_parents_local_ids() -> None:
    """The spare ids a parent holds are not handed out again by a child it forks."""
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", FORK_SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["600", "600", "0"]


@pytest.mark.parametrize(
    "targets",
    [
        {"phone_number": (), "chat_id": 3},
        {"phone_number": ()},
        {"chat_id": (), "list_id": (), "targets": None, "phone_number": "15105553344"},
        {"targets": 5},
        {"targets": 0, "chat_id": 3},
    ],
)
def test_with_validators_disabled_unset_looking_targets_count_as_before(
    targets: dict[str, object],
) -> None:
    """Only ``None`` and ``()`` leave a target unset, whatever type it has."""
    with attrs.validators.disabled():
        assert_same_fate({"inbox_id": 1, "creator_id": 2, "text": "x", **targets})


@settings(max_examples=2000)
@given(
    st.one_of(
        st.text(alphabet="0123456789", max_size=18),
        st.text(alphabet="0123456789a+ \n\u0661\uff11\u00b2", max_size=18),
        st.text(max_size=18),
    )
)
def test_the_plain_phone_check_is_the_phone_pattern(number: str) -> None:
    """The regex-free phone test agrees with PHONE_RE on every string."""
    assert check.is_phone_digits(number) == (check.PHONE_RE.fullmatch(number) is not None)

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from heymarket_async import (
    ApiRequest,
    ApiResponse,
    CreateTemplate,
    GalleryContent,
    GalleryEntry,
    Template,
    TemplateContent,
    TemplateCreated,
    TemplateDeleted,
    TemplateUpdated,
    UpdateTemplate,
)
from heymarket_async._validation import is_generated_local_id
from heymarket_async.errors import RequestValidationError, UnexpectedResponseError
from heymarket_async.resources._base import read_list, read_model
from heymarket_async.resources._paging import DateCursor
from heymarket_async.resources.templates import (
    build_create_template,
    build_delete_template,
    build_get_template,
    build_list_templates,
    build_update_template,
    read_template_written,
)

IMAGE = "https://cdn.example.com/a.png"
CONTENT = GalleryContent(text="Hi {{first_name}}", gallery=[GalleryEntry(url=IMAGE)])


def response(data: Any) -> ApiResponse:
    return ApiResponse(status=200, data=data, request_id="req-1")


def test_create_builds_the_exact_request() -> None:
    """Create posts title, nested content, local_id and archived, and is not replay-safe."""
    create = CreateTemplate(title="Welcome", content=CONTENT, local_id="t-1", archived=False)
    assert build_create_template(create) == ApiRequest(
        method="POST",
        path="/v1/template",
        json={
            "title": "Welcome",
            "content": {"text": "Hi {{first_name}}", "gallery": [{"url": IMAGE}]},
            "local_id": "t-1",
            "archived": False,
        },
        idempotency_key="t-1",
        replay_safe=False,
    )


def test_create_generates_one_local_id_and_leaves_out_unset_fields() -> None:
    """Without a local_id one is generated once, and every build carries that same one."""
    create = CreateTemplate(title="Welcome", content=GalleryContent(text="Hi"))
    first, second = build_create_template(create), build_create_template(create)
    assert is_generated_local_id(create.local_id)
    assert first.idempotency_key == second.idempotency_key == create.local_id
    assert first.json == {
        "title": "Welcome",
        "content": {"text": "Hi"},
        "local_id": create.local_id,
    }


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": " ", "content": CONTENT}, "title"),
        ({"title": "T", "content": "Hi"}, "content"),
        ({"title": "T", "content": CONTENT, "local_id": "has space"}, "local_id"),
        ({"title": "T", "content": CONTENT, "archived": "no"}, "archived"),
    ],
)
def test_create_refuses_invalid_fields(kwargs: dict[str, Any], field: str) -> None:
    """An invalid create cannot be built, and the error names the field."""
    with pytest.raises(RequestValidationError) as info:
        CreateTemplate(**kwargs)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "content"),
        ({"text": ""}, "text"),
        ({"gallery": [{"link": IMAGE}]}, "gallery[0]"),
        ({"gallery": [{"url": "not a url"}]}, "gallery[0].url"),
        ({"gallery": GalleryEntry(url=IMAGE)}, "gallery"),
    ],
)
def test_gallery_content_needs_valid_content(kwargs: dict[str, Any], field: str) -> None:
    """Content needs text or gallery entries, and gallery items must be GalleryEntry values."""
    with pytest.raises(RequestValidationError) as info:
        GalleryContent(**kwargs)
    assert info.value.field == field


def test_gallery_only_content_is_allowed() -> None:
    """A gallery without text is valid content and sends no text key."""
    create = CreateTemplate(
        title="Pics", content=GalleryContent(gallery=[GalleryEntry(url=IMAGE)]), local_id="t-2"
    )
    assert build_create_template(create).json["content"] == {"gallery": [{"url": IMAGE}]}


def test_update_puts_the_whole_body_without_the_id() -> None:
    """Update is a PUT to the template's path whose body is the create body minus the id."""
    update = UpdateTemplate(template_id=31, title="Welcome 2", content=CONTENT, archived=True)
    assert build_update_template(update) == ApiRequest(
        method="PUT",
        path="/v1/template/31",
        json={
            "title": "Welcome 2",
            "content": {"text": "Hi {{first_name}}", "gallery": [{"url": IMAGE}]},
            "archived": True,
        },
        replay_safe=True,
    )
    with pytest.raises(RequestValidationError) as info:
        UpdateTemplate(template_id=0, title="T", content=CONTENT)
    assert info.value.field == "template_id"


def test_get_delete_and_list_requests() -> None:
    """Get and delete address one template; the listing posts the `date` cursor or `{}`."""
    assert build_get_template(31) == ApiRequest(method="GET", path="/v1/template/31")
    assert build_delete_template(31) == ApiRequest(method="DELETE", path="/v1/template/31")
    assert build_list_templates(DateCursor()) == ApiRequest(
        method="POST", path="/v1/templates", json={}, replay_safe=True
    )
    cursor = DateCursor(before=datetime(2026, 4, 16, 12, tzinfo=UTC))
    assert build_list_templates(cursor).json == {"date": "2026-04-16T12:00:00+00:00"}
    with pytest.raises(RequestValidationError):
        build_get_template(-3)
    with pytest.raises(RequestValidationError):
        DateCursor(before=datetime(2026, 4, 16))  # type: ignore[arg-type]


def test_template_reads_name_and_falls_back_to_title() -> None:
    """The object's `name` is read; an answer that says `title` instead fills `name` too."""
    by_name = read_model(response({"id": 1, "name": "N", "title": "T"}), Template)
    by_title = read_model(response({"id": 2, "title": "T"}), Template)
    assert (by_name.name, by_title.name) == ("N", "T")


def test_template_reads_the_documented_object_leniently() -> None:
    """Every documented field is read, nulls act as absent and unknown keys are ignored."""
    data = {
        "id": 31,
        "name": "Welcome",
        "local_id": "t-1",
        "content": {"text": "Hi", "gallery": [{"url": IMAGE, "annotation_text": None}]},
        "team_id": 5,
        "creator_id": 7,
        "shared": True,
        "archived": None,
        "rev": 2,
        "created": "2026-04-16T10:00:00Z",
        "updated": "2026-04-16T11:00:00.5Z",
        "brand_new_field": {"x": 1},
    }
    template = read_model(response(data), Template)
    assert template == Template(
        id=31,
        name="Welcome",
        local_id="t-1",
        content=TemplateContent(text="Hi", gallery=({"url": IMAGE, "annotation_text": None},)),
        team_id=5,
        creator_id=7,
        shared=True,
        rev=2,
        created=datetime(2026, 4, 16, 10, tzinfo=UTC),
        updated=datetime(2026, 4, 16, 11, 0, 0, 500000, tzinfo=UTC),
    )
    assert template.request_id == "req-1"


def test_template_content_stored_as_a_string_is_its_text() -> None:
    """A content value that is a bare string is read as the content's text."""
    [template] = read_list(response([{"id": 3, "content": "Hello"}]), Template)
    assert template.content == TemplateContent(text="Hello")


def test_written_answers_fill_known_values() -> None:
    """Create keeps our local_id, update and delete keep the path id when the answer omits it."""
    created = read_template_written(
        response({"id": 31, "rev": 1, "uuid": "u-1"}), TemplateCreated, local_id="t-1"
    )
    assert created == TemplateCreated(id=31, rev=1, uuid="u-1", local_id="t-1")
    wrapped = read_template_written(
        response({"template": {"id": 31, "rev": 4}}), TemplateUpdated, id=31
    )
    assert wrapped == TemplateUpdated(id=31, rev=4)
    assert read_template_written(response("ok"), TemplateDeleted, id=31) == TemplateDeleted(id=31)
    assert read_template_written(response(None), TemplateDeleted, id=31).request_id == "req-1"


def test_create_answer_without_an_id_is_unexpected() -> None:
    """§2.7 documents an id in the create answer; a bare "ok" cannot be read as a template."""
    with pytest.raises(UnexpectedResponseError, match="TemplateCreated"):
        read_template_written(response("ok"), TemplateCreated, local_id="t-1")

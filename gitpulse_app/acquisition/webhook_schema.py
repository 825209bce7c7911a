"""Schema check of a webhook payload before it is canonicalized.

A payload that fails marks its envelope failed at once, with an error naming the path
(`pull_request.number: missing`, `issue: expected object`, `commits[0].id: expected string`).
Required objects and keys of the seven fact events (and `installation.id` for installation events)
must be present and non-null; every value the canonicalizers read must, when present and
non-null, have the JSON type they expect. Absent optional data (no `installation`, a null `body`) is
fine, and so is any action: the check is the same for every action of an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OBJECT = "object"
STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
ARRAY = "array"


@dataclass(frozen=True)
class _Field:
    """The expected JSON type of one value and, for objects and arrays, of what they hold."""

    kinds: tuple[str, ...]
    required: bool = False
    fields: Mapping[str, _Field] = field(default_factory=dict)
    items: _Field | None = None


def _obj(required: bool = False, **fields: _Field) -> _Field:
    return _Field((OBJECT,), required, fields)


def _str(required: bool = False) -> _Field:
    return _Field((STRING,), required)


def _int(required: bool = False) -> _Field:
    return _Field((INTEGER,), required)


def _bool() -> _Field:
    return _Field((BOOLEAN,))


def _array(items: _Field, required: bool = False) -> _Field:
    return _Field((ARRAY,), required, items=items)


_USER = _obj(login=_str(), id=_int(), node_id=_str(), avatar_url=_str())
_TIMESTAMPS = {key: _str() for key in ("created_at", "updated_at", "closed_at")}
_REPOSITORY = _obj(
    True, id=_int(True), full_name=_str(True), name=_str(), owner=_obj(login=_str())
)
_COMMON = {
    "action": _str(),
    "repository": _REPOSITORY,
    "sender": _USER,
    "installation": _obj(id=_int()),
}

_PULL_REQUEST = _obj(
    True,
    number=_int(True),
    id=_int(),
    node_id=_str(),
    html_url=_str(),
    title=_str(),
    body=_str(),
    state=_str(),
    merged=_bool(),
    draft=_bool(),
    user=_USER,
    merged_by=_USER,
    merged_at=_str(),
    additions=_int(),
    deletions=_int(),
    changed_files=_int(),
    base=_obj(ref=_str()),
    head=_obj(ref=_str()),
    **_TIMESTAMPS,
)
_REVIEW = _obj(
    True,
    id=_int(True),
    node_id=_str(),
    html_url=_str(),
    user=_USER,
    body=_str(),
    state=_str(),
    submitted_at=_str(),
    updated_at=_str(),
)
_COMMENT_FIELDS = {
    "id": _int(True),
    "node_id": _str(),
    "html_url": _str(),
    "user": _USER,
    "body": _str(),
    "created_at": _str(),
    "updated_at": _str(),
}
_ISSUE = _obj(
    True,
    number=_int(True),
    id=_int(),
    node_id=_str(),
    html_url=_str(),
    title=_str(),
    body=_str(),
    state=_str(),
    user=_USER,
    labels=_array(_Field((STRING, OBJECT), fields={"name": _str()})),
    **_TIMESTAMPS,
)
_RELEASE = _obj(
    True,
    id=_int(True),
    tag_name=_str(True),
    node_id=_str(),
    html_url=_str(),
    name=_str(),
    body=_str(),
    draft=_bool(),
    prerelease=_bool(),
    author=_USER,
    published_at=_str(),
    **_TIMESTAMPS,
)
_PUSH_COMMIT = _obj(
    True,
    id=_str(True),
    distinct=_bool(),
    message=_str(),
    timestamp=_str(),
    author=_obj(name=_str(), email=_str(), username=_str()),
)
_INSTALLATION_EVENT = {"action": _str(), "installation": _obj(True, id=_int(True))}

# Event objects first, so a delivery missing its main object names that object.
_SCHEMAS: dict[str, _Field] = {
    "pull_request": _obj(pull_request=_PULL_REQUEST, **_COMMON),
    "pull_request_review": _obj(review=_REVIEW, pull_request=_PULL_REQUEST, **_COMMON),
    "pull_request_review_comment": _obj(
        comment=_obj(True, path=_str(), **_COMMENT_FIELDS), pull_request=_PULL_REQUEST, **_COMMON
    ),
    "issues": _obj(issue=_ISSUE, **_COMMON),
    "issue_comment": _obj(comment=_obj(True, **_COMMENT_FIELDS), issue=_ISSUE, **_COMMON),
    "push": _obj(commits=_array(_PUSH_COMMIT, required=True), ref=_str(), **_COMMON),
    "release": _obj(release=_RELEASE, **_COMMON),
    "installation": _obj(**_INSTALLATION_EVENT),
    "installation_repositories": _obj(**_INSTALLATION_EVENT),
}


def check_webhook_schema(event: str, payload: Any) -> str | None:
    """Checks a webhook payload against what processing it needs.

    Args:
        event: The `X-GitHub-Event` header.
        payload: The parsed JSON body.

    Returns:
        None when the payload can be processed (including events we do not handle, such as `ping`),
        else the first error naming its path, e.g. `pull_request.number: missing`.
    """
    schema = _SCHEMAS.get(event)
    if schema is None:
        return None
    if not isinstance(payload, Mapping):
        return "payload: expected object"
    return _check(payload, schema, "")


def _check(value: Any, spec: _Field, path: str) -> str | None:
    kind = _kind_of(value)
    if kind not in spec.kinds:
        return f"{path}: expected {' or '.join(spec.kinds)}"
    if kind == OBJECT:
        for key, child in spec.fields.items():
            child_path = f"{path}.{key}" if path else key
            child_value = value.get(key)
            if child_value is None:
                if child.required:
                    return f"{child_path}: missing"
                continue
            error = _check(child_value, child, child_path)
            if error is not None:
                return error
    elif kind == ARRAY and spec.items is not None:
        for index, item in enumerate(value):
            item_path = f"{path}[{index}]"
            if item is None:
                if spec.items.required:
                    return f"{item_path}: missing"
                continue
            error = _check(item, spec.items, item_path)
            if error is not None:
                return error
    return None


def _kind_of(value: Any) -> str:
    if isinstance(value, Mapping):
        return OBJECT
    if isinstance(value, str):
        return STRING
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, list):
        return ARRAY
    if isinstance(value, float):
        return "number"
    return "null" if value is None else type(value).__name__

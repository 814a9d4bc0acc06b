"""Each storage type's parameters, checked all at once: every problem is reported, keyed by its field
(`parameters.credentials.access_key`), as Claid's validation errors are."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import StorageInvalid
from .uri import name_problems, normal_prefix, path_problems

TYPES = ("web_folder", "s3", "gcs")
REQUIRED = "field required"
EXTRA = "extra fields not permitted"
TEXT = "str type expected"
REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
# Wide enough for every S3-compatible store's bucket names (AWS's rules are stricter), never a path.
BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,221}")
SERVICE_ACCOUNT_FIELDS = ("client_email", "private_key")


@dataclass(frozen=True)
class Definition:
    """A storage as it will be recorded: the public parameters, and the credentials to encrypt."""

    name: str
    type: str
    parameters: dict[str, Any]
    credentials: dict[str, Any] | None


class _Problems:
    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def add(self, field: str, problem: str) -> None:
        self.found.setdefault(field, []).append(problem)


def check(name: object, type: object, parameters: object) -> Definition:
    """The definition, or StorageInvalid naming every field that is wrong."""
    problems = _Problems()
    for problem in name_problems(name):
        problems.add("name", problem)
    if type not in TYPES:
        problems.add("type", f"value is not a valid enumeration member; permitted: {', '.join(map(repr, TYPES))}")
    if parameters is None:
        parameters = {}
    public: dict[str, Any] = {}
    credentials: dict[str, Any] | None = None
    if not isinstance(parameters, dict):
        problems.add("parameters", "value is not a valid dict")
    elif type in TYPES:
        public, credentials = CHECKS[str(type)](parameters, problems)
    if problems.found:
        raise StorageInvalid(problems.found)
    assert isinstance(name, str) and isinstance(type, str)
    return Definition(name, type, public, credentials)


def _extra(parameters: dict[str, Any], allowed: tuple[str, ...], problems: _Problems, prefix: str) -> None:
    for key in parameters:
        if key not in allowed:
            problems.add(f"{prefix}{str(key)[:64]}", EXTRA)


def _text(parameters: dict[str, Any], key: str, problems: _Problems, *, required: bool) -> str | None:
    value = parameters.get(key)
    if value is None:
        if required:
            problems.add(f"parameters.{key}", REQUIRED)
        return None
    if not isinstance(value, str):
        problems.add(f"parameters.{key}", TEXT)
        return None
    return value


def _path(parameters: dict[str, Any], problems: _Problems) -> str:
    raw = _text(parameters, "path", problems, required=False) or ""
    prefix = normal_prefix(raw)
    for problem in path_problems(prefix):
        problems.add("parameters.path", problem)
    return prefix


def _bucket(parameters: dict[str, Any], problems: _Problems) -> str | None:
    bucket = _text(parameters, "bucket", problems, required=True)
    if bucket is not None and not BUCKET.fullmatch(bucket):
        problems.add("parameters.bucket", "must be a bucket name: letters, digits, '.', '_' and '-'")
        return None
    return bucket


def _endpoint(parameters: dict[str, Any], problems: _Problems) -> str | None:
    url = _text(parameters, "endpoint_url", problems, required=False)
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add("parameters.endpoint_url", "must be an http(s) URL")
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        problems.add("parameters.endpoint_url", "must not carry credentials, a query or a fragment")
        return None
    return url.rstrip("/")


def _s3(parameters: dict[str, Any], problems: _Problems) -> tuple[dict[str, Any], dict[str, Any] | None]:
    _extra(parameters, ("bucket", "path", "region", "endpoint_url", "credentials"), problems, "parameters.")
    public: dict[str, Any] = {"bucket": _bucket(parameters, problems), "path": _path(parameters, problems)}
    region = _text(parameters, "region", problems, required=False)
    if region is not None and not REGION.fullmatch(region):
        problems.add("parameters.region", "must be a region name such as 'us-east-1'")
    public["region"] = region
    public["endpoint_url"] = _endpoint(parameters, problems)
    raw = parameters.get("credentials")
    if raw is None:
        problems.add("parameters.credentials", REQUIRED)
        return public, None
    if not isinstance(raw, dict):
        problems.add("parameters.credentials", "value is not a valid dict")
        return public, None
    _extra(raw, ("access_key", "secret_access_key"), problems, "parameters.credentials.")
    credentials = {}
    for key in ("access_key", "secret_access_key"):
        value = raw.get(key)
        if value is None:
            problems.add(f"parameters.credentials.{key}", REQUIRED)
        elif not isinstance(value, str) or not value:
            problems.add(f"parameters.credentials.{key}", "must be a non-empty string")
        else:
            credentials[key] = value
    return {k: v for k, v in public.items() if v is not None}, credentials


def _gcs(parameters: dict[str, Any], problems: _Problems) -> tuple[dict[str, Any], dict[str, Any] | None]:
    _extra(parameters, ("bucket", "path", "endpoint_url", "credentials"), problems, "parameters.")
    public: dict[str, Any] = {"bucket": _bucket(parameters, problems), "path": _path(parameters, problems)}
    public["endpoint_url"] = endpoint = _endpoint(parameters, problems)
    raw = parameters.get("credentials")
    if isinstance(raw, str):  # the key file's text, as downloaded
        try:
            raw = json.loads(raw)
        except ValueError:
            problems.add("parameters.credentials", "must be a service-account key (JSON)")
            return public, None
    credentials: dict[str, Any] | None = None
    if raw is None:
        if endpoint is None:  # Google's own endpoint always wants a key; an emulator may not
            problems.add("parameters.credentials", REQUIRED)
    elif not isinstance(raw, dict) or raw.get("type") != "service_account":
        problems.add("parameters.credentials", "must be a service-account key (JSON with type 'service_account')")
    else:
        for key in SERVICE_ACCOUNT_FIELDS:
            if not isinstance(raw.get(key), str) or not raw[key]:
                problems.add(f"parameters.credentials.{key}", REQUIRED)
        token_uri = raw.get("token_uri")
        if token_uri is not None and (not isinstance(token_uri, str) or urlsplit(token_uri).scheme != "https"):
            problems.add("parameters.credentials.token_uri", "must be an https URL")
        credentials = raw
    return {k: v for k, v in public.items() if v is not None}, credentials


def _web_folder(parameters: dict[str, Any], problems: _Problems) -> tuple[dict[str, Any], dict[str, Any] | None]:
    # The folder lives in Cutout's data directory: there is no bucket to name and nothing to log in to.
    _extra(parameters, ("path",), problems, "parameters.")
    return {"path": _path(parameters, problems)}, None


CHECKS = {"s3": _s3, "gcs": _gcs, "web_folder": _web_folder}

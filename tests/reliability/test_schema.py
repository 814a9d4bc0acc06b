"""Property-based: schemathesis drives every operation in /openapi.json against a running server.

Fixed seed, bounded examples. Every response must be documented (status, content type, headers, body
schema), no input may produce a 5xx, requests the schema forbids must be refused, and the credentials
must be required where the schema says so: ImageKit's private key, Uploadcare's REST API keys, Photoroom's
x-api-key.
Operations of both dialects find real ids (files, versions, uuids, subscriptions, tokens) most of the time.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import schemathesis
from PIL import Image
from schemathesis.checks import ignored_auth, negative_data_rejection
from schemathesis.openapi import from_url

from service.egress import Egress, EgressBlocked

from ..conftest import CornerSegmenter, RunningServer, image_bytes, make_settings, run_server, wait_for
from ..receiver import Origin, Receiver

SEED = 20240611
MAX_EXAMPLES = 100
# Everything a response can get wrong, plus: requests the schema forbids are refused, auth is enforced,
# and 405s list the right methods. Not positive_data_acceptance: JSON Schema cannot say "a decodable
# image", "a valid searchQuery" or "publish alone", so schema-valid requests may still be a 400.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "allow_header_conformance",
]
STATUSES: Counter[tuple[str, int]] = Counter()


def _subject() -> bytes:
    """A red block on white: CornerSegmenter finds a subject in it (remove.bg refuses a photo without one)."""
    image = Image.new("RGB", (48, 36), (255, 255, 255))
    image.paste((200, 20, 20), (8, 8, 40, 28))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


SUBJECT = _subject()


@dataclass
class Known:
    """Ids that exist on the server, so that generated cases reach past the 404."""

    files: dict[str, list[str]]  # fileId -> [versionId of Version 1, of Version 2]
    paths: list[str]  # their filePaths
    deliveries: list[str]  # of per-request webhookUrls: no endpoint to delete or disable under them
    endpoints: list[int]
    # Files (and endpoints) for each deleting operation to use up, so that the others keep finding theirs.
    disposable: dict[str, dict[str, list[str]]]
    disposable_endpoints: list[int]


DELETING = ("DELETE /v1/files/{fileId}", "DELETE /v1/files/{fileId}/versions/{versionId}",
            "POST /v1/files/batch/deleteByFileIds")  # fmt: skip


@dataclass
class KnownUploadcare:
    """Uploadcare uuids, subscriptions and upload state that exist on the server."""

    files: list[str]  # stored with metadata, unstored, and remove_bg results
    keys: list[str]  # metadata keys every one of `files` has
    requests: list[str]  # remove_bg request ids, done
    hooks: list[int]
    receiver: str  # where new subscriptions may point
    tokens: list[str]  # from-URL upload tokens
    source_url: str  # an image on this server, for uploads from a URL
    parts: dict[str, int]  # part URL token -> the size it takes, of a multipart upload left open
    sessions: list[str]  # multipart uploads with every part sent, for `complete` to use up
    # Files (and subscriptions) for each deleting operation to use up, so that the others keep finding theirs.
    disposable: dict[str, list[str]]
    disposable_hooks: list[int]


UC_DELETING = ("DELETE /files/{uuid}/storage/", "DELETE /files/storage/", "DELETE /files/{uuid}/metadata/{key}/")
METADATA = {"k0": "v0", "k1": "v1", "subject": "cat"}
MULTIPART_SIZE = 10 * 1024 * 1024 + 7  # just over the multipart minimum: two 5 MiB parts and 7 bytes


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def photo_origin() -> Iterator[Origin]:
    """An image on 127.0.0.1 for Photoroom's GET /v2/edit to fetch."""
    origin = Origin(image_bytes())
    yield origin
    origin.close()


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # Generated URLs name arbitrary public hosts: keep the run hermetic by refusing every host that is
    # not loopback (where this module's receiver listens) before anything is resolved or sent.
    original = Egress.check

    async def loopback_only(self: Egress, url: str):  # type: ignore[no-untyped-def]
        host, _, _ = self.check_static(url)
        if host not in ("127.0.0.1", "localhost"):
            raise EgressBlocked("tests do not reach the network")
        return await original(self, url)

    settings = make_settings(Path(tmp_path_factory.mktemp("schema")) / "data", egress_allow=("127.0.0.0/8",))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Egress, "check", loopback_only)
        yield from run_server(settings, CornerSegmenter())


@pytest.fixture(scope="module")
def known(api_server: RunningServer, hooks: Receiver) -> Known:
    """Files with two versions each, and deliveries in the log."""
    auth = api_server.auth()
    with api_server.http() as http:
        endpoints = []
        for _ in range(6):
            made = http.post("/v1/webhooks/endpoints", auth=auth, json={"url": f"{hooks.url}/events"})
            assert made.status_code == 201, made.text
            endpoints.append(made.json()["id"])
        uploaded = []
        for i in range(3 + 3 * len(DELETING)):
            response = http.post(
                "/api/v1/files/upload", auth=auth, files={"file": (f"k{i}.png", image_bytes((40 + i, 30)))},
                data={"fileName": f"k{i}.png", "extensions": json.dumps([{"name": "remove-bg"}]),
                      "webhookUrl": f"{hooks.url}/r"},
            )  # fmt: skip
            assert response.status_code == 200, response.text
            uploaded.append(response.json())
        api_server.wait_jobs_done()
        files = {}
        for body in uploaded:
            versions = http.get(f"/v1/files/{body['fileId']}/versions", auth=auth).json()
            files[body["fileId"]] = [v["versionInfo"]["id"] for v in versions]
            assert len(versions) == 2
        logged = http.get("/v1/webhooks/deliveries", auth=auth, params={"event": "extension.succeeded"}).json()
    ids = list(files)
    return Known(
        files={i: files[i] for i in ids[:3]},
        paths=[body["filePath"] for body in uploaded[:3]],
        deliveries=[d["id"] for d in logged if d["endpointId"] is None][:5],
        endpoints=endpoints[:3],
        disposable_endpoints=endpoints[3:],
        disposable={op: {i: files[i] for i in ids[3 + 3 * n : 6 + 3 * n]} for n, op in enumerate(DELETING)},
    )


@dataclass
class KnownStorages:
    """Web-folder storages to read (one holds an object) and to delete, for Claid's storage endpoints."""

    kept: list[int]
    disposable: list[int]
    token: str  # of kept[0], whose folder holds `key`
    key: str


@pytest.fixture(scope="module")
def known_storages(api_server: RunningServer) -> KnownStorages:
    headers = {"Authorization": f"Bearer {api_server.settings.claid_api_key}"}
    made = []
    with api_server.http() as http:
        for i in range(14):
            response = http.post("/v1/storage/storages", headers=headers, json={"name": f"known{i}", "type": "web_folder"})
            assert response.status_code == 201, response.text
            made.append(response.json()["data"])
    token = made[0]["parameters"]["bucket"]
    # What an output written to the folder leaves there (the folder's own API only reads).
    (api_server.data_dir / "web-folders" / token / "pic.png").write_bytes(image_bytes())
    return KnownStorages([m["id"] for m in made[:2]], [m["id"] for m in made[2:]], token, "pic.png")


def aim_storages(case: schemathesis.Case, known: KnownStorages) -> None:
    """Most valid cases of Claid's storage endpoints name a real storage or object, or create a web folder
    (a generated bucket or endpoint is refused by the egress rules of this run). No case deletes a kept one."""
    params = case.path_parameters or {}
    if case.method.upper() == "DELETE" and unquote(str(params.get("id"))).strip() in {str(k) for k in known.kept}:
        params["id"] = known.disposable[0]
    if case.meta is not None and case.meta.generation.mode != schemathesis.GenerationMode.POSITIVE:
        return
    if "/storage/storages/{id}" in case.path and isinstance(params.get("id"), int):
        ids = known.disposable if case.method.upper() == "DELETE" else known.kept
        params["id"] = int(pick(params["id"], [str(i) for i in ids]) or params["id"])
    if case.path.startswith("/web-folders/") and pick(repr(params), ["the object"]):
        params.update(token=known.token, key=known.key)
    body = case.body
    if case.path.endswith("/storage/storages") and isinstance(body, dict) and pick(repr(body), ["a web folder"]):
        case.body = {"name": f"s{zlib.crc32(repr(body).encode())}", "type": "web_folder"}


@dataclass
class KnownClaid:
    """A Claid async task, a batch and a temporary result that exist, and a photo URL to edit."""

    source_url: str
    task: int
    batch: int
    result: tuple[str, str]  # token, name


@pytest.fixture(scope="module")
def known_claid(api_server: RunningServer, photo_origin: Origin) -> KnownClaid:
    headers = {"Authorization": f"Bearer {api_server.settings.claid_api_key}"}
    url = f"{photo_origin.url}/photo.png"
    body = {"input": url, "output": {"format": "png"}}
    with api_server.http() as http:
        edited = http.post("/v1/image/edit", headers=headers, json=body)
        assert edited.status_code == 200, edited.text
        token, name = edited.json()["data"]["output"]["tmp_url"].rsplit("/", 2)[1:]
        task = http.post("/v1/image/edit/async", headers=headers, json=body).json()["data"]["id"]
        batch = http.post("/v1/image/edit/batch", headers=headers, json={**body, "input": [url]}).json()["data"]["id"]
    return KnownClaid(url, task, batch, (token, name))


def aim_claid(case: schemathesis.Case, known: KnownClaid) -> None:
    """Two in three of the valid cases of Claid's edit routes name a photo that exists, a task or a result that does."""
    if case.meta is not None and case.meta.generation.mode != schemathesis.GenerationMode.POSITIVE:
        return
    label = case.operation.label
    if "/image/" not in label or not pick(repr(case.body) + repr(case.path_parameters), ["aimed"]):
        return
    plain = {"output": {"format": "png"}}
    if label.endswith(("/image/edit", "/image/edit/async")):
        case.body = {"input": known.source_url, **plain}
    elif label.endswith("/image/edit/batch"):
        case.body = {"input": [known.source_url], **plain}
    elif label.endswith("/image/edit/upload"):
        case.body = {"file": SUBJECT, "data": json.dumps(plain)}
    elif label.endswith("/async/{id}"):
        case.path_parameters = {"id": known.task}
    elif label.endswith("/batch/{id}"):
        case.path_parameters = {"id": known.batch}
    elif label.endswith("/results/{token}/{name}"):
        case.path_parameters = {"token": known.result[0], "name": known.result[1]}


def bmp_of_at_least(size: int) -> bytes:
    """An image big enough to need a multipart upload."""
    side = int((size / 3) ** 0.5) + 2
    out = io.BytesIO()
    Image.new("RGB", (side, side), (30, 120, 200)).save(out, "BMP")
    return out.getvalue()


@pytest.fixture(scope="module")
def known_uploadcare(api_server: RunningServer, hooks: Receiver) -> KnownUploadcare:
    """Files in every state the REST API tells apart, subscriptions, and uploads from a URL and in parts."""
    settings = api_server.settings
    key = settings.uploadcare_public_key
    rest = {"Accept": "application/vnd.uploadcare-v0.7+json",
            "Authorization": f"Uploadcare.Simple {key}:{settings.uploadcare_secret_key}"}  # fmt: skip
    metadata = {f"metadata[{k}]": v for k, v in METADATA.items()}

    with api_server.http() as http:

        def upload(i: int, store: str) -> str:
            response = http.post("/base/", data={"UPLOADCARE_PUB_KEY": key, "UPLOADCARE_STORE": store, **metadata},
                                 files={"file": (f"uc{i}.png", image_bytes((50 + i, 30)))})  # fmt: skip
            assert response.status_code == 200, response.text
            return response.json()["file"]

        stored = [upload(i, "1") for i in range(2)]
        unstored = upload(2, "0")
        requests = []
        for target in stored:
            response = http.post("/addons/remove_bg/execute/", headers=rest, json={"target": target})
            assert response.status_code == 200, response.text
            requests.append(response.json()["request_id"])
        api_server.wait_jobs_done()
        results = []
        for request_id in requests:
            status = http.get("/addons/remove_bg/execute/status/", headers=rest, params={"request_id": request_id})
            assert status.json()["status"] == "done", status.text
            results.append(status.json()["result"]["file_id"])
        for result in results:  # the result files get the same metadata, so that every known file has the keys
            for name, value in METADATA.items():
                assert http.put(f"/files/{result}/metadata/{name}/", headers=rest, json=value).status_code == 201
        disposable = {op: [upload(10 + 3 * n + i, "1") for i in range(3)] for n, op in enumerate(UC_DELETING)}

        made = []
        for i in range(5):
            response = http.post(
                "/webhooks/", headers=rest, data={"target_url": f"{hooks.url}/uc{i}", "event": "file.stored"}
            )
            assert response.status_code == 201, response.text
            made.append(response.json()["id"])

        source_url = f"{api_server.url}/cdn/{stored[0]}/"
        tokens = []
        for _ in range(2):
            response = http.post("/from_url/", data={"pub_key": key, "source_url": source_url, "store": "1"})
            assert response.status_code == 200, response.text
            tokens.append(response.json()["token"])
        for token in tokens:
            wait_for(lambda token=token: http.get("/from_url/status/", params={"token": token}).json()["status"]
                     in ("success", "error"))  # fmt: skip

        image = bmp_of_at_least(MULTIPART_SIZE)

        def start(size: int) -> dict[str, Any]:
            response = http.post("/multipart/start/", data={
                "UPLOADCARE_PUB_KEY": key, "filename": "big.bmp", "size": str(size), "content_type": "image/bmp",
            })  # fmt: skip
            assert response.status_code == 200, response.text
            return response.json()

        sessions = []
        for _ in range(2):
            started = start(len(image))
            offset = 0
            for url in started["parts"]:
                part = image[offset : offset + 5 * 1024 * 1024]
                offset += len(part)
                assert http.put(url, content=part).status_code == 200
            sessions.append(started["uuid"])
        left_open = start(MULTIPART_SIZE)["parts"]
        sizes = [5 * 1024 * 1024, 5 * 1024 * 1024, 7]
        parts = {url.rstrip("/").rsplit("/", 1)[-1]: size for url, size in zip(left_open, sizes, strict=True)}

    return KnownUploadcare(
        files=[*stored, unstored, *results],
        keys=list(METADATA),
        requests=requests,
        hooks=made[:3],
        disposable_hooks=made[3:],
        receiver=hooks.url,
        tokens=tokens,
        source_url=source_url,
        parts=parts,
        sessions=sessions,
        disposable=disposable,
    )


@pytest.fixture(scope="module")
def api_schema(api_server: RunningServer, known: Known, known_uploadcare: KnownUploadcare):  # type: ignore[no-untyped-def]
    settings = api_server.settings
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "base-url": api_server.url,
        # No example database: nothing replays from an earlier run, so every run is the same run.
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
        # Each operation gets the credentials of the scheme its `security` names.
        "auth": {"openapi": {
            "basic": {"username": settings.imagekit_private_key, "password": ""},
            "uploadcare": {"api_key": f"Uploadcare.Simple {settings.uploadcare_public_key}:"
                                      f"{settings.uploadcare_secret_key}"},
            "removebgApiKey": {"api_key": settings.removebg_api_key},
            "photoroom": {"api_key": settings.photoroom_api_key},
            "claid": {"bearer": settings.claid_api_key},
        }},
        "phases": {"stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    })  # fmt: skip
    return from_url(f"{api_server.url}/openapi.json", config=config)


def pick(generated: object, choices: list[str]) -> str | None:
    """One of `choices` two times in three, chosen from the generated value (so the run stays reproducible)."""
    index = zlib.crc32(json.dumps(generated, default=str).encode()) % (len(choices) * 3)
    return choices[index // 2] if index < len(choices) * 2 else None


def aim_at_known_ids(case: schemathesis.Case, known: Known) -> None:
    """Replace most generated file, version and delivery ids and file paths of valid cases with real ones."""
    if case.meta is not None and case.meta.generation.mode != schemathesis.GenerationMode.POSITIVE:
        return
    operation = case.operation.label
    params = case.path_parameters or {}
    files = known.disposable.get(operation, known.files)
    if isinstance(params.get("fileId"), str) and (file_id := pick(params["fileId"], list(files))):
        params["fileId"] = file_id
        if isinstance(params.get("versionId"), str):
            # Version 1 two times in three: only a version that is not current can be deleted.
            versions = files[file_id]
            params["versionId"] = pick(params["versionId"], versions[:1]) or versions[-1]
    if operation == "GET /media/{filePath}" and isinstance(params.get("filePath"), str):
        params["filePath"] = (pick(params["filePath"], known.paths) or params["filePath"]).lstrip("/")
    if case.path.startswith("/v1/webhooks/deliveries/") and isinstance(params.get("id"), str):
        params["id"] = pick(params["id"], known.deliveries) or params["id"]
    if case.path.startswith("/v1/webhooks/endpoints/") and isinstance(params.get("id"), int):
        endpoints = known.disposable_endpoints if case.method.upper() == "DELETE" else known.endpoints
        params["id"] = int(pick(params["id"], [str(e) for e in endpoints]) or params["id"])
    body = case.body
    if (
        operation.endswith("/deleteByFileIds") and isinstance(body, dict) and body.get("fileIds")
        and (file_id := pick(body["fileIds"], list(files)))
    ):
        body["fileIds"][0] = file_id


def aim_uploadcare(case: schemathesis.Case, known: KnownUploadcare, public_key: str) -> None:
    """Most valid Uploadcare cases get the project's public key, real uuids, ids and tokens, and bytes that fit."""
    if case.meta is not None and case.meta.generation.mode != schemathesis.GenerationMode.POSITIVE:
        return
    if not any(tag.startswith("Uploadcare") for tag in case.operation.tags or ()):
        return
    operation = case.operation.label
    params = case.path_parameters or {}
    query = case.query or {}
    body = case.body if isinstance(case.body, dict) else {}
    files = known.disposable.get(operation, known.files)

    def aim(values: dict[str, object], name: str, choices: list[str]) -> None:
        if isinstance(values.get(name), str):
            values[name] = pick(values[name], choices) or values[name]

    # The Upload API names the project by its public key in the form or the query.
    for values, name in ((body, "UPLOADCARE_PUB_KEY"), (body, "pub_key"), (query, "pub_key")):
        aim(values, name, [public_key])
    aim(params, "uuid", files)
    aim(params, "key", known.keys)
    aim(query, "file_id", known.files)
    aim(query, "request_id", known.requests)
    aim(query, "token", known.tokens)
    aim(body, "target", known.files)
    aim(body, "source_url", [known.source_url])
    aim(body, "uuid", known.sessions)
    if operation == "POST /base/" and "file" in body and pick(repr(body["file"]), ["an image"]):
        body["file"] = image_bytes()
    if operation == "POST /multipart/start/" and pick(repr(body), ["a real upload"]):
        # Decided on the whole form: hypothesis's smallest examples pair the real key with filename ""
        # and size 0, and a choice made on those values alone came out the same every time.
        body["size"] = MULTIPART_SIZE
        body["filename"] = body.get("filename") or "big.png"
        body["content_type"] = body.get("content_type") or "image/png"
    if (
        operation == "PUT /multipart/part/{token}/" and isinstance(params.get("token"), str)
        and (token := pick(params["token"], list(known.parts)))
    ):
        params["token"] = token
        case.body = b"\0" * known.parts[token]
    if isinstance(case.body, list) and case.body and isinstance(case.body[0], str):
        case.body[0] = pick(case.body, files) or case.body[0]
    # A URL of its own, since a URL is subscribed to an event only once.
    if (
        operation in ("POST /webhooks/", "PUT /webhooks/{id}/") and isinstance(body.get("target_url"), str)
        and pick(body["target_url"], ["receiver"])
    ):
        body["target_url"] = f"{known.receiver}/{zlib.crc32(body['target_url'].encode())}"
    if case.path.startswith("/webhooks/{id}") and isinstance(params.get("id"), int | str):
        hooks = known.disposable_hooks if case.method.upper() == "DELETE" else known.hooks
        params["id"] = pick(params["id"], [str(h) for h in hooks]) or params["id"]


def aim_removebg(case: schemathesis.Case) -> None:
    """Most valid remove.bg cases get one photo with a subject as their only source, and no background
    source (a generated one is another image source to fetch or decode, or clashes with the others)."""
    if case.meta is not None and case.meta.generation.mode != schemathesis.GenerationMode.POSITIVE:
        return
    if case.operation.label != "POST /v1.0/removebg" or not isinstance(case.body, dict):
        return
    body = case.body
    if not pick(repr(sorted(body.items(), key=str)), ["a photo"]):
        return
    for name in ("image_file", "image_file_b64", "image_url", "bg_color", "bg_image_url", "bg_image_file"):
        body.pop(name, None)
    if case.media_type == "multipart/form-data":
        body["image_file"] = SUBJECT
    else:
        body["image_file_b64"] = base64.b64encode(SUBJECT).decode()
    if str(body.get("format", "")).strip().lower() in ("jpg", "jpeg"):
        body["format"] = "png"  # jpg needs an opaque background, and the backgrounds are gone


def aim_photoroom(case: schemathesis.Case, source_url: str) -> None:
    """A third of the valid GET /v2/edit cases ask for an image that exists: generated URLs never name one."""
    if case.meta is not None and case.meta.generation.mode != schemathesis.GenerationMode.POSITIVE:
        return
    if case.operation.label == "GET /v2/edit" and pick(repr(case.query), ["plain"]):
        case.query = {"imageUrl": source_url}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_answers_within_its_schema(
    case: schemathesis.Case, known: Known, known_uploadcare: KnownUploadcare, api_server: RunningServer,
    photo_origin: Origin, known_storages: KnownStorages, known_claid: KnownClaid,
) -> None:
    # A generated Content-Length or Transfer-Encoding header frames the request wrongly, and uvicorn answers
    # its own text/plain 400 before the application sees it: such a header is not an input of the API.
    for name in [name for name in case.headers or {} if name.lower() in ("content-length", "transfer-encoding")]:
        del case.headers[name]
    aim_at_known_ids(case, known)
    aim_claid(case, known_claid)
    aim_storages(case, known_storages)
    aim_uploadcare(case, known_uploadcare, api_server.settings.uploadcare_public_key)
    aim_removebg(case)
    aim_photoroom(case, f"{photo_origin.url}/photo.png")
    operation = case.operation.label
    # A multipart form has no types: an "array" or "object" where a text field belongs arrives as
    # absent or repeated fields, so type-violating cases are not invalid on the wire.
    multipart = case.media_type == "multipart/form-data"
    # Likewise a path parameter the server receives percent-decoded: a generated `8%3Ae` is `8:e` on arrival.
    escaped = any(isinstance(v, str) and unquote(v) != v for v in (case.path_parameters or {}).values())
    excluded = [negative_data_rejection] if multipart or escaped else []
    if operation in ("GET /v1/account", "GET /v2/account"):
        excluded.append(ignored_auth)  # Photoroom's accounts answer a missing key 400 `apiKey: Required`
    response = case.call_and_validate(excluded_checks=excluded or None)
    STATUSES[(operation, response.status_code)] += 1


def test_the_run_reached_past_validation() -> None:
    """The property test above is only as good as what it reached: every operation answered 2xx at least once."""
    if not STATUSES:
        pytest.skip("runs after the schemathesis test")
    reached = {operation for operation, status in STATUSES if 200 <= status < 300}
    operations = {operation for operation, _ in STATUSES}
    assert operations - reached == set(), {op: s for (op, s) in STATUSES if op not in reached}
    print(f"\nschemathesis: {len(operations)} operations, {sum(STATUSES.values())} requests, all within the schema")

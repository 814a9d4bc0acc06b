"""The OpenAPI 3.1 description served at /openapi.json: every route of every dialect."""

from __future__ import annotations

from typing import Any

from .webhooks import EVENT_KINDS

Schema = dict[str, Any]

IK_ERROR: Schema = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}, "help": {"type": "string"}},
}
OBJECT: Schema = {"type": "object"}
FILE_DETAILS: Schema = {
    "type": "object",
    "required": ["fileId", "name", "filePath", "url", "versionInfo", "fileType", "mime", "size"],
    "properties": {
        "fileId": {"type": "string"},
        "type": {"type": "string", "enum": ["file", "file-version"]},
        "name": {"type": "string"},
        "filePath": {"type": "string"},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "AITags": {"type": ["array", "null"]},
        "versionInfo": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        },
        "isPrivateFile": {"type": "boolean"},
        "isPublished": {"type": "boolean"},
        "customCoordinates": {"type": ["string", "null"]},
        "url": {"type": "string"},
        "thumbnail": {"type": "string"},
        "fileType": {"type": "string"},
        "mime": {"type": "string"},
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        "size": {"type": "integer"},
        "hasAlpha": {"type": "boolean"},
        "customMetadata": {"type": "object"},
        "description": {"type": "string"},
        "createdAt": {"type": "string"},
        "updatedAt": {"type": "string"},
    },
}
EXTENSIONS: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "enum": ["remove-bg"]}, "options": {"type": "object"}},
    },
}
UPLOAD_FORM: Schema = {
    "type": "object",
    "required": ["file", "fileName"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "a file part, an http(s) URL, or base64"},
        "fileName": {"type": "string", "minLength": 1},
        "useUniqueFileName": {"type": "string", "enum": ["true", "false"]},
        "tags": {"type": "string", "description": "comma-separated"},
        "folder": {"type": "string"},
        "isPrivateFile": {"type": "string", "enum": ["true", "false"]},
        "isPublished": {"type": "string", "enum": ["true", "false"]},
        "customCoordinates": {"type": "string"},
        "customMetadata": {"type": "string", "description": "a JSON object"},
        "responseFields": {"type": "string"},
        "extensions": {"type": "string", "description": "a JSON array of extensions"},
        "webhookUrl": {"type": "string"},
        "overwriteFile": {"type": "string", "enum": ["true", "false"]},
        "overwriteTags": {"type": "string", "enum": ["true", "false"]},
        "overwriteCustomMetadata": {"type": "string", "enum": ["true", "false"]},
        "overwriteAITags": {"type": "string", "enum": ["true", "false"]},
        "description": {"type": "string"},
        "publicKey": {"type": "string"},
        "signature": {"type": "string"},
        "expire": {"type": "string"},
        "token": {"type": "string"},
    },
}
BULK_DELETED: Schema = {
    "type": "object",
    "required": ["successfullyDeletedFileIds"],
    "properties": {
        "successfullyDeletedFileIds": {"type": "array", "items": {"type": "string"}},
        "errors": {
            "type": "array",
            "items": {"type": "object", "properties": {"fileId": {"type": "string"}, "error": {"type": "string"}}},
        },
    },
}
ENDPOINT: Schema = {
    "type": "object",
    "required": ["id", "url", "events", "active", "secret"],
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string"},
        "format": {"type": "string"},
        "events": {"type": "array", "items": {"type": "string"}},
        "description": {"type": "string"},
        "active": {"type": "boolean"},
        "disabledReason": {"type": ["string", "null"]},
        "secret": {"type": "string"},
        "previousSecretExpiresAt": {"type": ["string", "null"]},
        "createdAt": {"type": "string"},
        "updatedAt": {"type": "string"},
    },
}
ENDPOINT_INPUT: Schema = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "events": {
            "type": "array",
            "items": {"type": "string"},
            "description": "event names of the endpoint's format, or ['*'] for all: " + ", ".join(EVENT_KINDS),
        },
        "description": {"type": "string", "maxLength": 1024},
        "active": {"type": "boolean"},
    },
    "additionalProperties": False,
}
DELIVERY: Schema = {
    "type": "object",
    "required": ["id", "event", "url", "state", "attempts"],
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "url": {"type": "string"},
        "endpointId": {"type": ["integer", "null"]},
        "fileId": {"type": ["string", "null"]},
        "state": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
        "attemptCount": {"type": "integer"},
        "nextAttemptAt": {"type": ["string", "null"]},
        "lastStatus": {"type": ["integer", "null"]},
        "lastError": {"type": ["string", "null"]},
        "payload": {"type": "object"},
        "attempts": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "number": {"type": "integer"},
                    "at": {"type": "string"},
                    "statusCode": {"type": ["integer", "null"]},
                    "latencyMs": {"type": "integer"},
                    "response": {"type": "string"},
                    "error": {"type": ["string", "null"]},
                },
            },
        },
        "createdAt": {"type": "string"},
        "updatedAt": {"type": "string"},
    },
}


def _json(schema: Schema) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: tuple[int, Schema | None],
    *,
    errors: tuple[int, ...] = (400, 401, 404),
    more: dict[int, Schema] | None = None,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    secured: bool = True,
    security: list[dict[str, list[str]]] | None = None,
    tag: str = "ImageKit",
) -> dict[str, Any]:
    status, schema = ok
    responses: dict[str, Any] = {str(status): {"description": "OK", **(_json(schema) if schema else {})}}
    for code, other in (more or {}).items():
        responses[str(code)] = {"description": "Partly OK", **_json(other)}
    for code in errors:
        responses[str(code)] = {"description": "Error", **_json(IK_ERROR)}
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    if security is not None:
        op["security"] = security
    elif secured:
        op["security"] = [{"basic": []}]
    return op


def _path(name: str, schema: Schema | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def _query(name: str, schema: Schema, *, empty: bool = False, required: bool = False) -> dict[str, Any]:
    """A query parameter; with `empty`, sending it empty is the same as leaving it out."""
    empty_value = {"allowEmptyValue": True} if empty else {}
    return {"name": name, "in": "query", "required": required, "schema": schema, **empty_value}


def _imagekit_paths() -> dict[str, Any]:
    file_id = _path("fileId")
    version_id = _path("versionId")
    # Basic auth with the private key, or (from browsers) no header and a signature in the form:
    # publicKey + token + expire + signature on v1, an upload JWT in `token` on v2.
    upload = _op(
        "Upload a file (optionally with extensions)", (200, OBJECT), errors=(400, 401, 403, 409, 413, 429),
        body={"required": True, "content": {"multipart/form-data": {"schema": UPLOAD_FORM}}},
        security=[{"basic": []}, {}],
    )  # fmt: skip
    patch_body = {
        "required": True,
        **_json({
            "type": "object",
            "properties": {
                "tags": {"type": ["array", "null"], "items": {"type": "string"}},
                "customCoordinates": {"type": ["string", "null"]},
                "customMetadata": {"type": "object"},
                "description": {"type": "string"},
                "extensions": EXTENSIONS,
                "webhookUrl": {"type": "string"},
                "removeAITags": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"const": "all"}]},
                "publish": {"type": "object", "properties": {"isPublished": {"type": "boolean"}}},
            },
        }),
    }  # fmt: skip
    listing = [
        _query("type", {"type": "string", "enum": ["file", "file-version", "folder", "all"]}),
        _query("sort", {"type": "string"}),
        _query("path", {"type": "string"}),
        _query("searchQuery", {"type": "string"}),
        _query("fileType", {"type": "string", "enum": ["all", "image", "non-image"]}),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
        _query("skip", {"type": "integer", "minimum": 0, "maximum": 10**9}),
    ]
    return {
        "/api/v1/files/upload": {"post": upload},
        "/api/v2/files/upload": {"post": upload},
        "/v1/files": {"get": _op("List files and folders", (200, {"type": "array"}), params=listing)},
        "/v1/files/batch/deleteByFileIds": {
            "post": _op(
                "Delete up to 100 files: 200 when all existed, 207 when some did not, 404 when none did",
                (200, BULK_DELETED), more={207: BULK_DELETED},
                body={"required": True, **_json({
                    "type": "object", "required": ["fileIds"],
                    "properties": {
                        "fileIds": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 100},
                    },
                })},
            )  # fmt: skip
        },
        "/v1/files/{fileId}/details": {
            "get": _op("File details", (200, FILE_DETAILS), params=[file_id]),
            "patch": _op("Update file details, or run extensions", (200, FILE_DETAILS),
                         errors=(400, 401, 404, 429), params=[file_id], body=patch_body),  # fmt: skip
        },
        "/v1/files/{fileId}": {"delete": _op("Delete a file and its versions", (204, None), params=[file_id])},
        "/v1/files/{fileId}/versions": {
            "get": _op("List versions", (200, {"type": "array", "items": FILE_DETAILS}), params=[file_id])
        },
        "/v1/files/{fileId}/versions/{versionId}": {
            "get": _op("One version", (200, FILE_DETAILS), params=[file_id, version_id]),
            "delete": _op("Delete a version (not the current one)", (204, None), params=[file_id, version_id]),
        },
        "/v1/files/{fileId}/versions/{versionId}/restore": {
            "put": _op("Make a version current", (200, FILE_DETAILS), params=[file_id, version_id])
        },
        "/media/{filePath}": {
            "get": _op(
                "The file's bytes (signed URL for private files)", (200, None), errors=(400, 401, 404, 429),
                params=[_path("filePath"), _query("ik-t", {"type": "string"}), _query("ik-s", {"type": "string"}),
                        _query("ik-obj-version", {"type": "string"})],
                secured=False,
            )  # fmt: skip
        },
    }


def _native_paths(formats: tuple[str, ...]) -> dict[str, Any]:
    endpoint_id = _path("id", {"type": "integer", "minimum": 1})
    delivery_id = _path("id")
    tag = "Webhooks"
    deliveries_query = [
        _query("state", {"type": "string", "enum": ["pending", "succeeded", "failed"]}),
        _query("event", {"type": "string"}),
        _query("fileId", {"type": "string"}),
        _query("endpointId", {"type": "integer", "minimum": 0}),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
        _query("skip", {"type": "integer", "minimum": 0, "maximum": 10**9}),
    ]
    properties = {**ENDPOINT_INPUT["properties"], "format": {"enum": list(formats)}}
    endpoint_input = {**ENDPOINT_INPUT, "properties": properties}
    create_input = {**endpoint_input, "required": ["url"]}
    return {
        "/v1/webhooks/endpoints": {
            "get": _op("List webhook endpoints", (200, {"type": "array", "items": ENDPOINT}), errors=(401,), tag=tag),
            "post": _op("Register a webhook endpoint", (201, ENDPOINT), errors=(400, 401, 409), tag=tag,
                        body={"required": True, **_json(create_input)}),  # fmt: skip
        },
        "/v1/webhooks/endpoints/{id}": {
            "get": _op("One endpoint", (200, ENDPOINT), params=[endpoint_id], tag=tag),
            "patch": _op("Change an endpoint", (200, ENDPOINT), params=[endpoint_id], tag=tag,
                         body={"required": True, **_json(endpoint_input)}),  # fmt: skip
            "delete": _op("Remove an endpoint", (204, None), params=[endpoint_id], tag=tag),
        },
        "/v1/webhooks/endpoints/{id}/rotate-secret": {
            "post": _op("Give an endpoint a new secret", (200, ENDPOINT), params=[endpoint_id], tag=tag)
        },
        "/v1/webhooks/deliveries": {
            "get": _op("The delivery log", (200, {"type": "array", "items": DELIVERY}), errors=(400, 401),
                       params=deliveries_query, tag=tag)  # fmt: skip
        },
        "/v1/webhooks/deliveries/{id}": {
            "get": _op("One delivery with its attempts", (200, DELIVERY), params=[delivery_id], tag=tag)
        },
        "/v1/webhooks/deliveries/{id}/redeliver": {
            "post": _op("Send a delivery again now", (202, DELIVERY), params=[delivery_id], tag=tag)
        },
    }


UC_ERROR: Schema = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
UC_ACCEPT = {
    "name": "Accept",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "enum": ["application/vnd.uploadcare-v0.7+json"]},
}
UC_FILE: Schema = {
    "type": "object",
    "required": ["uuid", "datetime_uploaded", "is_image", "is_ready", "mime_type", "original_filename", "size"],
    "properties": {
        "uuid": {"type": "string", "format": "uuid"},
        "datetime_uploaded": {"type": "string"},
        "datetime_stored": {"type": ["string", "null"]},
        "datetime_removed": {"type": ["string", "null"]},
        "is_image": {"type": "boolean"},
        "is_ready": {"type": "boolean"},
        "mime_type": {"type": "string"},
        "original_file_url": {"type": ["string", "null"]},
        "original_filename": {"type": "string"},
        "size": {"type": "integer"},
        "url": {"type": "string"},
        "variations": {"type": ["object", "null"]},
        "content_info": {"type": "object"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "appdata": {"type": "object"},
    },
}
UC_HOOK: Schema = {
    "type": "object",
    "required": ["id", "event", "target_url", "is_active"],
    "properties": {
        "id": {"type": "integer"},
        "project": {"type": "integer"},
        "created": {"type": "string"},
        "updated": {"type": "string"},
        "event": {"type": "string", "enum": ["file.uploaded", "file.stored", "file.deleted", "file.info_updated"]},
        "target_url": {"type": "string"},
        "is_active": {"type": "boolean"},
        "signing_secret": {"type": ["string", "null"]},
        "version": {"type": "string"},
    },
}


def _uc_rest(
    summary: str, ok: tuple[int, Schema | None], *, params: list[dict[str, Any]] | None = None,
    body: Schema | None = None, errors: tuple[int, ...] = (400, 401, 404, 406), more: dict[int, Schema] | None = None,
) -> dict[str, Any]:
    """An Uploadcare REST v0.7 operation: version Accept header, Uploadcare auth, `{"detail"}` errors."""
    status, schema = ok
    responses: dict[str, Any] = {str(status): {"description": "OK", **(_json(schema) if schema else {})}}
    for code, other in (more or {}).items():
        responses[str(code)] = {"description": "OK", **_json(other)}
    for code in errors:
        responses[str(code)] = {"description": "Error", **_json(UC_ERROR)}
    op: dict[str, Any] = {
        "summary": summary, "tags": ["Uploadcare REST"], "responses": responses,
        "parameters": [UC_ACCEPT, *(params or [])], "security": [{"uploadcare": []}],
    }  # fmt: skip
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    return op


def _uc_upload(summary: str, *, form: Schema | None = None, params: list[dict[str, Any]] | None = None,
               method_body: str = "multipart/form-data", ok: Schema | None = OBJECT,
               errors: tuple[int, ...] = (400, 403, 404, 413)) -> dict[str, Any]:  # fmt: skip
    """An Upload API operation: public key in the form; text/plain errors (JSON with ?jsonerrors=1)."""
    error = {"description": "Error", "content": {"text/plain": {"schema": {"type": "string"}},
                                                  "application/json": {"schema": OBJECT}}}  # fmt: skip
    op: dict[str, Any] = {
        "summary": summary,
        "tags": ["Uploadcare Upload"],
        "parameters": [_query("jsonerrors", {"type": "string", "description": "1 for JSON errors; text otherwise"}),
                       *(params or [])],
        "responses": {
            "200": {"description": "OK", **(_json(ok) if ok else {})},
            **{str(c): error for c in errors},
        },
    }
    if form is not None:
        op["requestBody"] = {"required": True, "content": {method_body: {"schema": form}}}
    return op


def _uploadcare_paths() -> dict[str, Any]:
    file_uuid = _path("uuid", {"type": "string", "format": "uuid"})
    key = _path("key", {"type": "string", "pattern": "^[A-Za-z0-9_\\-.:]{1,64}$"})
    hook_id = _path("id", {"type": "integer", "minimum": 1})
    # Other add-on names are answered with a 400 that they are not available here.
    addon = _path("addon", {"type": "string", "enum": ["remove_bg"]})
    uuids: Schema = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 100}
    batch: Schema = {"type": "object", "properties": {"status": {"type": "string"}, "problems": OBJECT,
                                                      "result": {"type": "array", "items": UC_FILE}}}  # fmt: skip
    hook_form: Schema = {
        "type": "object",
        "properties": {
            "target_url": {"type": "string"},
            "event": {"type": "string", "enum": ["file.uploaded", "file.stored", "file.deleted", "file.info_updated"]},
            "is_active": {"type": "boolean"},
            "signing_secret": {"type": "string", "maxLength": 32},
            "version": {"type": "string", "enum": ["0.7"]},
        },
    }
    flag: Schema = {"type": "string", "pattern": "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[01])$"}  # any case
    include = _query("include", {"type": "string", "enum": ["appdata"]}, empty=True)
    listing = [
        _query("stored", flag, empty=True),
        _query("removed", flag, empty=True),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
        _query("ordering", {"type": "string", "enum": ["datetime_uploaded", "-datetime_uploaded"]}, empty=True),
        _query("from", {"type": "string", "format": "date-time"}, empty=True),
        _query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}),  # in `next` and `previous`
        include,
    ]
    def cdn(params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "summary": "A file's bytes", "tags": ["Uploadcare CDN"], "parameters": params,
            "responses": {"200": {"description": "The file"}, "400": {"description": "Bad request"},
                          "403": {"description": "Private"}, "404": {"description": "Unknown"}},
        }  # fmt: skip

    base_form: Schema = {
        "type": "object",
        "required": ["UPLOADCARE_PUB_KEY", "file"],
        "properties": {
            "UPLOADCARE_PUB_KEY": {"type": "string"},
            "UPLOADCARE_STORE": {"type": "string", "enum": ["0", "1", "auto"]},
            "file": {"type": "string", "format": "binary"},
            "signature": {"type": "string"},
            "expire": {"type": "string"},
        },
    }
    return {
        "/base/": {"post": _uc_upload("Direct upload; answers {field name: uuid}", form=base_form,
                                      errors=(400, 403, 404, 413, 429))},  # fmt: skip
        "/from_url/": {"post": _uc_upload("Upload from a URL; answers a token", form={
            "type": "object", "required": ["pub_key", "source_url"],
            "properties": {"pub_key": {"type": "string"}, "source_url": {"type": "string"},
                           "store": {"type": "string", "enum": ["0", "1", "auto"]}},
        }, errors=(400, 403, 404, 413, 429))},  # fmt: skip
        "/from_url/status/": {"get": _uc_upload("Status of an upload from a URL",
                                                 params=[_query("token", {"type": "string"}, required=True)])},  # fmt: skip
        "/info/": {"get": _uc_upload("Upload info of a file", params=[
            _query("pub_key", {"type": "string"}, required=True),
            _query("file_id", {"type": "string", "format": "uuid"}, required=True)])},  # fmt: skip
        "/multipart/start/": {"post": _uc_upload("Start a multipart upload (10 MiB and more)", form={
            "type": "object", "required": ["UPLOADCARE_PUB_KEY", "filename", "size", "content_type"],
            "properties": {"UPLOADCARE_PUB_KEY": {"type": "string"}, "filename": {"type": "string"},
                           "size": {"type": "integer"}, "content_type": {"type": "string"}},
        }, errors=(400, 403, 404, 413, 429))},  # fmt: skip
        "/multipart/part/{token}/": {"put": _uc_upload(
            "Upload one part to a signed part URL", params=[_path("token")], ok=None,
            form={"type": "string", "format": "binary"}, method_body="application/octet-stream",
        )},  # fmt: skip
        "/multipart/complete/": {"post": _uc_upload("Finish a multipart upload", form={
            "type": "object", "required": ["UPLOADCARE_PUB_KEY", "uuid"],
            "properties": {"UPLOADCARE_PUB_KEY": {"type": "string"}, "uuid": {"type": "string"}},
        }, errors=(400, 403, 404, 413, 429))},  # fmt: skip
        "/files/": {"get": _uc_rest("List files", (200, {
            "type": "object", "required": ["results"],
            "properties": {"next": {"type": ["string", "null"]}, "previous": {"type": ["string", "null"]},
                           "total": {"type": "integer"}, "totals": OBJECT, "per_page": {"type": "integer"},
                           "results": {"type": "array", "items": UC_FILE}},
        }), params=listing)},  # fmt: skip
        "/files/storage/": {
            "put": _uc_rest("Store up to 100 files", (200, batch), body=uuids),
            "delete": _uc_rest("Delete up to 100 files", (200, batch), body=uuids),
        },
        "/files/{uuid}/": {"get": _uc_rest("File info", (200, UC_FILE),
                                           params=[file_uuid, include])},  # fmt: skip
        "/files/{uuid}/storage/": {
            "put": _uc_rest("Store a file", (200, UC_FILE), params=[file_uuid]),
            "delete": _uc_rest("Delete a file", (200, UC_FILE), params=[file_uuid]),
        },
        "/files/{uuid}/metadata/": {"get": _uc_rest("A file's metadata", (200, OBJECT), params=[file_uuid])},
        "/files/{uuid}/metadata/{key}/": {
            "get": _uc_rest("One metadata value", (200, {"type": "string"}), params=[file_uuid, key]),
            "put": _uc_rest("Set one metadata value: 200 when the key existed, 201 when it is new",
                            (200, {"type": "string"}), more={201: {"type": "string"}}, params=[file_uuid, key],
                            body={"type": "string", "minLength": 1, "maxLength": 512}),  # fmt: skip
            "delete": _uc_rest("Delete one metadata key", (204, None), params=[file_uuid, key]),
        },
        "/addons/{addon}/execute/": {"post": _uc_rest(
            "Run an add-on (remove_bg)", (200, {"type": "object", "properties": {"request_id": {"type": "string"}}}),
            params=[addon], errors=(400, 401, 404, 406, 429),
            body={"type": "object", "required": ["target"],
                  "properties": {"target": {"type": "string", "format": "uuid"}, "params": OBJECT}},
        )},  # fmt: skip
        "/addons/{addon}/execute/status/": {"get": _uc_rest(
            "An add-on request's status", (200, {"type": "object", "required": ["status"], "properties": {
                "status": {"type": "string", "enum": ["in_progress", "error", "done", "unknown"]},
                "result": OBJECT}}),
            params=[addon, _query("request_id", {"type": "string", "format": "uuid"}, required=True)],
        )},  # fmt: skip
        "/webhooks/": {
            "get": _uc_rest("List subscriptions", (200, {"type": "array", "items": UC_HOOK})),
            "post": _uc_rest("Subscribe a URL to an event", (201, UC_HOOK), body=hook_form,
                             errors=(400, 401, 404, 406, 409)),
        },
        "/webhooks/{id}/": {
            "put": _uc_rest("Change a subscription", (200, UC_HOOK), params=[hook_id], body=hook_form),
            "delete": _uc_rest("Remove a subscription", (204, None), params=[hook_id]),
        },
        "/webhooks/unsubscribe/": {"delete": _uc_rest(
            "Remove the subscriptions of a URL", (204, None),
            body={"type": "object", "required": ["target_url"], "properties": {"target_url": {"type": "string"}}},
        )},  # fmt: skip
        "/cdn/{uuid}/": {"get": cdn([file_uuid])},
        "/cdn/{uuid}/{filename}": {"get": cdn([file_uuid, _path("filename")])},
    }  # fmt: skip


def _operations_paths() -> dict[str, Any]:
    def plain(summary: str, statuses: tuple[int, ...] = (200,)) -> dict[str, Any]:
        return {
            "get": {
                "summary": summary,
                "tags": ["Operations"],
                "responses": {str(s): {"description": summary} for s in statuses},
            }
        }

    return {
        "/healthz": plain("Liveness"),
        "/readyz": plain("Readiness: database writable and model loaded", (200, 503)),
        "/metrics": plain("Prometheus metrics"),
        "/openapi.json": plain("This description"),
    }


def _body_timeouts(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation that takes a body may answer 408 when it arrives too slowly, shaped as its 400."""
    for operations in paths.values():
        for op in operations.values():
            if "requestBody" in op and "400" in op["responses"]:
                op["responses"].setdefault("408", {**op["responses"]["400"], "description": "The body was too slow"})
    return paths


def build() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cutout",
            "version": "1.0.0",
            "description": "Self-hosted media library with background removal: ImageKit and Uploadcare wire "
            "formats, and Cutout's own webhook API.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic", "description": "ImageKit private key as the user"},
                "uploadcare": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "Uploadcare.Simple <public key>:<secret key>, or the signed Uploadcare scheme",
                },
            }
        },
        "paths": _body_timeouts({**_imagekit_paths(), **_uploadcare_paths(), **_native_paths(("imagekit", "uploadcare")),
                                 **_operations_paths()}),
    }

"""ImageKit-dialect authentication: private key, client-side upload signatures, v2 JWT uploads."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest
from imagekitio import AuthenticationError, ImageKit

from .conftest import RunningServer, image_bytes

NO_KEY = "Your request does not contain private API key."


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"private_wrong:").decode()},
        {"Authorization": "Bearer private_test_key"},
        {"Authorization": "Basic"},
        {"Authorization": "Basic !!!notbase64"},
    ],
)
def test_missing_or_wrong_key_is_401(http: httpx.Client, headers: dict[str, str]) -> None:
    for method, path in [("GET", "/v1/files"), ("GET", f"/v1/files/{'a' * 24}/details"), ("DELETE", f"/v1/files/{'a' * 24}")]:
        response = http.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.json()["message"] == NO_KEY
        assert response.json()["help"]
        assert response.headers["x-ik-requestId"]


def test_raw_key_in_basic_header_is_accepted(http: httpx.Client, server: RunningServer) -> None:
    response = http.get("/v1/files", headers={"Authorization": f"Basic {server.settings.imagekit_private_key}"})
    assert response.status_code == 200 and response.json() == []


def test_sdk_with_a_wrong_key_gets_authentication_error(server: RunningServer) -> None:
    wrong = ImageKit(private_key="private_nope", base_url=server.url, max_retries=0)
    with pytest.raises(AuthenticationError):
        wrong.assets.list()


def signed_upload(server: RunningServer, http: httpx.Client, *, token: str, expire: int, key: str | None = None) -> httpx.Response:
    signature = hmac.new(
        (key or server.settings.imagekit_private_key).encode(), f"{token}{expire}".encode(), hashlib.sha1
    ).hexdigest()
    return http.post(
        "/api/v1/files/upload",
        files={"file": ("x.png", image_bytes())},
        data={
            "fileName": "browser.png",
            "publicKey": server.settings.imagekit_public_key,
            "token": token,
            "expire": str(expire),
            "signature": signature,
        },
    )


def test_client_side_upload_signature(client: ImageKit, http: httpx.Client, server: RunningServer) -> None:
    params = client.helper.get_authentication_parameters()
    ok = http.post(
        "/api/v1/files/upload",
        files={"file": ("x.png", image_bytes())},
        data={
            "fileName": "browser.png",
            "publicKey": server.settings.imagekit_public_key,
            "token": params["token"],
            "expire": str(params["expire"]),
            "signature": params["signature"],
        },
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["name"].startswith("browser_")

    reused = http.post(
        "/api/v1/files/upload",
        files={"file": ("x.png", image_bytes())},
        data={
            "fileName": "again.png",
            "publicKey": server.settings.imagekit_public_key,
            "token": params["token"],
            "expire": str(params["expire"]),
            "signature": params["signature"],
        },
    )
    assert reused.status_code in (400, 409)
    assert "token" in reused.json()["message"]
    assert server.file_count() == 1


def test_client_side_upload_refusals(http: httpx.Client, server: RunningServer) -> None:
    now = int(time.time())
    expired = signed_upload(server, http, token=str(uuid.uuid4()), expire=now - 10)
    assert expired.status_code == 400 and "expire" in expired.json()["message"]
    too_far = signed_upload(server, http, token=str(uuid.uuid4()), expire=now + 7200)
    assert too_far.status_code == 400 and "expire" in too_far.json()["message"]
    forged = signed_upload(server, http, token=str(uuid.uuid4()), expire=now + 600, key="private_guess")
    assert forged.status_code == 401 and "signature" in forged.json()["message"]
    both = http.post(
        "/api/v1/files/upload",
        auth=server.auth(),
        files={"file": ("x.png", image_bytes())},
        data={"fileName": "x.png", "publicKey": server.settings.imagekit_public_key, "signature": "00", "expire": "1"},
    )
    assert both.status_code == 400 and "both signature and basic auth" in both.json()["message"]
    anonymous = http.post("/api/v1/files/upload", files={"file": ("x.png", image_bytes())}, data={"fileName": "x.png"})
    assert anonymous.status_code == 401
    assert server.file_count() == 0


def jwt(payload: dict[str, object], key: str, kid: str) -> str:
    def enc(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    head = enc({"alg": "HS256", "typ": "JWT", "kid": kid})
    body = enc(payload)
    sig = base64.urlsafe_b64encode(hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig.rstrip(b'=').decode()}"


def test_v2_upload_with_jwt(http: httpx.Client, server: RunningServer) -> None:
    key, kid = server.settings.imagekit_private_key, server.settings.imagekit_public_key
    exp = int(time.time()) + 600
    token = jwt({"fileName": "jwt.png", "folder": "/v2", "iat": exp - 600, "exp": exp}, key, kid)
    ok = http.post(
        "/api/v2/files/upload", files={"file": ("x.png", image_bytes())}, data={"fileName": "jwt.png", "folder": "/v2", "token": token}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["filePath"].startswith("/v2/jwt_")
    replay = http.post(
        "/api/v2/files/upload", files={"file": ("x.png", image_bytes())}, data={"fileName": "jwt.png", "folder": "/v2", "token": token}
    )
    assert replay.status_code in (400, 409)
    tampered = http.post(
        "/api/v2/files/upload",
        files={"file": ("x.png", image_bytes())},
        data={"fileName": "jwt.png", "folder": "/elsewhere", "token": jwt({"fileName": "jwt.png", "folder": "/v2", "exp": exp}, key, kid)},
    )
    assert tampered.status_code == 400 and "folder" in tampered.json()["message"]
    forged = http.post(
        "/api/v2/files/upload",
        files={"file": ("x.png", image_bytes())},
        data={"fileName": "jwt.png", "token": jwt({"fileName": "jwt.png", "exp": exp}, "private_guess", kid)},
    )
    assert forged.status_code == 401
    assert server.file_count() == 1


UNSIGNED_FIELDS = {
    "folder": "/",
    "useUniqueFileName": "false",
    "overwriteFile": "true",
    "extensions": '[{"name": "remove-bg"}]',
    "webhookUrl": "https://example.com/hook",
    "tags": "stolen",
    "isPrivateFile": "false",
    "isPublished": "true",
    "customMetadata": '{"a": 1}',
    "customCoordinates": "1,1,1,1",
    "description": "mine now",
    "responseFields": "tags",
    "overwriteTags": "true",
    "overwriteCustomMetadata": "true",
    "overwriteAITags": "true",
    "publicKey": "public_test_key",
}


@pytest.mark.parametrize("field", sorted(UNSIGNED_FIELDS))
def test_v2_token_must_sign_every_field_sent(http: httpx.Client, server: RunningServer, field: str) -> None:
    """A token signed for a file name alone cannot carry extra fields, e.g. to overwrite another file."""
    key, kid = server.settings.imagekit_private_key, server.settings.imagekit_public_key
    victim = http.post("/api/v1/files/upload", auth=server.auth(), files={"file": ("v.png", image_bytes())},
                       data={"fileName": "victim.png", "useUniqueFileName": "false"}).json()  # fmt: skip
    exp = int(time.time()) + 600
    token = jwt({"fileName": "victim.png", "exp": exp}, key, kid)
    sneaky = http.post("/api/v2/files/upload", files={"file": ("x.png", image_bytes(color=(1, 2, 3)))},
                       data={"fileName": "victim.png", "token": token, field: UNSIGNED_FIELDS[field]})  # fmt: skip
    assert sneaky.status_code == 400, sneaky.text
    assert f"{field} is not in the token" in sneaky.json()["message"]
    assert server.file_count() == 1 and server.jobs() == []
    after = http.get(f"/v1/files/{victim['fileId']}/details", auth=server.auth()).json()
    assert after["versionInfo"] == victim["versionInfo"] and after["size"] == victim["size"]
    # Refused before the token counts as used: the fields it does sign still upload once.
    honest = http.post("/api/v2/files/upload", files={"file": ("x.png", image_bytes())},
                       data={"fileName": "victim.png", "token": token})  # fmt: skip
    assert honest.status_code == 200, honest.text
    assert honest.json()["name"] != "victim.png"  # a unique name: the token did not sign useUniqueFileName


def test_v2_token_that_signs_the_fields_may_overwrite(http: httpx.Client, server: RunningServer) -> None:
    key, kid = server.settings.imagekit_private_key, server.settings.imagekit_public_key
    http.post("/api/v1/files/upload", auth=server.auth(), files={"file": ("v.png", image_bytes())},
              data={"fileName": "victim.png", "useUniqueFileName": "false"}).raise_for_status()  # fmt: skip
    claims = {"fileName": "victim.png", "useUniqueFileName": False, "folder": "/", "exp": int(time.time()) + 600}
    signed = http.post("/api/v2/files/upload", files={"file": ("x.png", image_bytes())},
                       data={"fileName": "victim.png", "useUniqueFileName": "false", "folder": "/",
                             "token": jwt(claims, key, kid)})  # fmt: skip
    assert signed.status_code == 200, signed.text
    assert signed.json()["filePath"] == "/victim.png" and server.file_count() == 1

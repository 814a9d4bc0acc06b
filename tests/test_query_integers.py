"""Integer query parameters: absent means the default, present must be a number; empty is refused in every dialect."""

from __future__ import annotations

import base64

import httpx
import pytest

from .conftest import RunningServer

UC_REST = {
    "Accept": "application/vnd.uploadcare-v0.7+json",
    "Authorization": "Uploadcare.Simple demopublickey0000000:demosecretkey0000000",
}
# (dialect, path, parameter): every integer query parameter the API description lists.
INTEGER_PARAMS = [
    ("imagekit", "/v1/files", "limit"),
    ("imagekit", "/v1/files", "skip"),
    ("native", "/v1/webhooks/deliveries", "limit"),
    ("native", "/v1/webhooks/deliveries", "skip"),
    ("native", "/v1/webhooks/deliveries", "endpointId"),
    ("uploadcare", "/files/", "limit"),
    ("uploadcare", "/files/", "offset"),
]


def headers_for(server: RunningServer, dialect: str) -> dict[str, str]:
    if dialect == "uploadcare":
        return UC_REST
    return {"Authorization": "Basic " + base64.b64encode(f"{server.settings.imagekit_private_key}:".encode()).decode()}


def message(dialect: str, response: httpx.Response) -> str:
    body = response.json()
    return body["detail"] if dialect == "uploadcare" else body["message"]


@pytest.mark.parametrize(("dialect", "path", "name"), INTEGER_PARAMS)
def test_empty_integer_parameter_is_refused(server: RunningServer, http: httpx.Client, dialect: str, path: str,
                                            name: str) -> None:  # fmt: skip
    headers = headers_for(server, dialect)
    assert http.get(path, headers=headers).status_code == 200  # absent: the default
    empty = http.get(path, params={name: ""}, headers=headers)
    assert empty.status_code == 400, empty.text
    assert f"{name} must be a whole number" in message(dialect, empty)
    assert "empty" in message(dialect, empty)
    spaces = http.get(path, params={name: "  "}, headers=headers)
    assert spaces.status_code == 400, spaces.text


def test_integer_parameters_in_the_api_description_allow_no_empty_value(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    for _, path, name in INTEGER_PARAMS:
        (param,) = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name]
        assert param["schema"]["type"] == "integer"
        assert not param.get("allowEmptyValue"), (path, name)

"""remove.bg's API over real HTTP with the real model: bodies, sizes, formats, headers, JSON, ZIP, errors."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
from PIL import Image

from .conftest import CornerSegmenter, RunningServer, image_bytes, photo_bytes
from .receiver import Origin

KEY = {"X-Api-Key": "removebg_test_key"}
PATH = "/v1.0/removebg"
ROCKET = photo_bytes("rocket.jpg")  # 640x427: over preview's 0.25 MP


@pytest.fixture
def rbg(make_server: Callable[..., RunningServer], real_model) -> RunningServer:  # type: ignore[no-untyped-def]
    return make_server(real_model)


@pytest.fixture
def origins() -> Iterator[Callable[[bytes], Origin]]:
    started: list[Origin] = []

    def start(body: bytes) -> Origin:
        started.append(Origin(body))
        return started[-1]

    yield start
    for origin in started:
        origin.close()


def post(server: RunningServer, *, headers: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
    return httpx.post(server.url + PATH, headers={**KEY, **(headers or {})}, timeout=60, **kwargs)  # type: ignore[arg-type]


def upload(data: bytes = ROCKET, **fields: str) -> dict[str, object]:
    return {"files": {"image_file": ("photo.jpg", data, "image/jpeg")}, "data": fields}


def opened(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def alpha_of(image: Image.Image) -> np.ndarray:
    return np.asarray(image.getchannel("A"))


def assert_nothing_stored(server: RunningServer) -> None:
    assert server.blob_count() == 0
    assert server.file_count() == 0
    assert server.jobs() == []


# ---- bodies and sizes ----------------------------------------------------------------------------


def test_multipart_default_is_a_transparent_preview_png_with_remove_bg_headers(rbg: RunningServer) -> None:
    response = post(rbg, **upload())
    image = opened(response)
    assert response.headers["content-type"] == "image/png"
    assert image.mode == "RGBA"
    assert image.width * image.height <= 250_000 and image.width / image.height == pytest.approx(640 / 427, rel=0.01)
    assert (int(response.headers["X-Width"]), int(response.headers["X-Height"])) == image.size
    assert response.headers["X-Credits-Charged"] == "0"
    assert "X-Type" not in response.headers
    alpha = alpha_of(image)
    assert alpha.min() == 0 and alpha.max() == 255
    left, top, width, height = (int(response.headers[f"X-Foreground-{k}"]) for k in ("Left", "Top", "Width", "Height"))
    ys, xs = np.nonzero(alpha > 25)
    assert abs(left - xs.min()) <= 2 and abs(top - ys.min()) <= 2
    assert abs(left + width - 1 - xs.max()) <= 2 and abs(top + height - 1 - ys.max()) <= 2
    assert_nothing_stored(rbg)


@pytest.mark.parametrize("size", ["full", "4k", "auto", "50MP", "hd", "medium"])
def test_sizes_up_from_medium_keep_a_small_photo_as_it_is(rbg: RunningServer, size: str) -> None:
    response = post(rbg, **upload(size=size))
    assert opened(response).size == (640, 427)


@pytest.mark.parametrize("size", ["preview", "small", "regular"])
def test_preview_and_its_aliases_are_at_most_a_quarter_megapixel(rbg: RunningServer, size: str) -> None:
    assert opened(post(rbg, **upload(size=size))).size == (612, 408)


@pytest.mark.parametrize(("size", "limit"), [("medium", 1_500_000), ("hd", 4_000_000)])
def test_medium_and_hd_bound_a_bigger_photo(rbg: RunningServer, size: str, limit: int) -> None:
    big = Image.open(io.BytesIO(ROCKET)).resize((2560, 1708), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    big.save(out, "JPEG", quality=90)
    image = opened(post(rbg, **upload(out.getvalue(), size=size)))
    assert limit * 0.99 < image.width * image.height <= limit
    assert image.width / image.height == pytest.approx(2560 / 1708, rel=0.01)


def test_urlencoded_base64_and_json_bodies_give_the_same_cut_out(rbg: RunningServer) -> None:
    b64 = base64.b64encode(ROCKET).decode()
    multipart = opened(post(rbg, **upload(size="full")))
    urlencoded = opened(post(rbg, data={"image_file_b64": b64, "size": "full"}))
    as_json = opened(post(rbg, json={"image_file_b64": b64, "size": "full", "crop": False}))
    assert np.array_equal(alpha_of(multipart), alpha_of(urlencoded))
    assert np.array_equal(alpha_of(multipart), alpha_of(as_json))


def test_accept_json_answers_result_b64_with_the_foreground_box(rbg: RunningServer) -> None:
    response = post(rbg, headers={"Accept": "application/json"}, json={"image_file_b64": base64.b64encode(ROCKET).decode()})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    image = Image.open(io.BytesIO(base64.b64decode(data["result_b64"])))
    assert image.format == "PNG" and image.size == (int(response.headers["X-Width"]), int(response.headers["X-Height"]))
    for side in ("top", "left", "width", "height"):
        assert data[f"foreground_{side}"] == int(response.headers[f"X-Foreground-{side.title()}"])
    assert data["foreground_width"] > 0 and data["foreground_height"] > 0


def test_a_browser_style_accept_header_still_gets_the_image(rbg: RunningServer) -> None:
    response = post(rbg, headers={"Accept": "application/json, text/plain, */*"}, **upload())
    assert response.headers["content-type"] == "image/png"


def test_image_url_and_bg_image_url_are_fetched(make_server, real_model, origins) -> None:  # type: ignore[no-untyped-def]
    server = make_server(real_model, egress_allow=("127.0.0.0/8",))
    photo, background = origins(photo_bytes("coffee.png")), origins(image_bytes((300, 200), color=(0, 90, 200)))
    response = post(server, data={"image_url": f"{photo.url}/coffee.png", "bg_image_url": f"{background.url}/bg.png"})
    image = opened(response)
    assert response.headers["content-type"] == "image/jpeg" and image.mode == "RGB" and image.size == (600, 400)
    assert photo.hits == ["/coffee.png"] and background.hits == ["/bg.png"]
    assert_nothing_stored(server)


# ---- formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "mime", "mode"),
    [
        ({"format": "png"}, "image/png", "RGBA"),
        ({"format": "webp"}, "image/webp", "RGBA"),
        ({"format": "auto"}, "image/png", "RGBA"),
        ({"format": "jpg", "bg_color": "ffffff"}, "image/jpeg", "RGB"),
        ({"bg_color": "81d4fa"}, "image/jpeg", "RGB"),
        ({"format": "png", "bg_color": "81d4fa77"}, "image/png", "RGBA"),
        ({"channels": "alpha"}, "image/jpeg", "L"),
        ({"channels": "alpha", "format": "png"}, "image/png", "L"),
    ],
)
def test_each_format(rbg: RunningServer, fields: dict[str, str], mime: str, mode: str) -> None:
    response = post(rbg, **upload(size="full", **fields))
    image = opened(response)
    assert response.headers["content-type"] == mime
    assert image.mode == mode and image.size == (640, 427)


def test_zip_holds_color_jpg_and_alpha_png_that_join_into_the_png(rbg: RunningServer) -> None:
    response = post(rbg, **upload(size="full", format="zip"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["color.jpg", "alpha.png"]
    color, alpha = Image.open(archive.open("color.jpg")), Image.open(archive.open("alpha.png"))
    assert (color.format, color.mode, color.size) == ("JPEG", "RGB", (640, 427))
    assert (alpha.format, alpha.mode, alpha.size) == ("PNG", "L", (640, 427))
    png = opened(post(rbg, **upload(size="full", format="png")))
    assert np.array_equal(np.asarray(alpha), alpha_of(png))
    subject = alpha_of(png) == 255
    difference = np.abs(np.asarray(color, dtype=np.int16) - np.asarray(png.convert("RGB"), dtype=np.int16))
    assert difference[subject].mean() < 4  # the same colours, through JPEG


def test_bg_image_file_fills_the_background(rbg: RunningServer) -> None:
    files = {"image_file": ("p.jpg", ROCKET), "bg_image_file": ("bg.png", image_bytes((64, 64), color=(0, 200, 0)))}
    image = opened(post(rbg, files=files, data={"size": "full"}))
    assert image.mode == "RGB"
    assert image.getpixel((2, 2)) == pytest.approx((0, 200, 0), abs=12)


def test_crop_scale_position_roi_and_shadow_are_remove_bg_options(rbg: RunningServer) -> None:
    cropped = opened(post(rbg, **upload(size="full", crop="true", crop_margin="10px")))
    full = post(rbg, **upload(size="full"))
    width, height = int(full.headers["X-Foreground-Width"]), int(full.headers["X-Foreground-Height"])
    assert cropped.size == (width + 20, height + 20)
    scaled = post(rbg, **upload(size="full", scale="50%", position="center"))
    assert int(scaled.headers["X-Foreground-Height"]) == pytest.approx(427 * 0.5, abs=2)
    roi = opened(post(rbg, **upload(size="full", roi="0px 0px 320px 427px")))
    assert alpha_of(roi)[:, 320:].max() == 0
    shadow = opened(post(rbg, **upload(size="full", add_shadow="true", semitransparency="false", type="product")))
    assert shadow.mode == "RGBA"


# ---- errors --------------------------------------------------------------------------------------


@pytest.fixture
def fast(make_server: Callable[..., RunningServer]) -> tuple[RunningServer, CornerSegmenter]:
    segmenter = CornerSegmenter()
    return make_server(segmenter, egress_allow=()), segmenter


def error_of(response: httpx.Response, status: int = 400) -> dict[str, str]:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert set(error) == {"title", "code", "detail"}
    return error


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("size", "huge"), ("type", "dog"), ("type_level", "3"), ("format", "gif"), ("roi", "0 0 10"),
        ("crop", "maybe"), ("crop_margin", "900px"), ("scale", "5%"), ("position", "left"), ("channels", "rgb"),
        ("add_shadow", "perhaps"), ("semitransparency", "half"), ("bg_color", "notacolour"),
        ("bg_image_url", "ftp://example.com/bg.png"), ("shadow_method", "new"),
    ],
)  # fmt: skip
def test_each_bad_parameter_is_a_400_naming_it_before_any_model_run(fast, name: str, value: str) -> None:  # type: ignore[no-untyped-def]
    server, segmenter = fast
    error = error_of(post(server, **upload(**{name: value})))
    assert error["code"] == f"invalid_{name}" and name in error["detail"] and name in error["title"]
    assert segmenter.calls == 0


@pytest.mark.parametrize(
    ("kwargs", "code", "named"),
    [
        ({"data": {"size": "full"}}, "missing_source", "image_file_b64"),
        ({"files": {"image_file": ("a.png", b"x")}, "data": {"image_url": "https://example.com/a.png"}},
         "multiple_sources", "image_url"),
        ({"files": {"image_file": ("a.png", b"x"), "bg_image_file": ("b.png", b"x")},
          "data": {"bg_image_url": "https://example.com/b.png"}}, "multiple_bg_sources", "bg_image_url"),
        ({"files": {"image_file": ("a.png", b"x")}, "data": {"bg_color": "fff", "bg_image_url": "https://e.com/b.png"}},
         "multiple_bg_sources", "bg_color and bg_image_url"),
        ({"data": {"image_file_b64": "not base64!"}}, "failed_to_read_image", "image_file_b64"),
        ({"data": {"image_file_b64": base64.b64encode(b"%PDF-1.4 nonsense").decode()}}, "invalid_file_type", "format"),
        ({"files": {"image_file": ("a.png", image_bytes()[:40])}}, "failed_to_read_image", "truncated"),
        ({"files": {"image_file": ("a.png", image_bytes())}, "data": {"format": "jpg"}}, "invalid_format", "opaque"),
        ({"files": {"image_file": ("a.png", image_bytes())}, "data": {"colour": "red"}}, "unknown_parameter", "colour"),
        ({"files": {"image_file": ("a.png", image_bytes()), "size": ("s.txt", b"full")}}, "invalid_request", "size"),
        ({"data": {"image_url": "http://127.0.0.1/a.png"}}, "invalid_image_url", "image_url"),
        ({"json": {"image_file": "abc"}}, "invalid_request", "image_file"),
        ({"json": ["image_url"]}, "invalid_request", "JSON object"),
        ({"content": b"\x00", "headers": {"Content-Type": "image/png"}}, "invalid_request", "multipart"),
    ],
)  # fmt: skip
def test_bad_sources_and_bodies_are_400s_in_remove_bg_shape(fast, kwargs, code: str, named: str) -> None:  # type: ignore[no-untyped-def]
    server, segmenter = fast
    error = error_of(post(server, **kwargs))
    assert error["code"] == code and named in error["detail"], error
    assert segmenter.calls == 0
    assert_nothing_stored(server)


def test_a_background_image_that_is_no_image_is_refused_naming_it(fast) -> None:  # type: ignore[no-untyped-def]
    server, _ = fast
    files = {"image_file": ("a.png", image_bytes()), "bg_image_file": ("b.png", b"not an image")}
    error = error_of(post(server, files=files))
    assert error["code"] == "invalid_file_type" and "background image" in error["detail"]


def test_an_image_with_no_subject_is_unknown_foreground(fast) -> None:  # type: ignore[no-untyped-def]
    server, segmenter = fast
    error = error_of(post(server, files={"image_file": ("a.png", image_bytes((64, 48)))}))
    assert error["code"] == "unknown_foreground" and "Could not identify foreground" in error["title"]
    assert segmenter.calls == 1


def test_an_image_url_that_cannot_be_fetched_is_failed_image_download(make_server, origins) -> None:  # type: ignore[no-untyped-def]
    server = make_server(egress_allow=("127.0.0.0/8",))
    origin = origins(b"")
    port = origin.url.rsplit(":", 1)[1]
    origin.close()
    error = error_of(post(server, data={"image_url": f"http://127.0.0.1:{port}/gone.png"}))
    assert error["code"] == "failed_image_download" and "image_url" in error["detail"]


def test_a_body_over_the_limit_is_remove_bg_file_too_large(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(max_upload_bytes=100_000)
    error = error_of(post(server, files={"image_file": ("a.jpg", b"\xff" * 1_300_000)}))
    assert error["code"] == "file_too_large" and error["title"] == "File too large"
    error = error_of(post(server, files={"image_file": ("a.jpg", b"\xff" * 150_000)}))
    assert error["code"] == "file_too_large" and "image_file" in error["detail"]


def test_missing_and_wrong_keys_are_403_auth_failed(fast) -> None:  # type: ignore[no-untyped-def]
    server, segmenter = fast
    missing = error_of(httpx.post(server.url + PATH, files={"image_file": ("a.png", image_bytes())}), 403)
    assert (missing["code"], missing["title"]) == ("auth_failed", "Missing API Key")
    wrong = error_of(httpx.post(server.url + PATH, headers={"X-Api-Key": "nope"}, data={}), 403)
    assert (wrong["code"], wrong["title"]) == ("auth_failed", "API Key invalid")
    assert error_of(httpx.get(server.url + "/v1.0/account"), 403)["code"] == "auth_failed"
    assert segmenter.calls == 0


def test_other_methods_are_405_in_remove_bg_shape(fast) -> None:  # type: ignore[no-untyped-def]
    server, _ = fast
    error = error_of(httpx.get(server.url + PATH, headers=KEY), 405)
    assert error["code"] == "method_not_allowed"


def test_account_reports_no_credits_and_the_free_workers(fast) -> None:  # type: ignore[no-untyped-def]
    server, _ = fast
    response = httpx.get(server.url + "/v1.0/account", headers=KEY)
    assert response.status_code == 200
    assert response.json() == {"data": {"attributes": {
        "credits": {"total": 0, "subscription": 0, "payg": 0, "enterprise": 0},
        "api": {"free_calls": 1, "sizes": "all"},
    }}}  # fmt: skip


def test_openapi_describes_both_paths(fast) -> None:  # type: ignore[no-untyped-def]
    server, _ = fast
    document = httpx.get(server.url + "/openapi.json").json()
    assert set(document["paths"]["/v1.0/removebg"]) == {"post"}
    assert set(document["paths"]["/v1.0/account"]) == {"get"}
    assert document["components"]["securitySchemes"]["removebgApiKey"]["name"] == "X-Api-Key"


def test_type_type_level_and_shadow_method_are_hints_that_change_nothing(rbg: RunningServer) -> None:
    plain = post(rbg, **upload(size="full"))
    hinted = post(rbg, **upload(size="full", type="person", type_level="2", shadow_method="legacy"))
    assert plain.status_code == hinted.status_code == 200
    assert hinted.content == plain.content
    assert "X-Type" not in hinted.headers

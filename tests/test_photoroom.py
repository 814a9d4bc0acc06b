"""Photoroom's API over real HTTP: /v1/segment, /v2/edit (POST and GET), the accounts; the real model where it cuts."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from service.dialects.photoroom.edit_params import IMPLEMENTED, REFUSED, REFUSED_SHADOW_MODES
from service.engine import U2NetSegmenter

from .conftest import HeldSegmenter, RunningServer, photo_bytes
from .receiver import Origin

KEY = {"x-api-key": "photoroom_test_key"}
SPEC = json.loads((Path(__file__).parent / "photoroom-openapi.json").read_text())
ALPHA_SEEN = 128
SUBJECT = 26  # alpha above 25 counts as subject when the engine measures its box


def spec_parameters() -> set[str]:
    """Every /v2/edit parameter of Photoroom's OpenAPI description, GET and POST."""
    edit = SPEC["paths"]["/v2/edit"]
    get = {p["name"] for p in edit["get"]["parameters"]}
    post = set(edit["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"])
    return get | post


@pytest.fixture
def real(make_server: Callable[..., RunningServer], real_model: U2NetSegmenter) -> RunningServer:
    return make_server(real_model)


@pytest.fixture
def http_real(real: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=real.url, timeout=60, headers=KEY) as client:
        yield client


@pytest.fixture
def http_fast(server: RunningServer) -> Iterator[httpx.Client]:
    """The stand-in model: for what is refused before any cut-out."""
    with httpx.Client(base_url=server.url, timeout=30, headers=KEY) as client:
        yield client


def decoded(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def cut_card(size: tuple[int, int], box: tuple[int, int, int, int], colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A transparent PNG with an opaque rectangle: with keepExistingAlphaChannel=auto its subject box is exact."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste(Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), (*colour, 255)), box[:2])
    return png(image)


def alpha_box(image: Image.Image, seen: int = ALPHA_SEEN) -> tuple[int, int, int, int] | None:
    alpha = image.getchannel("A") if image.mode in ("RGBA", "LA") else image.convert("L")
    return alpha.point(lambda v: 255 if v >= seen else 0).getbbox()


def close_to(box: tuple[int, ...] | None, expected: tuple[int, ...], slack: int = 1) -> bool:
    return box is not None and all(abs(a - b) <= slack for a, b in zip(box, expected))


def edit(client: httpx.Client, photo: bytes, **fields: str) -> httpx.Response:
    return client.post("/v2/edit", files={"imageFile": ("photo.png", photo, "image/png")}, data=fields)


def segment(client: httpx.Client, photo: bytes, headers: dict[str, str] | None = None, **fields: str) -> httpx.Response:
    files = {"image_file": ("photo.png", photo, "image/png")}
    return client.post("/v1/segment", files=files, data=fields, headers=headers or {})


# ---- /v1/segment ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mime", "pillow"), [("png", "image/png", "PNG"), ("jpg", "image/jpeg", "JPEG"),
                                                      ("webp", "image/webp", "WEBP")])  # fmt: skip
def test_segment_answers_each_format(http_real: httpx.Client, fmt: str, mime: str, pillow: str) -> None:
    response = segment(http_real, photo_bytes("coffee.png"), format=fmt)
    image = decoded(response)
    assert response.headers["content-type"] == mime and image.format == pillow and image.size == (600, 400)
    score = float(response.headers["x-uncertainty-score"])
    assert 0 <= score <= 1
    if fmt == "jpg":  # no alpha in JPEG: the cleared background is white
        assert image.getpixel((2, 2)) >= (250, 250, 250)
    else:
        assert image.mode == "RGBA" and image.getpixel((2, 2))[3] == 0
        assert 0 < np.count_nonzero(np.asarray(image.getchannel("A")) > ALPHA_SEEN) < 600 * 400


def test_segment_alpha_channel_is_the_matte(http_real: httpx.Client) -> None:
    rgba = decoded(segment(http_real, photo_bytes("coffee.png")))
    alpha = decoded(segment(http_real, photo_bytes("coffee.png"), channels="alpha"))
    assert alpha.mode == "L" and alpha.size == rgba.size
    assert np.abs(np.asarray(alpha, np.int16) - np.asarray(rgba.getchannel("A"), np.int16)).max() <= 1


def test_segment_bg_color_and_crop(http_real: httpx.Client) -> None:
    coloured = decoded(segment(http_real, photo_bytes("coffee.png"), bg_color="#00FF00"))
    assert coloured.mode == "RGB" and coloured.getpixel((2, 2)) == (0, 255, 0)
    whole = decoded(segment(http_real, photo_bytes("coffee.png")))
    cropped = decoded(segment(http_real, photo_bytes("coffee.png"), crop="true"))
    box = alpha_box(whole, SUBJECT)
    assert box is not None
    assert close_to((0, 0, *cropped.size), (0, 0, box[2] - box[0], box[3] - box[1]), slack=2)
    assert close_to(alpha_box(cropped), (0, 0, *cropped.size), slack=2)  # the subject touches every side


@pytest.mark.parametrize(("size", "megapixels"), [("preview", 0.25), ("medium", 1.5)])
def test_segment_size_bounds_the_pixels(http_real: httpx.Client, size: str, megapixels: float) -> None:
    photo = Image.open(io.BytesIO(photo_bytes("rocket.jpg"))).resize((1920, 1280))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90)
    image = decoded(segment(http_real, out.getvalue(), size=size))
    assert image.width * image.height <= megapixels * 1_000_000
    assert image.width * image.height > 0.98 * megapixels * 1_000_000
    assert abs(image.width / image.height - 1.5) < 0.01
    assert decoded(segment(http_real, out.getvalue(), size="full")).size == (1920, 1280)
    crop = decoded(segment(http_real, out.getvalue(), size="full", crop="true"))
    small_crop = decoded(segment(http_real, out.getvalue(), size=size, crop="true"))
    if crop.width * crop.height > megapixels * 1_000_000:  # the crop itself is bounded, keeping its shape
        assert small_crop.width * small_crop.height <= megapixels * 1_000_000
        assert abs(small_crop.width / small_crop.height - crop.width / crop.height) < 0.02
    else:
        assert small_crop.size == crop.size


def test_segment_answers_json_when_the_client_asks(http_real: httpx.Client) -> None:
    response = segment(http_real, photo_bytes("coffee.png"), headers={"accept": "application/json"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    image = Image.open(io.BytesIO(base64.b64decode(response.json()["base64img"])))
    assert image.format == "PNG" and image.size == (600, 400)
    assert 0 <= float(response.headers["x-uncertainty-score"]) <= 1
    # axios's default Accept names more than JSON: the image, as clients that did not ask for JSON expect
    tie = segment(http_real, photo_bytes("coffee.png"), headers={"accept": "application/json, text/plain, */*"})
    assert tie.headers["content-type"] == "image/png"


def test_segment_errors_in_its_shape(http_fast: httpx.Client) -> None:
    missing = http_fast.post("/v1/segment", data={"format": "png"}, files={"other": ("x", b"", "text/plain")})
    assert missing.status_code == 400 and missing.json()["type"] == "invalid_parameter"
    missing = http_fast.post("/v1/segment", files={"format": (None, "png")})
    assert missing.status_code == 400
    assert missing.json() == {"detail": "Please provide an image.", "status_code": 400, "type": "missing_image"}
    for field, value in (("format", "gif"), ("channels", "rgb"), ("size", "huge"), ("crop", "yes"),
                         ("despill", "1"), ("bg_color", "nocolour")):  # fmt: skip
        bad = segment(http_fast, photo_bytes("coffee.png"), **{field: value})
        body = bad.json()
        assert bad.status_code == 400 and body["detail"].startswith(field) and body["status_code"] == 400, body
    broken = segment(http_fast, b"not an image at all")
    assert broken.status_code == 400 and broken.json()["type"] == "unsupported_image"
    for headers in ({"x-api-key": ""}, {"x-api-key": "wrong"}):
        refused = segment(http_fast, photo_bytes("coffee.png"), headers=headers)
        assert refused.status_code == 403 and refused.json()["status_code"] == 403
        assert set(refused.json()) == {"detail", "status_code", "type"}
    assert http_fast.get("/v1/segment").json()["type"] == "method_not_allowed"


# ---- accounts --------------------------------------------------------------------------------------


def test_accounts(http_fast: httpx.Client) -> None:
    assert http_fast.get("/v1/account").json() == {"credits": {"available": 1_000_000, "subscription": 1_000_000}}
    assert http_fast.get("/v2/account").json() == {
        "images": {"available": 1_000_000, "subscription": 1_000_000}, "plan": "self-hosted"
    }
    for path in ("/v1/account", "/v2/account"):
        missing = httpx.get(f"{http_fast.base_url}{path}")
        assert missing.status_code == 400 and missing.json() == {"error": {"message": "apiKey: Required"}}
        for wrong_key in ("nope", ""):
            wrong = http_fast.get(path, headers={"x-api-key": wrong_key})
            assert wrong.status_code == 403 and "message" in wrong.json()["error"]


# ---- /v2/edit: what it does -----------------------------------------------------------------------


def test_edit_default_is_a_cut_out_fitted_to_the_photo(http_real: httpx.Client) -> None:
    response = edit(http_real, photo_bytes("coffee.png"))
    image = decoded(response)
    assert image.format == "PNG" and image.size == (600, 400) and image.mode == "RGBA"
    assert 0 <= float(response.headers["x-uncertainty-score"]) <= 1
    assert "pr-unsupported-attributes" not in response.headers
    box = alpha_box(image)
    assert box is not None and ((box[1] <= 1 and box[3] >= 399) or (box[0] <= 1 and box[2] >= 599))  # fitted


def test_edit_background_colour_with_and_without_alpha(http_real: httpx.Client) -> None:
    solid = decoded(edit(http_real, photo_bytes("coffee.png"), **{"background.color": "FF0000"}))
    assert solid.mode == "RGB" and solid.getpixel((1, 1)) == (255, 0, 0)
    named = decoded(edit(http_real, photo_bytes("coffee.png"), **{"background.color": "blue"}))
    assert named.getpixel((1, 1)) == (0, 0, 255)
    seethrough = decoded(edit(http_real, photo_bytes("coffee.png"), **{"background.color": "#00FF0080"}))
    assert seethrough.mode == "RGBA" and seethrough.getpixel((1, 1)) == (0, 255, 0, 128)


def test_edit_background_image_fill_fit_and_blur(http_real: httpx.Client) -> None:
    ground = Image.new("RGB", (300, 300), (0, 0, 200))
    ground.paste((250, 250, 0), (0, 0, 150, 300))
    files = {"imageFile": ("p.png", photo_bytes("coffee.png"), "image/png"),
             "background.imageFile": ("g.png", png(ground), "image/png")}  # fmt: skip
    filled = decoded(http_real.post("/v2/edit", files=files))
    assert filled.mode == "RGB" and filled.size == (600, 400)
    assert filled.getpixel((2, 200))[:3] == (250, 250, 0) and filled.getpixel((597, 200))[:3] == (0, 0, 200)
    fitted = decoded(http_real.post("/v2/edit", files=files, data={"background.scaling": "fit"}))
    assert fitted.mode == "RGBA" and fitted.getpixel((2, 200))[3] == 0  # the square ground leaves the sides clear
    blurred = decoded(http_real.post("/v2/edit", files=files, data={"background.blur.mode": "gaussian",
                                                                    "background.blur.radius": "0.05"}))  # fmt: skip
    seam = [blurred.getpixel((x, 5))[:3] for x in (296, 300, 304)]
    assert seam[0] != (250, 250, 0) and seam[2] != (0, 0, 200)  # the hard edge of the ground is softened


def test_edit_blur_alone_blurs_the_photo_behind_the_subject(http_real: httpx.Client) -> None:
    photo = photo_bytes("coffee.png")
    blurred = decoded(edit(http_real, photo, **{"background.blur.mode": "bokeh", "referenceBox": "originalImage"}))
    original = Image.open(io.BytesIO(photo)).convert("RGB")
    assert blurred.size == original.size and blurred.mode == "RGB"  # the photo fills in behind: opaque
    corner = np.asarray(blurred.convert("RGB").crop((0, 0, 60, 60)), np.float32)
    assert corner.std() < np.asarray(original.crop((0, 0, 60, 60)), np.float32).std() + 1e-3


def test_edit_outline_surrounds_the_subject(http_real: httpx.Client) -> None:
    card = cut_card((200, 200), (70, 70, 130, 130))
    image = decoded(edit(http_real, card, keepExistingAlphaChannel="auto", outputSize="originalImage",
                         referenceBox="originalImage", **{"outline.color": "00FF00", "outline.width": "0.05"}))  # fmt: skip
    assert image.getpixel((100, 100))[:3] == (200, 30, 30)  # the subject stays on top
    for point in ((100, 64), (100, 136), (64, 100), (136, 100)):  # within 10 px (0.05 of 200) of its sides
        assert image.getpixel(point)[:3] == (0, 255, 0) and image.getpixel(point)[3] > 200, point
    assert image.getpixel((100, 40))[3] == 0 and image.getpixel((5, 5))[3] == 0


@pytest.mark.parametrize("mode", ["ai.soft", "ai.hard", "ai.floating"])
def test_edit_shadow_lies_at_the_subjects_base(http_real: httpx.Client, mode: str) -> None:
    card = cut_card((300, 300), (100, 60, 200, 200))  # the subject: 100x140, its base at y=200
    image = decoded(edit(http_real, card, keepExistingAlphaChannel="auto", outputSize="originalImage",
                         referenceBox="originalImage", **{"shadow.mode": mode}))  # fmt: skip
    shadow = np.asarray(image.getchannel("A")).copy()
    assert (shadow[60:200, 100:200] == 255).all()  # the subject is untouched
    shadow[60:200, 100:200] = 0
    rows = np.nonzero(shadow.max(axis=1) > 10)[0]
    assert rows.size, "no shadow"
    assert shadow[:60].max() == 0  # never above the subject
    assert rows.min() >= 200 - 0.35 * 140 - 15  # only about the base: the lower part of the subject and below
    if mode != "ai.hard":  # the hard look falls back, beside the base; the others pool under it
        assert shadow[201:].max() > 10


@pytest.mark.parametrize(("fmt", "pillow", "mime"), [("png", "PNG", "image/png"), ("jpeg", "JPEG", "image/jpeg"),
                                                      ("jpg", "JPEG", "image/jpeg"), ("webp", "WEBP", "image/webp"),
                                                      ("avif", "AVIF", "image/avif")])  # fmt: skip
def test_edit_export_formats_with_dpi(http_real: httpx.Client, fmt: str, pillow: str, mime: str) -> None:
    response = edit(http_real, photo_bytes("coffee.png"), **{"export.format": fmt, "export.dpi": "300"})
    image = decoded(response)
    assert image.format == pillow and response.headers["content-type"] == mime and image.size == (600, 400)
    if pillow in ("PNG", "JPEG"):
        assert tuple(round(v) for v in image.info["dpi"]) == (300, 300)
    else:
        exif = image.getexif()
        assert float(exif[0x011A]) == 300 and float(exif[0x011B]) == 300 and exif[0x0128] == 2
    if pillow == "JPEG":  # Photoroom's rule: JPEG flattens onto the background colour, white by default
        assert image.mode == "RGB" and min(image.getpixel((1, 1))) >= 250
        reference = io.BytesIO()
        image.save(reference, "JPEG", quality=80)  # Photoroom's JPEG quality: the same quantisation tables
        assert Image.open(reference).quantization == image.quantization  # type: ignore[attr-defined]


def test_edit_jpeg_flattens_onto_the_requested_colour(http_real: httpx.Client) -> None:
    image = decoded(edit(http_real, photo_bytes("coffee.png"), **{"export.format": "jpeg",
                                                                  "background.color": "0000FF80"}))  # fmt: skip
    r, g, b = image.getpixel((1, 1))
    assert abs(r - 127) <= 3 and abs(g - 127) <= 3 and b >= 250  # half blue over white


def test_edit_keeps_the_photos_own_transparency(http_real: httpx.Client) -> None:
    card = cut_card((200, 100), (50, 20, 150, 80))
    kept = decoded(edit(http_real, card, keepExistingAlphaChannel="auto", referenceBox="originalImage"))
    assert close_to(alpha_box(kept), (50, 20, 150, 80))


def test_edit_remove_background_false_keeps_the_photo(http_real: httpx.Client) -> None:
    response = edit(http_real, photo_bytes("coffee.png"), removeBackground="false", outputSize="800x400",
                    **{"background.color": "FF00FF"})  # fmt: skip
    image = decoded(response)
    assert image.size == (800, 400) and image.mode == "RGB"
    assert image.getpixel((20, 200)) == (255, 0, 255) and image.getpixel((400, 200)) != (255, 0, 255)
    assert "x-uncertainty-score" not in response.headers  # the model did not run


# ---- positioning: a few exact boxes over HTTP (the engine's tests carry the full set) ----------


@pytest.mark.parametrize(("card_box", "fields", "size", "expected"), [
    # padding 0.1 of 400: a 320x320 target; 100x60 fits at 3.2x = 320x192, centred
    ((50, 20, 150, 80), {"outputSize": "400x400", "padding": "0.1"}, (400, 400), (40, 104, 360, 296)),
    # a subject on the bottom border is cropped there: it drops its bottom padding and sits on the edge
    ((50, 40, 150, 100), {"outputSize": "400x400", "padding": "0.1"}, (400, 400), (40, 208, 360, 400)),
    # a custom vertical alignment turns snapping off vertically: the padding is kept, centred again
    ((50, 40, 150, 100), {"outputSize": "400x400", "padding": "0.1", "verticalAlignment": "center"}, (400, 400),
     (40, 104, 360, 296)),
    # margin 10% then padding 10% of what the margins leave: 256x256, subject 256x154
    ((50, 20, 150, 80), {"outputSize": "400x400", "margin": "10%", "padding": "10%"}, (400, 400),
     (72, 123, 328, 277)),
    # croppedSubject with 10px paddings: the subject's box plus 20 px each way
    ((50, 20, 150, 80), {"outputSize": "croppedSubject", "padding": "10px"}, (120, 80), (10, 10, 110, 70)),
    # per-side override and left alignment
    ((50, 20, 150, 80), {"outputSize": "400x200", "paddingLeft": "20px", "horizontalAlignment": "left"},
     (400, 200), (20, 0, 353, 200)),
    # maxWidth bounds the original size, keeping its ratio
    ((50, 20, 150, 80), {"outputSize": "originalImage", "maxWidth": "100", "referenceBox": "originalImage"},
     (100, 50), (25, 10, 75, 40)),
])  # fmt: skip
def test_edit_positioning(http_real: httpx.Client, card_box: tuple[int, int, int, int], fields: dict[str, str],
                          size: tuple[int, int], expected: tuple[int, int, int, int]) -> None:  # fmt: skip
    card = cut_card((200, 100), card_box)
    image = decoded(edit(http_real, card, keepExistingAlphaChannel="auto", **fields))
    assert image.size == size
    assert close_to(alpha_box(image), expected), alpha_box(image)


def test_edit_fill_covers_the_target(http_real: httpx.Client) -> None:
    card = cut_card((200, 100), (50, 20, 150, 80))
    image = decoded(edit(http_real, card, keepExistingAlphaChannel="auto", outputSize="300x300", scaling="fill"))
    assert close_to(alpha_box(image), (0, 0, 300, 300))


# ---- /v2/edit GET -----------------------------------------------------------------------------------


def test_edit_get_fetches_the_photo_and_background(make_server: Callable[..., RunningServer],
                                                   real_model: U2NetSegmenter) -> None:  # fmt: skip
    server = make_server(real_model, egress_allow=("127.0.0.0/8",))
    photo, ground = Origin(photo_bytes("coffee.png")), Origin(png(Image.new("RGB", (50, 50), (10, 200, 10))))
    try:
        with httpx.Client(base_url=server.url, timeout=60, headers=KEY) as client:
            query = {"imageUrl": f"{photo.url}/coffee.png", "background.imageUrl": f"{ground.url}/g.png",
                     "outputSize": "300x300", "padding": "0.1", "export.format": "webp"}  # fmt: skip
            image = decoded(client.get("/v2/edit", params=query))
            assert image.format == "WEBP" and image.size == (300, 300)
            assert image.convert("RGB").getpixel((2, 2)) == pytest.approx((10, 200, 10), abs=6)
            assert photo.hits == ["/coffee.png"] and ground.hits == ["/g.png"]
            plain = decoded(client.get("/v2/edit", params={"imageUrl": f"{photo.url}/coffee.png",
                                                           "background.color": "red"}))  # fmt: skip
            assert plain.getpixel((1, 1)) == (255, 0, 0)
            gone = client.get("/v2/edit", params={"imageUrl": "http://127.0.0.1:1/nothing.png"})
            assert gone.status_code == 400 and gone.json()["error"]["message"].startswith("imageUrl")
    finally:
        photo.close()
        ground.close()


def test_edit_get_refuses_private_addresses_by_default(http_fast: httpx.Client) -> None:
    refused = http_fast.get("/v2/edit", params={"imageUrl": "http://127.0.0.1/x.png"})
    assert refused.status_code == 400 and refused.json()["error"]["message"].startswith("imageUrl is not allowed")


# ---- /v2/edit: what is refused, before any decode -------------------------------------------------


def test_every_spec_parameter_is_implemented_or_refused_once() -> None:
    assert set(IMPLEMENTED) | set(REFUSED) == spec_parameters()
    assert not set(IMPLEMENTED) & set(REFUSED)


def _sample_name(name: str) -> str:
    return name.replace("{key}", "reference1")


@pytest.mark.parametrize("name", sorted(set(REFUSED) & spec_parameters()))
def test_refused_parameters_name_themselves(http_fast: httpx.Client, name: str) -> None:
    sent = _sample_name(name)
    if sent.endswith("imageFile"):
        response = http_fast.post("/v2/edit", files={"imageFile": ("p.png", photo_bytes("coffee.png"), "image/png"),
                                                     sent: ("x.png", photo_bytes("coffee.png"), "image/png")})  # fmt: skip
    elif sent.endswith("imageUrl"):
        response = http_fast.get("/v2/edit", params={"imageUrl": "https://example.com/p.png", sent: "https://example.com/x.png"})
    else:
        response = edit(http_fast, photo_bytes("coffee.png"), **{sent: "ai.auto"})
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and message.startswith(f"{sent} is not supported by this server"), message
    assert set(response.json()) == {"error"}


@pytest.mark.parametrize("sent", ["layers.logo.text.content", "virtualModel.model.preset.name",
                                  "virtualModel.additionalProductImages[0]"])  # fmt: skip
def test_refused_object_parameters_by_their_parts(http_fast: httpx.Client, sent: str) -> None:
    response = edit(http_fast, photo_bytes("coffee.png"), **{sent: "x"})
    assert response.status_code == 400 and response.json()["error"]["message"].startswith(f"{sent} is not supported")


@pytest.mark.parametrize("mode", REFUSED_SHADOW_MODES)
def test_generated_shadow_modes_are_refused(http_fast: httpx.Client, mode: str) -> None:
    response = edit(http_fast, photo_bytes("coffee.png"), **{"shadow.mode": mode})
    message = response.json()["error"]["message"]
    assert response.status_code == 400 and message.startswith(f"shadow.mode {mode} is not supported"), message


@pytest.mark.parametrize(("fields", "named"), [
    ({"unknownThing": "1"}, "unknownThing is not a parameter"),
    ({"removeBackground": "maybe"}, "removeBackground must be boolean"),
    ({"removeBackground": "false", "referenceBox": "originalImage"}, "referenceBox can't be provided if removeBackground"),
    ({"removeBackground": "false", "ignorePaddingAndSnapOnCroppedSides": "true"},
     "ignorePaddingAndSnapOnCroppedSides can't be provided"),
    ({"background.scaling": "fit"}, "background.scaling can only be provided if background.imageUrl"),
    ({"maxWidth": "100"}, "maxWidth can only be provided if outputSize is originalImage or croppedSubject"),
    ({"outputSize": "auto", "maxHeight": "100"}, "maxHeight can only be provided"),
    ({"colorSpace": "original", "export.format": "jpeg"}, "export.format conflicts with colorSpace=original"),
    ({"colorSpace": "original", "padding": "0.1"}, "padding conflicts with colorSpace=original"),
    ({"colorSpace": "original", "keepExistingAlphaChannel": "auto"}, "keepExistingAlphaChannel conflicts"),
    ({"colorSpace": "original", "background.color": "red"}, "background.color conflicts"),
    ({"padding": "0.5"}, "padding must be a number between 0 and 0.49"),
    ({"marginTop": "50%"}, "marginTop must be at most 49%"),
    ({"margin": "wide"}, "margin must be a number between 0 and 0.49"),
    ({"outputSize": "100by100"}, "outputSize must be"),
    ({"outputSize": "99999x10"}, "outputSize sides must be"),
    ({"export.format": "gif"}, "export.format must be one of"),
    ({"export.dpi": "50"}, "export.dpi must be a number at least 72"),
    ({"background.color": "notacolour"}, "background.color must be a hex colour"),
    ({"background.blur.mode": "motion"}, "background.blur.mode must be one of"),
    ({"background.blur.mode": "gaussian", "background.blur.radius": "0"}, "background.blur.radius must be a number greater"),
    ({"background.blur.radius": "0.02"}, "background.blur.radius can only be provided if background.blur.mode"),
    ({"outline.width": "0.02"}, "outline.width can only be provided if outline.color"),
    ({"outline.color": "red", "outline.width": "0.2"}, "outline.width must be a number"),
    ({"shadow.mode": "ai.dramatic"}, "shadow.mode must be one of"),
    ({"horizontalAlignment": "middle"}, "horizontalAlignment must be one of"),
    ({"imageUrl": "https://example.com/x.png"}, "imageUrl is only accepted by GET /v2/edit"),
])  # fmt: skip
def test_edit_rules_name_the_parameter(http_fast: httpx.Client, fields: dict[str, str], named: str) -> None:
    response = edit(http_fast, photo_bytes("coffee.png"), **fields)
    assert response.status_code == 400 and response.json()["error"]["message"].startswith(named), response.text


def test_edit_post_needs_an_image_and_the_body(http_fast: httpx.Client) -> None:
    missing = http_fast.post("/v2/edit", data={"removeBackground": "true"})
    assert missing.status_code == 400 and missing.json()["error"]["message"].startswith("imageFile")
    queried = http_fast.post("/v2/edit?padding=0.1", files={"imageFile": ("p.png", photo_bytes("coffee.png"))})
    assert queried.status_code == 400 and queried.json()["error"]["message"].startswith("padding is in the query")
    twice = http_fast.get("/v2/edit", params=[("imageUrl", "https://example.com/a.png"), ("padding", "0.1"),
                                              ("padding", "0.2")])  # fmt: skip
    assert twice.status_code == 400 and twice.json()["error"]["message"].startswith("padding is given more than once")
    fileless = http_fast.get("/v2/edit", params={"imageUrl": "https://example.com/a.png", "imageFile": "x"})
    assert fileless.json()["error"]["message"].startswith("imageFile is only accepted by POST")
    for headers in ({"x-api-key": ""}, {"x-api-key": "wrong"}):
        refused = http_fast.post("/v2/edit", files={"imageFile": ("p.png", photo_bytes("coffee.png"))}, headers=headers)
        assert refused.status_code == 403 and set(refused.json()["error"]) == {"message"}
    broken = http_fast.post("/v2/edit", files={"imageFile": ("p.png", b"GIF89a broken")})
    assert broken.status_code == 400 and "image" in broken.json()["error"]["message"]


# ---- the lane is full: 429 in each endpoint's shape --------------------------------------------


def test_full_lane_answers_429_in_each_shape(make_server: Callable[..., RunningServer]) -> None:
    held = HeldSegmenter()
    server = make_server(held, decode_wait_seconds=0.5)
    first: dict[str, httpx.Response] = {}

    def hold_a_slot() -> None:
        with httpx.Client(base_url=server.url, timeout=60, headers=KEY) as client:
            first["response"] = segment(client, photo_bytes("coffee.png"))

    thread = threading.Thread(target=hold_a_slot)
    thread.start()
    try:
        assert held.started.wait(20)
        with httpx.Client(base_url=server.url, timeout=30, headers=KEY) as client:
            busy = segment(client, photo_bytes("coffee.png"))
            assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
            assert busy.json()["type"] == "too_many_requests" and busy.json()["status_code"] == 429
            busy = edit(client, photo_bytes("coffee.png"))
            assert busy.status_code == 429 and busy.headers["retry-after"] == "1" and busy.json()["error"]["message"]
    finally:
        held.release.set()
        thread.join(30)
    assert first["response"].status_code == 200


def test_openapi_describes_the_photoroom_paths(http_fast: httpx.Client) -> None:
    paths = http_fast.get("/openapi.json").json()["paths"]
    assert {"/v1/segment", "/v2/edit", "/v1/account", "/v2/account"} <= set(paths)
    assert set(paths["/v2/edit"]) == {"get", "post"}
    described = {p["name"] for p in paths["/v2/edit"]["get"]["parameters"]}
    assert described == set(IMPLEMENTED) - {"imageFile", "background.imageFile"}


def test_bodies_over_the_limit_answer_413_in_each_shape(make_server: Callable[..., RunningServer]) -> None:
    server = make_server(max_upload_bytes=10_000)
    big = b"\x89PNG" + b"\0" * 2_000_000
    with httpx.Client(base_url=server.url, timeout=30, headers=KEY) as client:
        refused = segment(client, big)
        assert refused.status_code == 413 and refused.json()["type"] == "payload_too_large"
        assert refused.json()["status_code"] == 413
        refused = edit(client, big)
        assert refused.status_code == 413 and set(refused.json()) == {"error"}

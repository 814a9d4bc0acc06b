"""Claid's API over real HTTP: sync edits (JSON and upload), operations on decoded pixels, output options,
temporary results, async tasks and batches as durable jobs, webhooks, and Claid's errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image, ImageStat

from service.app import open_library

from .conftest import CornerSegmenter, RunningServer, make_settings, run_server, wait_for
from .receiver import Origin, Receiver

KEY = {"Authorization": "Bearer claid_test_key"}
SIZE = (200, 100)
BOX = (120, 30, 160, 70)  # the red subject on a white photo; CornerSegmenter finds exactly it
RED = (200, 30, 30)


def card(size: tuple[int, int] = SIZE, box: tuple[int, int, int, int] = BOX) -> bytes:
    image = Image.new("RGB", size, (255, 255, 255))
    image.paste(Image.new("RGB", (box[2] - box[0], box[3] - box[1]), RED), box[:2])
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def textured() -> bytes:
    """A mid-grey, mildly coloured photo with detail, for the adjustments."""
    rng = np.random.default_rng(7)
    base = np.zeros((80, 120, 3), dtype=np.float32)
    base[..., 0], base[..., 1], base[..., 2] = 140, 110, 90
    base += rng.normal(0, 12, base.shape)
    base[:, ::8] += 40  # stripes: edges for sharpness
    out = io.BytesIO()
    Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def origin() -> Iterator[Origin]:
    served = Origin(card())
    yield served
    served.close()


@pytest.fixture
def claid(make_server: Callable[..., RunningServer]) -> RunningServer:
    return make_server(egress_allow=("127.0.0.0/8",))


@pytest.fixture
def api(claid: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=claid.url, timeout=30, headers=KEY) as client:
        yield client


def edit(api: httpx.Client, body: dict[str, Any], prefix: str = "/v1") -> httpx.Response:
    return api.post(f"{prefix}/image/edit", json=body)


def result_image(api: httpx.Client, response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    url = response.json()["data"]["output"]["tmp_url"]
    fetched = httpx.get(url, timeout=10)  # no credentials: the URL is the credential
    assert fetched.status_code == 200, fetched.text
    image = Image.open(io.BytesIO(fetched.content))
    image.load()
    return image


def mean(image: Image.Image) -> float:
    return sum(ImageStat.Stat(image.convert("RGB")).mean) / 3


def claid_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "error_type", "error_message", "error_details"}
    return body


# ---- auth and errors ----------------------------------------------------------------------------


def test_auth_is_a_bearer_key_answered_with_claids_401(claid: RunningServer, origin: Origin) -> None:
    body = {"input": f"{origin.url}/a.png"}
    missing = httpx.post(f"{claid.url}/v1/image/edit", json=body)
    assert claid_error(missing, 401) == {
        "error_code": "111",
        "error_type": "auth",
        "error_message": "Authorization is required.",
        "error_details": {},
    }
    wrong = httpx.post(f"{claid.url}/v1-beta1/image/edit", json=body, headers={"Authorization": "Bearer nope"})
    assert claid_error(wrong, 401)["error_type"] == "auth"
    assert not origin.hits  # nothing fetched for a caller without the key


def test_unknown_fields_and_model_operations_are_422s_naming_them(api: httpx.Client, origin: Origin) -> None:
    url = f"{origin.url}/a.png"
    unknown = claid_error(edit(api, {"input": url, "operations": {"background": {"remove": True, "shine": 1}}}), 422)
    assert unknown["error_code"] == "9000" and "operations.background.shine" in unknown["error_details"]
    top = claid_error(edit(api, {"input": url, "colour": "red"}), 422)
    assert "body.colour" in top["error_details"]
    for operations, field in [
        ({"restorations": {"upscale": "smart_enhance"}}, "operations.restorations.upscale"),
        ({"restorations": {"polish": True}}, "operations.restorations.polish"),
        ({"restorations": {"decompress": "auto"}}, "operations.restorations.decompress"),
        ({"adjustments": {"hdr": 50}}, "operations.adjustments.hdr"),
        ({"resizing": {"width": 300, "height": 300, "fit": "outpaint"}}, "operations.resizing.fit"),
        ({"resizing": {"fit": {"type": "outpaint", "feathering": "15%"}}}, "operations.resizing.fit"),
        ({"privacy": {"blur_car_plate": True}}, "operations.privacy.blur_car_plate"),
        ({"generative": {"style_transfer": {"prompt": "x"}}}, "operations.generative.style_transfer.prompt"),
        (
            {"background": {"remove": {"selective": {"object_to_keep": "cup"}}}},
            "operations.background.remove.selective.object_to_keep",
        ),
    ]:
        refused = claid_error(edit(api, {"input": url, "operations": operations}), 422)
        assert field in refused["error_details"], (operations, refused)
        assert field in refused["error_message"]
    # A model operation switched off is no request for it.
    assert edit(api, {"input": url, "operations": {"restorations": {"upscale": None, "polish": False}},
                      "output": {"format": "png"}}).status_code == 200  # fmt: skip
    assert len(origin.hits) == 1  # only the accepted request fetched anything


def test_bad_values_are_422s_before_anything_is_fetched(api: httpx.Client, origin: Origin) -> None:
    url = f"{origin.url}/a.png"
    for body, field in [
        ({}, "input"),
        ({"input": "ftp://x/a.png"}, "input"),
        ({"input": url, "operations": {"resizing": {"width": "wide"}}}, "operations.resizing.width"),
        ({"input": url, "operations": {"resizing": {"fit": "squash"}}}, "operations.resizing.fit"),
        ({"input": url, "operations": {"padding": "lots"}}, "operations.padding"),
        ({"input": url, "operations": {"adjustments": {"exposure": 101}}}, "operations.adjustments.exposure"),
        ({"input": url, "operations": {"background": {"color": "#12"}}}, "operations.background.color"),
        ({"input": url, "output": {"format": "gif"}}, "output.format"),
        ({"input": url, "output": {"format": {"type": "jpeg", "quality": 0}}}, "output.format.quality"),
        ({"input": url, "output": {"format": {"type": "png", "compression": "max"}}}, "output.format.compression"),
        ({"input": url, "output": {"metadata": {"dpi": -3}}}, "output.metadata.dpi"),
        ({"input": url, "output": {"metadata": {"color_space": "LAB"}}}, "output.metadata.color_space"),
        ({"input": url, "output": "https://example.com/out.png"}, "output"),
        ({"input": url, "output": {"format": "png", "metadata": {"color_space": "CMYK"}}},
         "output.metadata.color_space"),
        ({"input": url, "output": {"metadata": {"color_space": {"type": "CMYK", "color_profile": "ISO_Coated"}}}},
         "output.metadata.color_space.color_profile"),  # not installed here: refused, never substituted
    ]:
        refused = claid_error(edit(api, body), 422)
        assert field in refused["error_details"], (body, refused)
    assert not origin.hits


def test_a_full_queue_is_claids_429(make_server: Callable[..., RunningServer], origin: Origin) -> None:
    server = make_server(egress_allow=("127.0.0.0/8",), max_queue=2)
    body = {"input": [f"{origin.url}/{n}.png" for n in range(3)]}
    refused = claid_error(httpx.post(f"{server.url}/v1/image/edit/batch", json=body, headers=KEY), 429)
    assert refused["error_type"] == "rate_limit"
    assert not [job for job in server.jobs() if job["kind"] == "task"]  # nothing half-queued


def test_an_input_that_is_no_image_is_a_400(api: httpx.Client) -> None:
    junk = Origin(b"this is not an image")
    try:
        refused = claid_error(edit(api, {"input": f"{junk.url}/a.png"}), 400)
        assert "input" in refused["error_details"]
    finally:
        junk.close()


# ---- synchronous edits --------------------------------------------------------------------------


def test_sync_edit_removes_the_background_and_answers_claids_shape(api: httpx.Client, origin: Origin,
                                                                   claid: RunningServer) -> None:  # fmt: skip
    response = edit(
        api,
        {
            "input": f"{origin.url}/shoes/red-box.png",
            "operations": {"background": {"remove": True}},
            "output": {"format": "png"},
        },
    )
    data = response.json()["data"]
    assert data["input"] == {"ext": "png", "mps": 0.02, "mime": "image/png", "format": "png", "width": 200,
                             "height": 100}  # fmt: skip
    out = data["output"]
    assert (out["format"], out["mime"], out["width"], out["height"]) == ("png", "image/png", 200, 100)
    assert out["tmp_url"].startswith(f"{claid.url}/v1/image/results/") and out["tmp_url"].endswith("/red-box.png")
    assert out["object_uri"] is None and out["object_key"] is None
    image = result_image(api, response)
    assert image.mode == "RGBA"
    assert image.getpixel((10, 10))[3] == 0 and image.getpixel((140, 50)) == (*RED, 255)


def test_both_prefixes_serve_the_same_api(api: httpx.Client, origin: Origin) -> None:
    for prefix in ("/v1", "/v1-beta1"):
        assert edit(api, {"input": f"{origin.url}/a.png"}, prefix).status_code == 200


def test_clipping_crops_to_the_subject_and_jpeg_flattens_onto_the_colour(api: httpx.Client, origin: Origin) -> None:
    body = {
        "input": f"{origin.url}/a.png",
        "operations": {"background": {"remove": {"category": "products", "clipping": True}, "color": "#0000ff"}},
        "output": {"format": "jpeg"},
    }
    image = result_image(api, edit(api, body))
    assert image.format == "JPEG" and image.size == (40, 40)
    assert np.abs(np.asarray(image, dtype=int)[20, 20] - RED).max() < 12
    transparent = {"input": f"{origin.url}/a.png", "operations": {"background": {"remove": True,
                   "color": "transparent"}}, "output": {"format": "jpeg"}}  # fmt: skip
    flat = result_image(api, edit(api, transparent))
    assert flat.mode == "RGB" and min(flat.getpixel((5, 5))) > 245  # white: the default flattening colour


def test_background_colour_fills_transparent_areas_and_padding(api: httpx.Client, origin: Origin) -> None:
    body = {"input": f"{origin.url}/a.png", "operations": {"background": {"remove": True, "color": "#00ff00"},
            "padding": "10%"}, "output": {"format": "png"}}  # fmt: skip
    image = result_image(api, edit(api, body)).convert("RGB")
    assert image.size == SIZE  # padding keeps the size and shrinks the content inside it
    assert image.getpixel((2, 2)) == (0, 255, 0)
    red = np.all(np.abs(np.asarray(image, dtype=int) - RED) < 20, axis=2)
    ys, xs = np.nonzero(red)
    # The photo, 80% of its size, centred: the subject's box scaled about the centre.
    assert abs(xs.min() - (20 + 120 * 0.8)) <= 2 and abs(ys.min() - (10 + 30 * 0.8)) <= 2


def test_two_value_padding_is_vertical_then_horizontal(api: httpx.Client, origin: Origin) -> None:
    body = {"input": f"{origin.url}/a.png", "operations": {"padding": "0% 25%",
            "background": {"color": "#000000"}}, "output": {"format": "png"}}  # fmt: skip
    image = result_image(api, edit(api, body)).convert("RGB")
    assert image.size == SIZE
    assert image.getpixel((40, 50)) == (0, 0, 0) and image.getpixel((60, 50)) != (0, 0, 0)


@pytest.mark.parametrize(
    ("resizing", "size"),
    [
        ({"width": 100}, (100, 50)),
        ({"height": "50%"}, (100, 50)),
        ({"width": 100, "height": 100, "fit": "bounds"}, (100, 50)),
        ({"width": 100, "height": 100, "fit": "cover"}, (200, 100)),
        ({"width": 100, "height": 100, "fit": "canvas"}, (100, 100)),
        ({"width": 100, "height": 100, "fit": "crop"}, (100, 100)),
        ({"width": "200%", "height": "auto"}, (400, 200)),
    ],
)
def test_resizing_fits(api: httpx.Client, origin: Origin, resizing: dict[str, Any], size: tuple[int, int]) -> None:
    body = {"input": f"{origin.url}/a.png", "operations": {"resizing": resizing}, "output": {"format": "png"}}
    assert result_image(api, edit(api, body)).size == size


def test_canvas_leaves_room_transparent_and_crop_centre_versus_smart(api: httpx.Client, origin: Origin) -> None:
    url = f"{origin.url}/a.png"
    canvas = result_image(api, edit(api, {"input": url, "operations": {"resizing": {"width": 100, "height": 100,
                          "fit": "canvas"}}, "output": {"format": "png"}})).convert("RGBA")  # fmt: skip
    assert canvas.getpixel((50, 5))[3] == 0 and canvas.getpixel((50, 50))[3] == 255  # 100x50 photo, centred
    centre = result_image(api, edit(api, {"input": url, "operations": {"resizing": {"width": 50, "height": 50,
                          "fit": "crop"}}, "output": {"format": "png"}})).convert("RGB")  # fmt: skip
    # The middle of a 100x50 photo: x 25..75 of the half-size photo shows none of the subject (x 60..80).
    assert not np.any(np.all(np.abs(np.asarray(centre, dtype=int) - RED) < 30, axis=2)[:, :30])
    smart = result_image(api, edit(api, {"input": url, "operations": {"resizing": {"width": 50, "height": 50,
                         "fit": {"type": "crop", "crop": "smart"}}}, "output": {"format": "png"}})).convert("RGB")  # fmt: skip
    assert np.abs(np.asarray(smart, dtype=int)[25, 25] - RED).max() < 20  # the subject is in the middle
    claidai_style = result_image(api, edit(api, {"input": url, "operations": {"resizing": {"width": 50,
                                 "height": 50, "fit": {"crop": "smart"}}}, "output": {"format": "png"}}))  # fmt: skip
    assert np.array_equal(np.asarray(claidai_style), np.asarray(smart.convert(claidai_style.mode)))


def test_adjustments_change_pixels_as_documented(claid: RunningServer, api: httpx.Client) -> None:
    photo = Origin(textured())
    try:
        url = f"{photo.url}/t.png"

        def adjusted(**values: float) -> Image.Image:
            body = {"input": url, "operations": {"adjustments": values}, "output": {"format": "png"}}
            return result_image(api, edit(api, body)).convert("RGB")

        plain = adjusted()
        assert mean(adjusted(exposure=50)) > mean(plain) + 20 > mean(adjusted(exposure=-50)) + 40
        spread = lambda image: float(np.asarray(image, dtype=float).std(axis=2).mean())  # noqa: E731
        assert spread(adjusted(saturation=100)) > 1.5 * spread(plain) > 3 * spread(adjusted(saturation=-100))
        assert spread(adjusted(saturation=-100)) < 1
        contrast = lambda image: float(np.asarray(image.convert("L"), dtype=float).std())  # noqa: E731
        assert contrast(adjusted(contrast=100)) > 1.8 * contrast(plain)
        assert contrast(adjusted(contrast=-50)) < 0.6 * contrast(plain)
        edges = lambda image: float(np.abs(np.diff(np.asarray(image.convert("L"), dtype=float), axis=1)).mean())  # noqa: E731
        assert edges(adjusted(sharpness=100)) > 1.3 * edges(plain) > 1.3 * edges(adjusted(sharpness=-100))
    finally:
        photo.close()


def test_background_blur_keeps_the_subject_and_blurs_the_rest(api: httpx.Client) -> None:
    rng = np.random.default_rng(3)
    # Two greys too close for the stand-in model to take either for the subject.
    noise = (225 + rng.integers(0, 2, (100, 200, 1)) * 20).astype(np.uint8)
    photo = np.repeat(noise, 3, axis=2)
    photo[0, 0] = 245
    photo[30:70, 120:160] = RED
    out = io.BytesIO()
    Image.fromarray(photo, "RGB").save(out, "PNG")
    served = Origin(out.getvalue())
    try:
        body = {"input": f"{served.url}/n.png", "operations": {"background": {"blur": {"type": "regular",
                "level": "high"}}}, "output": {"format": "png"}}  # fmt: skip
        image = np.asarray(result_image(api, edit(api, body)).convert("RGB"), dtype=float)
        assert image[:, :100].std() < 0.5 * photo[:, :100].astype(float).std()  # the noise is smoothed
        assert np.abs(image[50, 140] - RED).max() < 15  # the subject is not
    finally:
        served.close()


def test_upload_takes_a_file_and_data(api: httpx.Client) -> None:
    data = {"operations": {"background": {"remove": True}}, "output": {"format": {"type": "png", "quality": 85}}}
    response = api.post(
        "/v1/image/edit/upload",
        files={"file": ("my-shoe.jpg", card(), "image/png"), "data": (None, json.dumps(data), "application/json")},
    )
    assert response.json()["data"]["output"]["tmp_url"].endswith("/my-shoe.png")
    assert result_image(api, response).getpixel((5, 5))[3] == 0
    missing = claid_error(api.post("/v1/image/edit/upload", files={"data": (None, "{}")}), 422)
    assert "file" in missing["error_details"]
    bad = claid_error(
        api.post("/v1/image/edit/upload", files={"file": ("a.png", card()), "data": (None, '{"input": "x"}')}), 422
    )
    assert "data.input" in bad["error_details"]


@pytest.mark.parametrize(
    ("fmt", "pil", "mime"),
    [("jpeg", "JPEG", "image/jpeg"), ("png", "PNG", "image/png"), ("webp", "WEBP", "image/webp"),
     ("avif", "AVIF", "image/avif")],
)  # fmt: skip
def test_output_formats(api: httpx.Client, origin: Origin, fmt: str, pil: str, mime: str) -> None:
    response = edit(api, {"input": f"{origin.url}/a.png", "output": {"format": fmt}})
    assert response.json()["data"]["output"]["mime"] == mime
    assert result_image(api, response).format == pil


def test_jpeg_quality_and_dpi(api: httpx.Client) -> None:
    photo = Origin(textured())
    try:

        def size(quality: int) -> int:
            response = edit(
                api, {"input": f"{photo.url}/t.png", "output": {"format": {"type": "jpeg", "quality": quality}}}
            )
            return len(httpx.get(response.json()["data"]["output"]["tmp_url"]).content)

        assert size(30) < size(95)
        with_dpi = edit(api, {"input": f"{photo.url}/t.png", "output": {"format": "jpeg", "metadata": {"dpi": 300}}})
        assert result_image(api, with_dpi).info["dpi"] == (300, 300)
    finally:
        photo.close()


# ---- temporary results --------------------------------------------------------------------------


def test_temporary_results_expire_and_are_swept(claid: RunningServer, api: httpx.Client, origin: Origin) -> None:
    url = edit(api, {"input": f"{origin.url}/a.png"}).json()["data"]["output"]["tmp_url"]
    assert httpx.get(url).status_code == 200
    token = url.split("/")[-2]
    assert len(token) >= 40  # 32 random bytes
    assert httpx.get(url.replace(token, token[:-2] + "xx")).status_code == 404
    with sqlite3.connect(claid.data_dir / "cutout.db") as conn:
        blob = conn.execute("SELECT blob FROM temporary_results WHERE token = ?", [token]).fetchone()[0]
        conn.execute("UPDATE temporary_results SET expires_at = 0 WHERE token = ?", [token])
    gone = httpx.get(url)
    assert gone.status_code == 404 and gone.json()["error_type"] == "not_found"
    library = open_library(claid.settings, claid.data_dir)
    try:
        assert asyncio.run(library.expire_temporary()) == 1
    finally:
        library.db.close()
    with sqlite3.connect(claid.data_dir / "cutout.db") as conn:
        assert conn.execute("SELECT count(*) FROM temporary_results").fetchone()[0] == 0
    assert not list((claid.data_dir / "blobs").rglob(blob))


def test_temporary_results_survive_a_restart(tmp_path: Path) -> None:
    served = Origin(card())
    try:
        settings = make_settings(tmp_path / "kept", egress_allow=("127.0.0.0/8",))
        first = run_server(settings, CornerSegmenter())
        with httpx.Client(base_url=next(first).url, headers=KEY) as client:
            url = edit(client, {"input": f"{served.url}/a.png"}).json()["data"]["output"]["tmp_url"]
        next(first, None)  # stopped
        with pytest.raises(httpx.TransportError):
            httpx.get(url)
        again = run_server(settings, CornerSegmenter())
        next(again)
        assert httpx.get(url).status_code == 200
        next(again, None)
    finally:
        served.close()


# ---- async tasks and batches --------------------------------------------------------------------


def verify(received: Any, secret: str) -> None:
    """The Standard Webhooks signature every delivery carries."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.".encode() + received.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert f"v1,{expected}" in received.headers["webhook-signature"].split()


def wait_task(api: httpx.Client, path: str, timeout: float = 30) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        data = api.get(path).json()["data"]
        return data if data["status"] in ("DONE", "ERROR") else None

    return wait_for(ended, timeout=timeout)  # type: ignore[return-value]


def test_async_task_lifecycle_with_a_signed_webhook(claid: RunningServer, api: httpx.Client, origin: Origin,
                                                     receiver: Receiver) -> None:  # fmt: skip
    body = {"input": f"{origin.url}/a.png", "operations": {"background": {"remove": True}},
            "output": {"format": "png"}, "webhook_url": f"{receiver.url}/claid"}  # fmt: skip
    submitted = api.post("/v1/image/edit/async", json=body)
    assert submitted.status_code == 200, submitted.text
    data = submitted.json()["data"]
    assert isinstance(data["id"], int) and data["status"] == "ACCEPTED" and data["request"] == body
    assert data["result_url"] == f"{claid.url}/v1/image/edit/async/{data['id']}"
    done = wait_task(api, f"/v1/image/edit/async/{data['id']}")
    assert done["status"] == "DONE" and done["errors"] == []
    output = done["result"]["output_object"]
    image = Image.open(io.BytesIO(httpx.get(output["tmp_url"]).content))
    assert image.getpixel((5, 5))[3] == 0 and image.getpixel((140, 50))[3] == 255
    wait_for(lambda: receiver.on("/claid"))
    hook = receiver.on("/claid")[0]
    verify(hook, claid.settings.webhook_secret)
    assert json.loads(hook.body)["data"]["status"] == "DONE"
    assert api.get("/v1/image/edit/batch/" + str(data["id"])).status_code == 404  # an async task is no batch
    assert claid_error(api.get("/v1/image/edit/async/999999"), 404)["error_message"] == "Image edit task not found"


def test_batch_of_urls_one_failing_alone(claid: RunningServer, api: httpx.Client, origin: Origin,
                                         receiver: Receiver) -> None:  # fmt: skip
    junk = Origin(b"not an image at all")
    try:
        inputs = [f"{origin.url}/one.png", f"{junk.url}/bad.png", f"{origin.url}/three.png"]
        body = {"input": inputs, "operations": {"background": {"remove": True}}, "output": {"format": "png"},
                "webhook_url": f"{receiver.url}/batch"}  # fmt: skip
        submitted = api.post("/v1-beta1/image/edit/batch", json=body)
        assert submitted.status_code == 200, submitted.text
        task_id = submitted.json()["data"]["id"]
        done = wait_task(api, f"/v1-beta1/image/edit/batch/{task_id}")
        assert done["status"] == "DONE" and done["total"] == 3
        assert [r["input_object"]["uri"] for r in done["results"]] == [inputs[0], inputs[2]]
        assert [r["output_object"]["tmp_url"].rsplit("/", 1)[1] for r in done["results"]] == ["one.png", "three.png"]
        assert len(done["errors"]) == 1 and done["errors"][0]["input"] == inputs[1]
        assert done["errors"][0]["reason"] == "image_rejected"
        wait_for(lambda: receiver.on("/batch"))
        assert len(receiver.on("/batch")) == 1
    finally:
        junk.close()
    assert (
        claid_error(api.get("/v1/image/edit/batch/424242"), 404)["error_message"]
        == "Batch image edit pipeline not found"
    )


def test_batch_input_and_output_checks(api: httpx.Client, origin: Origin) -> None:
    for body, field in [
        ({"input": []}, "input"),
        ({"input": [f"{origin.url}/a.png", 7]}, "input.1"),
        ({"input": "https://example.com/folder/"}, "input"),
        ({"input": {"source": "storage://s/in/", "deep": True}}, "input.deep"),
        ({"input": [f"{origin.url}/a.png"], "output": "storage://out/a.png"}, "output"),
    ]:
        refused = claid_error(api.post("/v1/image/edit/batch", json=body), 422)
        assert field in refused["error_details"], (body, refused)


def test_task_items_are_jobs_of_the_queue(claid: RunningServer, api: httpx.Client, origin: Origin) -> None:
    body = {"input": [f"{origin.url}/{n}.png" for n in range(3)], "output": {"format": "webp"}}
    task_id = api.post("/v1/image/edit/batch", json=body).json()["data"]["id"]
    wait_task(api, f"/v1/image/edit/batch/{task_id}")
    jobs = [job for job in claid.jobs() if job["kind"] == "task"]
    assert [job["id"] for job in jobs] == [f"task-{task_id}-{n:06d}" for n in range(3)]
    assert all(job["status"] == "succeeded" and job["attempts"] == 1 for job in jobs)

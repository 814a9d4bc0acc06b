"""Settings are read from the environment in one place, with embedded defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.keys import resolve_keys
from service.settings import DEFAULT_RETRY_SCHEDULE, Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.data_dir == Path("data")
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.webhook_retry_schedule == DEFAULT_RETRY_SCHEDULE
    assert settings.max_upload_bytes == 26_214_400 and settings.max_megapixels == 50
    assert settings.workers >= 1


def test_icc_dir() -> None:
    assert Settings.from_env({}).icc_dir is None
    assert Settings.from_env({"CUTOUT_ICC_DIR": " /srv/icc "}).icc_dir == Path("/srv/icc")


def test_values_and_port_fallback() -> None:
    settings = Settings.from_env(
        {
            "PORT": "9000",
            "CUTOUT_PUBLIC_URL": "https://media.example.com/",
            "CUTOUT_EGRESS_ALLOW": "127.0.0.0/8, hooks.internal",
            "CUTOUT_WEBHOOK_RETRY_SCHEDULE": "1,2.5",
            "CUTOUT_WORKERS": "3",
        }
    )
    assert settings.port == 9000
    assert settings.base_url == "https://media.example.com"
    assert settings.egress_allow == ("127.0.0.0/8", "hooks.internal")
    assert settings.webhook_retry_schedule == (1.0, 2.5)
    assert settings.workers == 3
    assert Settings.from_env({"PORT": "9000", "CUTOUT_PORT": "9100"}).port == 9100


@pytest.mark.parametrize(
    "env,named",
    [
        ({"CUTOUT_PORT": "x"}, "CUTOUT_PORT"),
        ({"CUTOUT_WORKERS": "0"}, "CUTOUT_WORKERS"),
        ({"CUTOUT_MAX_MEGAPIXELS": "lots"}, "CUTOUT_MAX_MEGAPIXELS"),
        ({"CUTOUT_WEBHOOK_RETRY_SCHEDULE": "5,soon"}, "CUTOUT_WEBHOOK_RETRY_SCHEDULE"),
        ({"CUTOUT_WEBHOOK_RETRY_SCHEDULE": "5,-1"}, "CUTOUT_WEBHOOK_RETRY_SCHEDULE"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_keys_are_generated_once_and_env_wins(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first, generated = resolve_keys(settings)
    assert first.imagekit_private_key.startswith("private_")
    assert first.webhook_secret.startswith("whsec_")
    assert len(first.uploadcare_public_key) == 20
    assert set(generated) == {
        "imagekit_private_key", "imagekit_public_key", "uploadcare_public_key", "uploadcare_secret_key", "webhook_secret",
        "photoroom_api_key", "removebg_api_key", "claid_api_key", "encryption_key",
    }  # fmt: skip
    again, generated_again = resolve_keys(settings)
    assert again == first and generated_again == {}
    assert (tmp_path / "keys.json").stat().st_mode & 0o077 == 0
    pinned, _ = resolve_keys(Settings(data_dir=tmp_path, imagekit_private_key="private_from_env"))
    assert pinned.imagekit_private_key == "private_from_env"
    assert pinned.imagekit_public_key == first.imagekit_public_key


def test_a_keys_file_from_before_a_dialect_existed_gains_only_the_new_keys(tmp_path: Path) -> None:
    old = {"imagekit_private_key": "private_old", "imagekit_public_key": "public_old",
           "uploadcare_public_key": "a" * 20, "uploadcare_secret_key": "b" * 20, "webhook_secret": "whsec_old"}  # fmt: skip
    (tmp_path / "keys.json").write_text(json.dumps(old))
    settings, generated = resolve_keys(Settings(data_dir=tmp_path))
    assert set(generated) == {"photoroom_api_key", "removebg_api_key", "claid_api_key", "encryption_key"}
    assert settings.imagekit_private_key == "private_old" and settings.photoroom_api_key
    assert json.loads((tmp_path / "keys.json").read_text())["removebg_api_key"] == settings.removebg_api_key

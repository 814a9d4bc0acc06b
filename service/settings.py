"""Settings: the only place that reads the environment."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
SIGNED_UPLOADS = ("optional", "required")


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


def fernet_key(raw: str) -> str:
    """`raw` when empty or a Fernet key (url-safe base64 of 32 bytes), which is checked here so that a
    mistyped key stops the start instead of failing the first storage that needs its credentials."""
    if raw:
        try:
            valid = len(base64.urlsafe_b64decode(raw.encode("ascii"))) == 32
        except (ValueError, UnicodeEncodeError):
            valid = False
        if not valid:
            raise SettingsError(
                "CUTOUT_ENCRYPTION_KEY must be 32 bytes in url-safe base64 (44 characters), as "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` prints"
            )
    return raw


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    public_url: str = ""
    imagekit_private_key: str = ""
    imagekit_public_key: str = ""
    uploadcare_public_key: str = ""
    uploadcare_secret_key: str = ""
    photoroom_api_key: str = ""
    removebg_api_key: str = ""
    claid_api_key: str = ""
    # Fernet key (url-safe base64 of 32 bytes) that encrypts storage connector credentials at rest.
    encryption_key: str = ""
    # "required": Upload API requests without a valid signature and expire are refused, as Uploadcare
    # does for a project with signed uploads on.
    uploadcare_signed_uploads: str = "optional"
    # What the public key alone may hold at once through the Upload API: files uploaded with store=0
    # (kept a day) and multipart sessions not yet completed (kept a day), each up to max_upload_bytes.
    uploadcare_max_unstored_files: int = 1000
    uploadcare_max_multipart_sessions: int = 50
    webhook_secret: str = ""
    webhook_retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    egress_allow: tuple[str, ...] = ()
    # One job at a time, its model run on every core: each concurrent run holds
    # ~250 MB of onnxruntime tensors, and a saturated pool of one keeps the
    # API's latency lower (bench/service.py).
    workers: int = 1
    max_upload_bytes: int = 26_214_400
    max_megapixels: float = 50.0
    max_side: int = 12_000
    # Decoded pixels held at once, in 4-byte megapixels: 1 GB, what a 2 GB machine has left beside the
    # service at rest (~400 MB) and one job's model tensors (~250 MB), with headroom (README, Memory).
    decode_budget_megapixels: float = 256.0
    decode_wait_seconds: float = 10.0
    model_path: str = ""
    # Where the named CMYK profiles' files are (ISO_Coated.icc, ...: engine/icc.py); None: none installed.
    icc_dir: Path | None = None
    log_level: str = "info"
    max_queue: int = 1000
    queue_retry_after: int = 30
    job_lease_seconds: float = 30.0
    job_max_attempts: int = 3
    job_retry_base_seconds: float = 2.0
    model_threads: int = 0  # 0: cores divided among the workers
    # Unreferenced blobs and temp files younger than this are left alone: an upload in flight writes its
    # blob before its row. An hour is far beyond the longest upload the body limits allow.
    orphan_grace_seconds: float = 3600.0
    # A rotated webhook secret keeps signing beside the new one this long (Standard Webhooks' overlap).
    webhook_secret_overlap_seconds: float = 86_400.0
    max_webhook_endpoints: int = 100
    # A request body must arrive within body_timeout_seconds plus one second per body_min_rate bytes.
    body_timeout_seconds: float = 60.0
    body_min_rate: int = 16_384
    header_timeout_seconds: float = 20.0  # a request head must be complete this long after the connection idles

    @property
    def base_url(self) -> str:
        """Base of every URL the API returns, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def has_keys(self) -> bool:
        return all(
            (
                self.imagekit_private_key,
                self.imagekit_public_key,
                self.uploadcare_public_key,
                self.uploadcare_secret_key,
                self.photoroom_api_key,
                self.removebg_api_key,
                self.claid_api_key,
                self.encryption_key,
                self.webhook_secret,
            )
        )

    @property
    def threads_per_job(self) -> int:
        """onnxruntime threads per job, so that the workers together fill the cores without oversubscribing."""
        return self.model_threads or max(1, (os.cpu_count() or 1) // self.workers)

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from CUTOUT_* variables (and $PORT), with embedded defaults."""
        env = os.environ if environ is None else environ
        defaults = cls()

        def text(name: str, default: str) -> str:
            return env.get(name, "").strip() or default

        def number(name: str, default: float, kind: type = int, minimum: float = 1) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise SettingsError(f"{name} must be a {kind.__name__}, got {raw!r}") from None
            if value < minimum:
                raise SettingsError(f"{name} must be at least {minimum}, got {raw!r}")
            return value

        def items(name: str) -> tuple[str, ...]:
            return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())

        schedule_raw = items("CUTOUT_WEBHOOK_RETRY_SCHEDULE")
        try:
            schedule = tuple(float(s) for s in schedule_raw) or DEFAULT_RETRY_SCHEDULE
        except ValueError:
            raise SettingsError(
                "CUTOUT_WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, "
                f"got {env.get('CUTOUT_WEBHOOK_RETRY_SCHEDULE')!r}"
            ) from None
        if any(s < 0 for s in schedule):
            raise SettingsError("CUTOUT_WEBHOOK_RETRY_SCHEDULE must not hold negative seconds")

        signed_uploads = text("CUTOUT_UPLOADCARE_SIGNED_UPLOADS", defaults.uploadcare_signed_uploads).lower()
        if signed_uploads not in SIGNED_UPLOADS:
            raise SettingsError(
                f"CUTOUT_UPLOADCARE_SIGNED_UPLOADS must be optional or required, got {signed_uploads!r}"
            )

        port_default = int(number("PORT", defaults.port, minimum=0))
        return cls(
            host=text("CUTOUT_HOST", defaults.host),
            port=int(number("CUTOUT_PORT", port_default, minimum=0)),
            data_dir=Path(text("CUTOUT_DATA_DIR", str(defaults.data_dir))),
            public_url=text("CUTOUT_PUBLIC_URL", ""),
            imagekit_private_key=text("CUTOUT_IMAGEKIT_PRIVATE_KEY", ""),
            imagekit_public_key=text("CUTOUT_IMAGEKIT_PUBLIC_KEY", ""),
            uploadcare_public_key=text("CUTOUT_UPLOADCARE_PUBLIC_KEY", ""),
            uploadcare_secret_key=text("CUTOUT_UPLOADCARE_SECRET_KEY", ""),
            photoroom_api_key=text("CUTOUT_PHOTOROOM_API_KEY", ""),
            removebg_api_key=text("CUTOUT_REMOVEBG_API_KEY", ""),
            claid_api_key=text("CUTOUT_CLAID_API_KEY", ""),
            encryption_key=fernet_key(text("CUTOUT_ENCRYPTION_KEY", "")),
            uploadcare_signed_uploads=signed_uploads,
            uploadcare_max_unstored_files=int(
                number("CUTOUT_UPLOADCARE_MAX_UNSTORED_FILES", defaults.uploadcare_max_unstored_files)
            ),
            uploadcare_max_multipart_sessions=int(
                number("CUTOUT_UPLOADCARE_MAX_MULTIPART_SESSIONS", defaults.uploadcare_max_multipart_sessions)
            ),
            webhook_secret=text("CUTOUT_WEBHOOK_SECRET", ""),
            webhook_retry_schedule=schedule,
            egress_allow=items("CUTOUT_EGRESS_ALLOW"),
            workers=int(number("CUTOUT_WORKERS", defaults.workers)),
            max_upload_bytes=int(number("CUTOUT_MAX_UPLOAD_BYTES", defaults.max_upload_bytes)),
            max_megapixels=float(number("CUTOUT_MAX_MEGAPIXELS", defaults.max_megapixels, float, 0.01)),
            max_side=int(number("CUTOUT_MAX_SIDE", defaults.max_side)),
            decode_budget_megapixels=float(
                number("CUTOUT_DECODE_BUDGET_MEGAPIXELS", defaults.decode_budget_megapixels, float, 1)
            ),
            decode_wait_seconds=float(number("CUTOUT_DECODE_WAIT_SECONDS", defaults.decode_wait_seconds, float, 0)),
            model_path=text("CUTOUT_MODEL_PATH", ""),
            icc_dir=Path(icc_dir) if (icc_dir := text("CUTOUT_ICC_DIR", "")) else None,
            log_level=text("CUTOUT_LOG_LEVEL", defaults.log_level).lower(),
            max_queue=int(number("CUTOUT_MAX_QUEUE", defaults.max_queue)),
            job_lease_seconds=float(number("CUTOUT_JOB_LEASE_SECONDS", defaults.job_lease_seconds, float, 1)),
            model_threads=int(number("CUTOUT_MODEL_THREADS", defaults.model_threads, minimum=0)),
            orphan_grace_seconds=float(
                number("CUTOUT_ORPHAN_GRACE_SECONDS", defaults.orphan_grace_seconds, float, minimum=0)
            ),
            webhook_secret_overlap_seconds=float(
                number("CUTOUT_WEBHOOK_SECRET_OVERLAP_SECONDS", defaults.webhook_secret_overlap_seconds, float, 0)
            ),
            max_webhook_endpoints=int(number("CUTOUT_MAX_WEBHOOK_ENDPOINTS", defaults.max_webhook_endpoints)),
            body_timeout_seconds=float(
                number("CUTOUT_BODY_TIMEOUT_SECONDS", defaults.body_timeout_seconds, float, 0.1)
            ),
            body_min_rate=int(number("CUTOUT_BODY_MIN_RATE", defaults.body_min_rate)),
            header_timeout_seconds=float(
                number("CUTOUT_HEADER_TIMEOUT_SECONDS", defaults.header_timeout_seconds, float, 0.1)
            ),
        )

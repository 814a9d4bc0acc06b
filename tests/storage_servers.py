"""Real object stores on 127.0.0.1 for the storage connector tests (and any other test that needs a bucket):
moto's S3 server with IAM authentication on, and gcp-storage-emulator. Each runs as its own process.

Use the session fixtures `s3_server` / `gcs_server` (registered in conftest), then `bucket()` for a fresh
bucket per test. Servers reach them with `egress_allow=("127.0.0.0/8",)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx
from botocore.config import Config

from .conftest import free_port, wait_for

# Lets the IAM user do everything in S3; moto evaluates it once authentication is on.
ALLOW_S3 = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'


def _listening(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.TransportError:
        return False


def _start(args: list[str], url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STORAGE_EMULATOR"))}
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(url) or process.poll() is not None, timeout=60, interval=0.1)
    except BaseException:
        process.kill()
        raise
    assert process.poll() is None, f"{args[0]} exited with {process.returncode}"
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class S3Server:
    """moto in server mode with signature checks on: only the IAM key made at start-up is accepted."""

    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(self, *, secret_key: str | None = None) -> Any:
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )  # fmt: skip

    def bucket(self) -> str:
        name = f"b-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name)
        return name

    def remove_bucket(self, name: str) -> None:
        client = self.client()
        for item in client.list_objects_v2(Bucket=name).get("Contents", ()):
            client.delete_object(Bucket=name, Key=item["Key"])
        client.delete_bucket(Bucket=name)

    def parameters(self, bucket: str, **extra: object) -> dict[str, object]:
        """The `parameters` of an s3 storage on `bucket` of this server."""
        return {
            "bucket": bucket, "endpoint_url": self.endpoint, "region": "us-east-1",
            "credentials": {"access_key": self.access_key, "secret_access_key": self.secret_key}, **extra,
        }  # fmt: skip


def start_s3() -> S3Server:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = _start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], f"{endpoint}/moto-api/")
    try:
        iam = boto3.session.Session().client(
            "iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )  # fmt: skip
        iam.create_user(UserName="cutout")
        iam.put_user_policy(UserName="cutout", PolicyName="s3", PolicyDocument=ALLOW_S3)
        key = iam.create_access_key(UserName="cutout")["AccessKey"]
        # From now on every request must be signed with an IAM key moto knows, and the signature must verify.
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    except BaseException:
        _stop(process)
        raise
    return S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"], process)


@dataclass
class GCSServer:
    """gcp-storage-emulator, in memory; it checks no credentials."""

    endpoint: str
    process: subprocess.Popen[bytes] = field(repr=False)

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.endpoint}
        )

    def bucket(self) -> str:
        name = f"g-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(name)
        return name

    def remove_bucket(self, name: str) -> None:
        self.client().bucket(name).delete(force=True)

    def parameters(self, bucket: str, **extra: object) -> dict[str, object]:
        return {"bucket": bucket, "endpoint_url": self.endpoint, **extra}


def start_gcs() -> GCSServer:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = _start(
        [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
        f"{endpoint}/storage/v1/b",
    )  # fmt: skip
    return GCSServer(endpoint, process)


def serve(start: Callable[[], S3Server | GCSServer]) -> Iterator[Any]:
    """A fixture's body: the server `start` makes, stopped when the fixture ends."""
    server = start()
    try:
        yield server
    finally:
        _stop(server.process)

"""boto3 clients for every part of the lakehouse.

Endpoints follow the standard ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) variables, which
boto3 honours natively: the same code talks to AWS, the embedded moto server or LocalStack.
Clients are cached per (service, region, endpoint, process) because creating one costs milliseconds.
"""

from __future__ import annotations

import os
import threading

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"max_attempts": 5, "mode": "adaptive"},
    max_pool_connections=32,
    connect_timeout=5,
    read_timeout=30,
)
_lock = threading.Lock()
_cache: dict[tuple, object] = {}


def default_region() -> str:
    """``AWS_REGION``, else ``AWS_DEFAULT_REGION``, else ``us-east-1``."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def aws_client(service: str, region: str | None = None, config: Config | None = None):
    """A cached boto3 client for ``service``; honours ``AWS_ENDPOINT_URL`` at creation time."""
    region = region or default_region()
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    key = (service, region, endpoint, os.getpid(), id(config))
    client = _cache.get(key)
    if client is None:
        with _lock:
            client = _cache.get(key)
            if client is None:
                session = boto3.session.Session()
                client = session.client(service, region_name=region, config=config or _CONFIG)
                _cache[key] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (after the endpoint or credentials change)."""
    with _lock:
        _cache.clear()

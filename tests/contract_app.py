"""The example FastAPI app with the options a test asks for (`WSKIT_TEST_OPTIONS`, JSON), for uvicorn/hypercorn."""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from examples.fastapi_app import create_app as create_example_app
from wskit import ManagerRegistry
from wskit.asgi import WskitEndpoint
from wskit.backplane import backplane_from_url

REGISTRY_OPTIONS = {"max_buffered_bytes", "send_timeout", "max_token_lifetime"}
BACKPLANE_OPTIONS = {"history_max_messages"}
APP_OPTIONS = {"admins", "token_ttl"}


def create_app() -> FastAPI:
    options = json.loads(os.environ.get("WSKIT_TEST_OPTIONS", "{}"))
    backplane = backplane_from_url(
        options.pop("backplane", None), **{k: v for k, v in options.items() if k in BACKPLANE_OPTIONS}
    )
    registry = ManagerRegistry(backplane=backplane, **{k: v for k, v in options.items() if k in REGISTRY_OPTIONS})
    endpoint_options = {k: v for k, v in options.items() if k not in REGISTRY_OPTIONS | BACKPLANE_OPTIONS | APP_OPTIONS}
    endpoint = WskitEndpoint(secret=os.environ["WSKIT_SECRET"], registry=registry, **endpoint_options)
    return create_example_app(endpoint, **{k: v for k, v in options.items() if k in APP_OPTIONS})

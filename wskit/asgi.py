"""The public import path of the ASGI adapter (Starlette, FastAPI): `from wskit.asgi import WskitEndpoint`
(and `redact_tokens`, the logging filter that keeps `?token=` out of access logs).

The adapter itself lives in `wskit.serve.asgi`, beside the other adapters.
"""

from wskit.serve.asgi import SERVER_LOGGERS, WskitEndpoint, redact_server_logs, redact_tokens

__all__ = ["SERVER_LOGGERS", "WskitEndpoint", "redact_server_logs", "redact_tokens"]

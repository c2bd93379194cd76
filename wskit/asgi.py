"""The public import path of the ASGI adapter (Starlette, FastAPI): `from wskit.asgi import WskitEndpoint`.

The adapter itself lives in `wskit.serve.asgi`, beside the other adapters.
"""

from wskit.serve.asgi import WskitEndpoint

__all__ = ["WskitEndpoint"]

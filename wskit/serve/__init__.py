"""The adapters over the session: the websockets server, ASGI (Starlette/FastAPI), shutdown, a client."""

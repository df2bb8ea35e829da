"""A small web service, to try tack on: `GET /` greets, `GET /health` reports the state."""

from web_app.api import app

__all__ = ["app"]

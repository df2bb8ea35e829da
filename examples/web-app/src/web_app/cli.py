"""`web-app`: serves the application with uvicorn (the console script of pyproject.toml)."""

import argparse
import os

import uvicorn

from web_app.api import app


def main() -> None:
    parser = argparse.ArgumentParser(prog="web-app", description="Serve web-app over HTTP.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    arguments = parser.parse_args()
    uvicorn.run(app, host=arguments.host, port=arguments.port)

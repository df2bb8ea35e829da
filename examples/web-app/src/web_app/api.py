"""The FastAPI application: two routes, no state."""

from fastapi import FastAPI

app = FastAPI(title="web-app")


@app.get("/")
def hello() -> dict[str, str]:
    return {"message": "hello from a venv made by tack"}


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}

"""`python -m web_app`: the console script without its launcher (for distroless images)."""

from web_app.cli import main

main()

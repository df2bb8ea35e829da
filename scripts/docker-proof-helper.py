#!/usr/bin/env python3
"""The parts of scripts/docker-proof that are easier in Python than in bash.

    add-wheel-stage DOCKERFILE   make a Dockerfile buildable by the engine's built-in BuildKit
    split-base DOCKERFILE IMAGE  the builder stage FROM IMAGE (the runtime keeps PYTHON_IMAGE)
    stage-venv DOCKERFILE        the venv copied with its parent's time (reproducible layer)
    pydis-contexts APP OUT WHEEL INDEX CACHE POETRY UV
                                 the build contexts of pydis-site for Poetry, tack and uv
    venv-layer PATTERN [LISTING] (docker save on stdin) the diff id of the venv's COPY layer
    table TIMES                  step 2's markdown table: the median of each recipe's rounds
    tree DIR                     a sorted listing: path, mode, mtime, sha256 or link target
"""

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

WHEEL_STAGE = "FROM scratch AS tack-wheels\nCOPY .tack-wheels/ /\n\n"


def add_wheel_stage(dockerfile: Path) -> None:
    """Drop `# syntax=` (the frontend cannot be pulled without a registry) and, when a RUN
    mounts `from=tack-wheels`, add that stage, taking the wheel from the context: what
    `--build-context tack-wheels=target/wheels` does with buildx."""
    lines = [line for line in dockerfile.read_text().splitlines(keepends=True)
             if not line.startswith("# syntax=")]
    text = "".join(lines)
    if "from=tack-wheels" in text and WHEEL_STAGE not in text:
        first = next(i for i, line in enumerate(lines) if line.startswith("FROM "))
        lines.insert(first, WHEEL_STAGE)
        text = "".join(lines)
    dockerfile.write_text(text)


def stage_venv(dockerfile: Path) -> None:
    """The venv copied into the runtime stage with every directory's time its own: the builder
    stages `/out/app/.venv` (cp -a keeps the times tack gave) with `/out/app` at the epoch, and
    the runtime copies `/out/` onto `/`. `COPY --from=builder /app/.venv /app/.venv` makes the
    missing `/app` itself, at the time of the build, so that layer differs from build to build
    unless the image output rewrites times (BuildKit 0.13's rewrite-timestamp)."""
    text = dockerfile.read_text()
    sync = "tack sync --frozen --no-dev --no-editable --compile-bytecode\n"
    assert sync in text and "COPY --from=builder /app/.venv /app/.venv" in text
    text = text.replace(sync, sync.rstrip("\n") + " \\\n"
                        '    && mkdir -p /out/app && cp -a /app/.venv /out/app/ \\\n'
                        '    && touch -d "@${SOURCE_DATE_EPOCH:-0}" /out/app\n')
    text = text.replace("COPY --from=builder /app/.venv /app/.venv", "COPY --from=builder /out/ /")
    dockerfile.write_text(text)


def split_base(dockerfile: Path, image: str) -> None:
    text = dockerfile.read_text()
    text = text.replace("FROM ${PYTHON_IMAGE} AS builder", f"FROM {image} AS builder")
    dockerfile.write_text(text)


# The stand-in source of pydis-site (../shared holds only its pyproject.toml and poetry.lock):
# a package of the same name, imported by the check, and edited by the code-change build.
STAND_IN = {
    "pydis_site/__init__.py": '"""A stand-in for the pydis_site package."""\n',
    "manage.py": "import sys\n\nprint(sys.argv)\n",
    ".dockerignore": ".venv/\n**/__pycache__/\n",
}

HEADER = """\
# pydis-site's Dockerfile as scripts/docker-proof builds it: {what}.
# The original is FROM ghcr.io/owl-corp/python-poetry-base:3.11-slim; here the base is a Debian
# bookworm root with python3 (3.11), python3-venv and python3-pip. Left out, as they need the
# application's source, which ../shared does not hold: the collectstatic and static-build RUNs.
ARG BASE=proof/builder:bookworm
"""

POETRY = HEADER.format(what="Poetry, the original recipe") + """
FROM ${{BASE}}
# What the python-poetry-base image adds: Poetry in a venv of its own, on PATH. Its venvs are
# made in the project (Debian's python3 is externally managed: no install into it).
ENV POETRY_HOME=/opt/poetry \\
    POETRY_NO_INTERACTION=1 \\
    POETRY_VIRTUALENVS_IN_PROJECT=true \\
    PATH="/opt/poetry/bin:$PATH"
RUN python3 -m venv /opt/poetry && /opt/poetry/bin/pip install --no-cache-dir "poetry=={poetry}"

# Allow service to handle stops gracefully
STOPSIGNAL SIGQUIT

# Copy the project files into working directory
WORKDIR /app

# Install project dependencies
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main

# Set Git SHA environment variable
ARG git_sha="development"
ENV GIT_SHA=$git_sha

# Copy the source code in last to optimize rebuilding the image
COPY . .

ENTRYPOINT ["poetry", "run"]
CMD ["gunicorn", "--preload", "-b", "0.0.0.0:8000", "pydis_site.wsgi:application", "-w", "2"]
"""

TACK = HEADER.format(what="the `poetry install` line replaced by `tack sync`") + "\n" + WHEEL_STAGE + """FROM ${{BASE}}
# tack instead of Poetry (from its wheel; `pip install tack==0.1.0` once it is on the index).
RUN --mount=type=bind,from=tack-wheels,target=/wheels \\
    pip install --no-cache-dir --no-index --find-links /wheels tack
ENV POETRY_VIRTUALENVS_IN_PROJECT=true \\
    TACK_LINK_MODE=copy \\
    TACK_PYTHON=/usr/bin/python3 \\
    PATH="/app/.venv/bin:$PATH"

# Allow service to handle stops gracefully
STOPSIGNAL SIGQUIT

# Copy the project files into working directory
WORKDIR /app

# Install project dependencies: poetry.lock as it is
COPY pyproject.toml poetry.lock ./
RUN --mount=type=cache,target=/root/.cache/tack \\
    tack sync --frozen --only main --compile-bytecode

# Set Git SHA environment variable
ARG git_sha="development"
ENV GIT_SHA=$git_sha

# Copy the source code in last to optimize rebuilding the image
COPY . .

CMD ["gunicorn", "--preload", "-b", "0.0.0.0:8000", "pydis_site.wsgi:application", "-w", "2"]
"""

UV = HEADER.format(what="the same recipe with uv, from a requirements export of poetry.lock") + """
FROM ${{BASE}}
# uv instead of Poetry, as uv's Docker guide sets it up (bytecode compiled, cache on a mount).
RUN pip install --no-cache-dir "uv=={uv}"
ENV UV_COMPILE_BYTECODE=1 \\
    UV_LINK_MODE=copy \\
    VIRTUAL_ENV=/app/.venv \\
    PATH="/app/.venv/bin:$PATH"

# Allow service to handle stops gracefully
STOPSIGNAL SIGQUIT

# Copy the project files into working directory
WORKDIR /app

# Install project dependencies: requirements.txt is poetry.lock's main group, pinned, with hashes
COPY requirements.txt ./
RUN --mount=type=cache,target=/root/.cache/uv \\
    uv venv --python /usr/bin/python3 /app/.venv && uv pip sync --require-hashes requirements.txt

# Set Git SHA environment variable
ARG git_sha="development"
ENV GIT_SHA=$git_sha

# Copy the source code in last to optimize rebuilding the image
COPY . .

CMD ["gunicorn", "--preload", "-b", "0.0.0.0:8000", "pydis_site.wsgi:application", "-w", "2"]
"""


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result.stdout


def pydis_contexts(app, out, wheel, index, cache, poetry_version, uv_version):
    app, out, cache = Path(app), Path(out), Path(cache).resolve()
    shutil.rmtree(out, ignore_errors=True)
    for tool in ["poetry", "tack", "uv"]:
        ctx = out / tool
        ctx.mkdir(parents=True)
        for name in ["pyproject.toml", "poetry.lock"]:
            shutil.copy(app / name, ctx / name)
        for relative, text in STAND_IN.items():
            (ctx / relative).parent.mkdir(parents=True, exist_ok=True)
            (ctx / relative).write_text(text)
    (out / "tack" / ".tack-wheels").mkdir()
    shutil.copy(wheel, out / "tack" / ".tack-wheels")
    (out / "poetry" / "Dockerfile").write_text(POETRY.format(poetry=poetry_version))
    (out / "tack" / "Dockerfile").write_text(TACK.format())
    (out / "uv" / "Dockerfile").write_text(UV.format(uv=uv_version))

    # Poetry: the index here does not serve the per-version JSON API that Poetry's installer
    # reads for PyPI, so the project gets the index as its primary source, which changes the
    # lock's content-hash: `poetry lock` (keeping every locked version) writes the lock it installs.
    source = f'\n[[tool.poetry.source]]\nname = "default-index"\nurl = "{index}"\npriority = "primary"\n'
    pyproject = (app / "pyproject.toml").read_text() + source
    (out / "poetry" / "pyproject.toml").write_text(pyproject)
    key = hashlib.sha256((pyproject + (app / "poetry.lock").read_text() + poetry_version).encode()).hexdigest()[:16]
    relocked = cache / f"pydis-site-poetry-{key}.lock"
    venv = cache / f"poetry-{poetry_version}"
    poetry = venv / "bin" / "poetry"
    if not poetry.exists():
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(venv / "bin" / "pip"), "install", "-q", f"poetry=={poetry_version}", "poetry-plugin-export"])
    if not relocked.exists():
        scratch = out / "poetry-lock"
        shutil.copytree(out / "poetry", scratch)
        run([str(poetry), "lock", "--no-interaction"], cwd=scratch)
        shutil.copy(scratch / "poetry.lock", relocked)
        shutil.rmtree(scratch)
    shutil.copy(relocked, out / "poetry" / "poetry.lock")

    # uv: a requirements export of poetry.lock's main group, with hashes, as a Poetry user
    # moving to uv makes it (`poetry export`, from poetry-plugin-export).
    export = out / "poetry" / "requirements.txt"
    run([str(poetry), "export", "--format", "requirements.txt", "--only", "main", "--output", str(export)],
        cwd=out / "poetry")
    shutil.move(export, out / "uv" / "requirements.txt")


def venv_layer(pattern, listing=None):
    """The diff id of the layer whose history line holds `COPY` and `pattern` (the venv's COPY):
    the image's history, without its empty layers, pairs one to one with its rootfs diff ids.
    With `listing`, also writes the layer's entries there (name, mode, mtime, size)."""
    with tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read())) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        config = json.load(tar.extractfile(manifest["Config"]))
        layers = iter(zip(config["rootfs"]["diff_ids"], manifest["Layers"]))
        for entry in config["history"]:
            if entry.get("empty_layer"):
                continue
            diff_id, blob = next(layers)
            created = entry.get("created_by", "")
            if "COPY" in created and pattern in created:
                if listing:
                    with tarfile.open(fileobj=tar.extractfile(blob)) as layer, open(listing, "w") as out:
                        for member in layer.getmembers():
                            out.write(f"{member.name} {member.mode:o} {member.mtime} {member.size}\n")
                print(diff_id)
                return
    sys.exit(f"no COPY layer of {pattern} in the image's history")


def table(times):
    """The markdown table of step 2: per recipe, the median of its rounds (and their range)."""
    rows = {}
    for line in Path(times).read_text().splitlines():
        tool, *figures = line.split()
        rows.setdefault(tool, []).append([float(figure) for figure in figures])

    def median(values):
        values = sorted(values)
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2

    def cell(values):
        text = f"{median(values):.1f} s"
        return text if len(values) == 1 else f"{text} ({min(values):.1f}-{max(values):.1f})"

    names = {"poetry": "Poetry", "tack": "tack", "uv": "uv"}
    print("| recipe | cold | warm cache | code change | image size |")
    print("|---|---|---|---|---|")
    for tool, rounds in rows.items():
        columns = list(zip(*rounds))
        size = int(median(columns[3])) // 1_000_000
        print(f"| {names.get(tool, tool)} | {cell(columns[0])} | {cell(columns[1])} | {cell(columns[2])} | {size} MB |")


def tree(root):
    root = Path(root)
    entries = [root, *root.rglob("*")]
    for path in sorted(entries, key=lambda p: str(p.relative_to(root))):
        stat = path.lstat()
        if path.is_symlink():
            content = "-> " + os.readlink(path)
        elif path.is_file():
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = "dir"
        print(f"{path.relative_to(root)} {stat.st_mode:o} {int(stat.st_mtime)} {content}")


def main():
    command, *args = sys.argv[1:]
    if command == "add-wheel-stage":
        add_wheel_stage(Path(args[0]))
    elif command == "stage-venv":
        stage_venv(Path(args[0]))
    elif command == "split-base":
        split_base(Path(args[0]), args[1])
    elif command == "pydis-contexts":
        pydis_contexts(*args)
    elif command == "venv-layer":
        venv_layer(*args)
    elif command == "table":
        table(args[0])
    elif command == "tree":
        tree(args[0])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

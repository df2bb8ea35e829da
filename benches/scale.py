#!/usr/bin/env python3
"""Many machines, one index: 8 concurrent syncs behind a pull-through mirror (opt-in).

    python3 benches/scale.py                        # tack and uv, 8 runners
    python3 benches/scale.py --tools tack --runners 4 --tack target/release/tack
    python3 benches/compare.py --scale ...          # the same, its table added to compare's report

What a team with many CI runners or image builds sees: `devpi-server` (installed at a pinned
version into the scratch folder, never into the repository) runs on 127.0.0.1 as a pull-through
mirror of the index pip uses on this machine (learned at run time). For each tool, with a fresh
mirror of its own:

1. each of 8 projects (the three of ../shared/bench-projects/ and five small generated ones) is
   locked through the mirror, one after another, untimed: the locks then name the mirror's file
   URLs, as a team's locks do when the mirror is its index;
2. **own caches**: the 8 `sync --frozen --no-dev` start at once, each into a fresh venv with an
   empty cache of its own (8 runners with nothing cached);
3. **shared cache**: the same again, the 8 sharing one empty cache directory (runners with a
   shared cache volume, or a BuildKit cache mount).

Each phase reports its wall time (first start to last exit), the slowest and the median runner,
the requests the runners made to the mirror and the requests the mirror made to the upstream
index (both counted in the mirror's log), and correctness: every venv passes `pip check` and
holds exactly the locked versions of what it installed. Only the Python standard library is used
(the mirror's own venv aside).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402  (the harness's tools, environments and commands)

DEVPI = ["devpi-server==6.20.3", "devpi-client==7.3.0"]

# Five small projects beside the three sample ones, so that 8 runners sync 8 different projects
# that share some packages (as a team's services do). Wheels only: builds are compare's row.
GENERATED = {
    "web-flask": ["flask", "gunicorn", "requests"],
    "cli-tools": ["click", "rich", "typer"],
    "django-api": ["django", "djangorestframework", "psycopg[binary]"],
    "aws-tasks": ["boto3", "celery"],
    "scraping": ["beautifulsoup4", "lxml", "httpx"],
}


def log(message: str) -> None:
    compare.log(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mirror:
    """A devpi-server on loopback with one mirror index of `upstream`, logging every request."""

    def __init__(self, tools_dir: Path, serverdir: Path, upstream: str, python: str):
        venv = tools_dir / "devpi"
        marker = venv / ".installed"
        spec = " ".join(DEVPI)
        if not marker.exists() or marker.read_text() != spec:
            log(f"installing {spec} into {venv}")
            shutil.rmtree(venv, ignore_errors=True)
            compare.run([python, "-m", "venv", str(venv)])
            compare.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                         "--index-url", upstream, *DEVPI])
            marker.write_text(spec)
        self.bin = venv / "bin"
        shutil.rmtree(serverdir, ignore_errors=True)
        serverdir.mkdir(parents=True)
        self.serverdir = serverdir
        self.log_path = serverdir.parent / f"{serverdir.name}.log"
        compare.run([str(self.bin / "devpi-init"), "--serverdir", str(serverdir / "data"),
                     "--no-root-pypi", "--root-passwd", "bench"])
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(self.bin / "devpi-server"), "--serverdir", str(serverdir / "data"),
             "--host", "127.0.0.1", "--port", str(self.port), "--debug",
             # The upstream's largest pages (boto3's) take longer than the default 5 s.
             "--request-timeout", "120"],
            stdout=self.log_path.open("w"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{self.root}/+api", timeout=5).read()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"devpi-server did not start; see {self.log_path}")
                time.sleep(0.5)
        env = dict(os.environ, DEVPI_CLIENTDIR=str(serverdir / "client"))
        devpi = str(self.bin / "devpi")
        compare.run([devpi, "use", self.root], env=env)
        compare.run([devpi, "login", "root", "--password", "bench"], env=env)
        compare.run([devpi, "index", "-c", "root/mirror", "type=mirror",
                     f"mirror_url={upstream}"], env=env)
        self.index = f"{self.root}/root/mirror/+simple/"
        # The first page fetches the upstream's list of projects (tens of seconds): not a cost
        # any runner pays in a mirror that is already up.
        urllib.request.urlopen(f"{self.index}pip/", timeout=600).read()

    def counts(self) -> tuple[int, int]:
        """Requests the mirror has served so far, and requests it has made upstream."""
        text = self.log_path.read_text(errors="replace")
        served = len(re.findall(r" INFO  \[req\d+\] (?:GET|HEAD) ", text))
        upstream = (len(re.findall(r"reading index URL\(", text))
                    + len(re.findall(r"reading remote: URL\(", text))
                    + len(re.findall(r"fetching remote projects", text)))
        return served, upstream

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def projects(scratch: Path) -> dict[str, str]:
    """`{name: pyproject.toml text}` of the 8 projects."""
    texts = {
        name: (compare.PROJECTS_DIR / name / "pyproject.toml").read_text()
        for name in ["fastapi-app", "data-science", "large"]
    }
    for name, dependencies in GENERATED.items():
        listed = "".join(f'    "{dependency}",\n' for dependency in dependencies)
        texts[name] = (
            f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
            f"dependencies = [\n{listed}]\n"
        )
    return texts


def locked_versions(tool: str, work: Path) -> dict[str, set[str]]:
    """`{normalized name: versions}` of every package the tool's lock names (a universal lock
    may hold several versions of one package, for different Python versions)."""
    if tool == "tack":
        packages = tomllib.loads((work / "pylock.toml").read_text()).get("packages", [])
    else:
        packages = tomllib.loads((work / "uv.lock").read_text()).get("package", [])
    versions: dict[str, set[str]] = {}
    for package in packages:
        if "version" in package:
            name = package["name"].lower().replace("_", "-").replace(".", "-")
            versions.setdefault(name, set()).add(str(package["version"]))
    return versions


def check_venv(tool: str, work: Path, pip: Path) -> list[str]:
    """What is wrong with a runner's venv: `pip check`, and versions other than locked."""
    problems = []
    venv = work / ".venv"
    check = subprocess.run([str(pip), "--python", str(venv / "bin" / "python"), "check"],
                           text=True, capture_output=True)
    if check.returncode != 0:
        problems.append(f"pip check: {check.stdout.strip() or check.stderr.strip()}")
    locked = locked_versions(tool, work)
    installed = compare.installed(venv)
    if not installed:
        problems.append("nothing installed")
    for name, version in sorted(installed.items()):
        if version not in locked.get(name, set()):
            problems.append(f"{name} {version} installed, not in the lock")
    return problems


def env(tools: compare.Tools, tool: str, cache: Path) -> dict:
    """The tool's environment, with room for a mirror that fetches a large page or file from
    the upstream before it answers (a loaded mirror may take longer than the tools' default
    30 s)."""
    return dict(tools.env(tool, cache), TACK_HTTP_TIMEOUT="300", UV_HTTP_TIMEOUT="300")


def phase(tool: str, tools: compare.Tools, works: dict[str, Path], caches: list[Path],
          mirror: Mirror, pip: Path) -> dict:
    """The 8 syncs at once, each into a fresh venv, with the given caches (one each or one)."""
    for cache in set(caches):
        shutil.rmtree(cache, ignore_errors=True)
    for work in works.values():
        shutil.rmtree(work / ".venv", ignore_errors=True)
    served_before, upstream_before = mirror.counts()
    started = time.perf_counter()
    running = []
    for (project, work), cache in zip(works.items(), caches):
        process = subprocess.Popen(tools.sync(tool), cwd=work, env=env(tools, tool, cache),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        running.append((project, process))
    seconds, failures = {}, {}

    def finish(project: str, process: subprocess.Popen) -> None:
        # One thread per runner, so that each runner's time is its own end, not the end of the
        # slowest runner started before it.
        output = process.stdout.read()
        process.wait()
        seconds[project] = time.perf_counter() - started
        if process.returncode != 0:
            failures[project] = output.decode(errors="replace")[-2000:]

    waiters = [threading.Thread(target=finish, args=runner) for runner in running]
    for waiter in waiters:
        waiter.start()
    for waiter in waiters:
        waiter.join()
    wall = time.perf_counter() - started
    time.sleep(1)  # the mirror's log lines of the last responses
    served_after, upstream_after = mirror.counts()
    problems = {}
    for project, work in works.items():
        found = [f"sync failed: {failures[project]}"] if project in failures else check_venv(
            tool, work, pip)
        if found:
            problems[project] = found
    return {
        "wall": wall,
        "slowest": max(seconds.values()),
        "median": statistics.median(seconds.values()),
        "served": served_after - served_before,
        "upstream": upstream_after - upstream_before,
        "problems": problems,
        "packages": sum(len(compare.installed(work / ".venv")) for work in works.values()),
    }


def run_scale(tools: compare.Tools, upstream: str, runners: int) -> dict:
    """Both phases for each of `tools.wanted`; the raw figures, by tool."""
    scratch = tools.scratch / "scale"
    texts = dict(list(projects(scratch).items())[:runners])
    pip = tools.scratch / "tools" / "devpi" / "bin" / "pip"
    results = {}
    for tool in tools.wanted:
        if tool not in ("tack", "uv"):
            continue
        log(f"[scale] {tool}: starting a fresh mirror")
        mirror = Mirror(tools.scratch / "tools", scratch / f"mirror-{tool}", upstream, tools.python)
        try:
            tools.index = mirror.index
            works = {}
            for project, text in texts.items():
                work = scratch / tool / project
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
                (work / "pyproject.toml").write_text(text)
                log(f"[scale] {tool}: locking {project} through the mirror")
                compare.run(tools.lock(tool), cwd=work,
                            env=env(tools, tool, scratch / tool / "lock-cache"))
                works[project] = work
            result = {}
            own = [scratch / tool / f"cache-{n}" for n in range(len(works))]
            log(f"[scale] {tool}: {len(works)} syncs at once, each with its own empty cache")
            result["own"] = phase(tool, tools, works, own, mirror, pip)
            shared = [scratch / tool / "shared-cache"] * len(works)
            log(f"[scale] {tool}: {len(works)} syncs at once, one shared empty cache")
            result["shared"] = phase(tool, tools, works, shared, mirror, pip)
            for name, figures in result.items():
                log(f"[scale] {tool} {name}: {figures['wall']:.1f} s, {figures['served']} "
                    f"requests to the mirror, {figures['upstream']} upstream, "
                    f"{len(figures['problems'])} venvs with problems")
            results[tool] = result
        finally:
            mirror.stop()
            tools.index = upstream
    return {"runners": len(texts), "projects": list(texts), "results": results}


def report(scale: dict) -> str:
    lines = [
        f"### scale: {scale['runners']} concurrent `sync --frozen --no-dev` behind a devpi mirror",
        "",
        f"Projects: {', '.join(scale['projects'])}; each runner a fresh venv. Wall: first start "
        "to last exit; mirror: requests the runners made to it; upstream: requests it made to "
        "the default index (a fresh mirror per tool, pages already fetched by the untimed locks).",
        "",
        "| tool | caches | wall s | median runner s | packages | mirror | upstream | correct |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tool, result in scale["results"].items():
        for name, label in [("own", "one each, empty"), ("shared", "one shared, empty")]:
            figures = result[name]
            correct = ("all venvs pass `pip check`, locked versions" if not figures["problems"]
                       else "; ".join(f"{project}: {', '.join(found)}"
                                      for project, found in figures["problems"].items()))
            lines.append(
                f"| {compare.NAMES[tool]} | {label} | {figures['wall']:.1f} | "
                f"{figures['median']:.1f} | {figures['packages']} | {figures['served']} | "
                f"{figures['upstream']} | {correct} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", default="tack,uv")
    parser.add_argument("--runners", type=int, default=8)
    parser.add_argument("--scratch", type=Path, default=compare.REPO / "target" / "bench-compare")
    parser.add_argument("--tack", type=Path, help="a tack binary (default: build release)")
    parser.add_argument("--no-readme", action="store_true",
                        help="do not write the table into benches/README.md")
    args = parser.parse_args()
    wanted = [tool for tool in ["tack", "uv"] if tool in args.tools.split(",")]
    tack = compare.tack_binary(args.tack)
    args.scratch.mkdir(parents=True, exist_ok=True)
    upstream = compare.default_index()
    tools = compare.Tools(args.scratch, tack, compare.real_interpreter(), upstream, wanted)
    scale = run_scale(tools, upstream, args.runners)
    text = report(scale)
    (args.scratch / "scale.md").write_text(text)
    (args.scratch / "scale.json").write_text(json.dumps(scale, indent=1))
    if not args.no_readme:
        compare.write_between_markers(compare.READMES[0], text, compare.SCALE_MARKERS)
    print(text)


if __name__ == "__main__":
    main()

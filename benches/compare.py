#!/usr/bin/env python3
"""Head-to-head timing of tack against uv, Poetry and pip (with pip-tools).

    python3 benches/compare.py                 # all projects, all tools, 5 runs (3 for pip/Poetry)
    python3 benches/compare.py --runs 3 --projects fastapi-app --tools tack,uv

For each sample project in ../shared/bench-projects/, and `builds` (generated here: five
packages that publish only sdists, so that its cold sync builds five wheels), and each tool, five
scenarios are timed,
the tools interleaved run by run, their order reversed every other run (tack uv poetry pip,
pip poetry uv tack, ...), so that a drift over the runs favours no tool:

- lock, warm cache: the lock file removed, the tool's cache filled by an earlier run;
- lock, cold cache: the lock file removed, the tool's cache pointed at an empty folder;
- sync into a fresh venv, warm cache: `.venv` removed, then the tool's install command;
- sync into a fresh venv, cold cache: the same with an empty cache;
- no-op sync: the install command again on a venv that is already in sync.

A venv or cache that a scenario needs gone is renamed into `<scratch>/trash/` (one system call),
not deleted, and the trash is deleted after the project's last run, followed by `sync` and a
pause of `SETTLE_SECONDS`. Deleting right before a timed run measured the file system more than
the tools: on ext4, every new inode is placed past the inodes freed in the last seconds (5, or 35
while their table block is dirty), so the run after a `rm -rf` of thousands of files spends most
of its time scanning for free inodes, more with every run. With deletes in between, the five runs
of a warm sync of `large` grew from 0.2 s to 0.8 s for either tool; with the trash, 0.22-0.54 s.

The commands are `tack lock` / `uv lock` / `poetry lock` / `pip-compile`, and
`tack sync --frozen --no-dev` / `uv sync --frozen --no-dev` / `poetry install --without dev
--no-root` / `python -m venv --without-pip` + `pip install -r`. pip installs the pins of what
`tack sync --frozen --no-dev` installed, so pip and tack install the same versions; uv and Poetry
install from their own locks, and the report says whether their venvs hold the same versions.

Every peer is installed from the default index at a pinned version into its own venv under the
scratch folder (`target/bench-compare/` by default), never into the repository. All tools use
the same index (the one pip would use on this machine), the same interpreter and their own
caches under the scratch folder. The index these machines reach does not serve PyPI's
per-version JSON API, which Poetry's default source needs, so Poetry's copy of each project
gets a primary `[[tool.poetry.source]]` pointing at the index's Simple API; the report says so.

`--scale` adds the scale scenario of `benches/scale.py` (opt-in, several minutes): tack and uv,
8 concurrent syncs of different projects behind a devpi pull-through mirror, each runner with its
own cache and then all with one shared cache.

The report (a markdown table per project: median wall time, min-max spread, ratio of each peer
to tack, peak resident memory; the scale table when asked for) is printed and written to
`<scratch>/results.md`, with the raw samples in `<scratch>/results.json`, and between the
`<!-- compare.py results: ... -->` markers of `benches/README.md` and of the top-level README's
Performance section (`--no-readme` for a partial run that should not replace them). Only the
Python standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROJECTS_DIR = REPO.parent / "shared" / "bench-projects"

# Projects generated here rather than read from PROJECTS_DIR. `builds`: five packages that publish
# only sdists (pure Python, one optional C extension, no system libraries), so every cold sync
# builds five wheels and every warm one reuses them.
GENERATED_PROJECTS = {
    "builds": (
        '[project]\nname = "builds"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        'dependencies = [\n    "docopt==0.6.2",\n    "langdetect==1.0.9",\n    "wget==3.2",\n'
        '    "crcmod==1.7",\n    "antlr4-python3-runtime==4.9.3",\n]\n'
    ),
}
DEFAULT_PROJECTS = ["fastapi-app", "data-science", "large", "builds"]

# Where the report goes besides the scratch folder: between these markers, in each file.
README_MARKERS = ("<!-- compare.py results: begin -->", "<!-- compare.py results: end -->")
READMES = [REPO / "benches" / "README.md", REPO / "README.md"]
# The scale table (`--scale`, or benches/scale.py) goes between these, in benches/README.md.
SCALE_MARKERS = ("<!-- scale.py results: begin -->", "<!-- scale.py results: end -->")

# The peers, pinned. Bump deliberately, and say so in the README's Performance section.
PEERS = {
    "uv": ["uv==0.13.9"],
    "poetry": ["poetry==2.5.1"],
    "pip": ["pip==26.3", "pip-tools==7.6.2"],
}
TOOLS = ["tack", "uv", "poetry", "pip"]
SLOW_TOOLS = {"poetry", "pip"}
# After the trash is deleted: long enough for ext4 to stop skipping the inodes it freed (5 s
# once their table blocks are written, which `sync` asks for).
SETTLE_SECONDS = 6
SCENARIOS = [
    ("lock-warm", "lock, warm cache"),
    ("lock-cold", "lock, cold cache"),
    ("sync-warm", "sync, fresh venv, warm cache"),
    ("sync-cold", "sync, fresh venv, cold cache"),
    ("sync-noop", "no-op sync"),
]
LOCK_FILES = {
    "tack": "pylock.toml",
    "uv": "uv.lock",
    "poetry": "poetry.lock",
    "pip": "requirements.txt",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(cmd, *, cwd=None, env=None, check=True, capture=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )
    if check and result.returncode != 0:
        raise SystemExit(
            f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n"
            f"{result.stdout or ''}{result.stderr or ''}"
        )
    return result


@dataclass
class Sample:
    seconds: float
    peak_kib: int


def timed(cmd, *, cwd, env) -> Sample:
    """Runs `cmd`, returning its wall time and the peak RSS of its largest process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(
            f"benchmarked command failed ({process.returncode}) in {cwd}: "
            f"{' '.join(map(str, cmd))}\n{output.decode(errors='replace')[-4000:]}"
        )
    return Sample(elapsed, usage.ru_maxrss)


def default_index() -> str:
    """The index pip would use on this machine (environment, configuration files, default)."""
    code = (
        "from pip._internal.commands import create_command\n"
        "options, _ = create_command('install').parse_args([])\n"
        "print(options.index_url)\n"
    )
    return run(["python3", "-c", code]).stdout.strip()


def real_interpreter() -> str:
    """The interpreter behind `python3` (not a launcher shim), shared by every tool."""
    return run(["python3", "-c", "import sys; print(sys.executable)"]).stdout.strip()


def machine() -> dict:
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory": memory,
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
    }


class Tools:
    """The peers' venvs and the commands each tool runs."""

    def __init__(self, scratch: Path, tack: Path, python: str, index: str, wanted: list[str]):
        self.scratch = scratch
        self.tack = tack
        self.python = python
        self.index = index
        self.wanted = wanted
        self.bin: dict[str, Path] = {}
        for tool in wanted:
            if tool == "tack":
                continue
            venv = scratch / "tools" / tool
            marker = venv / ".installed"
            spec = " ".join(PEERS[tool])
            if not marker.exists() or marker.read_text() != spec:
                log(f"installing {spec} into {venv}")
                shutil.rmtree(venv, ignore_errors=True)
                run([python, "-m", "venv", str(venv)])
                run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                     "--index-url", index, *PEERS[tool]])
                marker.write_text(spec)
            self.bin[tool] = venv / "bin"

    def versions(self) -> dict[str, str]:
        def last_word(cmd) -> str:
            return run(cmd).stdout.split(" from ")[0].split()[-1].strip("()")

        versions = {"tack": last_word([str(self.tack), "--version"])}
        if "uv" in self.bin:
            versions["uv"] = run([str(self.bin["uv"] / "uv"), "--version"]).stdout.split()[1]
        if "poetry" in self.bin:
            versions["poetry"] = last_word([str(self.bin["poetry"] / "poetry"), "--version"])
        if "pip" in self.bin:
            pip = last_word([str(self.bin["pip"] / "pip"), "--version"])
            compile_ = last_word([str(self.bin["pip"] / "pip-compile"), "--version"])
            versions["pip"] = f"{pip} / {compile_}"
        return versions

    def env(self, tool: str, cache: Path) -> dict:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("VIRTUAL_ENV", "UV_", "POETRY_", "PIP_", "TACK_", "CONDA"))
        }
        env["NO_COLOR"] = "1"
        if tool == "tack":
            env.update(TACK_CACHE_DIR=str(cache), TACK_PYTHON=self.python, TACK_INDEX_URL=self.index)
        elif tool == "uv":
            env.update(UV_CACHE_DIR=str(cache), UV_PYTHON=self.python,
                       UV_DEFAULT_INDEX=self.index, UV_PYTHON_DOWNLOADS="never")
        elif tool == "poetry":
            env.update(
                POETRY_CACHE_DIR=str(cache),
                POETRY_VIRTUALENVS_IN_PROJECT="true",
                POETRY_VIRTUALENVS_CREATE="true",
                POETRY_NO_INTERACTION="1",
                # A keyring lookup per request is Poetry's default; the null backend is what
                # people set in CI and Docker builds.
                PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
            )
        elif tool == "pip":
            env.update(PIP_CACHE_DIR=str(cache), PIP_INDEX_URL=self.index,
                       PIP_DISABLE_PIP_VERSION_CHECK="1")
        return env

    def lock(self, tool: str) -> list:
        if tool == "tack":
            return [str(self.tack), "lock", "--quiet"]
        if tool == "uv":
            return [str(self.bin["uv"] / "uv"), "lock", "--quiet"]
        if tool == "poetry":
            return [str(self.bin["poetry"] / "poetry"), "lock", "--quiet"]
        return [str(self.bin["pip"] / "pip-compile"), "--quiet", "--no-header",
                "--strip-extras", "--output-file", "requirements.txt", "requirements.in"]

    def sync(self, tool: str) -> list:
        if tool == "tack":
            return [str(self.tack), "sync", "--frozen", "--no-dev", "--quiet"]
        if tool == "uv":
            return [str(self.bin["uv"] / "uv"), "sync", "--frozen", "--no-dev",
                    "--no-install-project", "--quiet"]
        if tool == "poetry":
            return [str(self.bin["poetry"] / "poetry"), "install", "--without", "dev",
                    "--no-root", "--quiet"]
        # A venv without pip (pip runs from its own venv with --python), then the pins.
        script = (
            f"set -e; [ -x .venv/bin/python ] || {self.python} -m venv --without-pip .venv; "
            f"{self.bin['pip'] / 'pip'} --python .venv/bin/python install --quiet "
            f"-r pins.txt"
        )
        return ["sh", "-c", script]


def project_text(project: str) -> str:
    """The project's `pyproject.toml`: generated, or from the sample projects."""
    if project in GENERATED_PROJECTS:
        return GENERATED_PROJECTS[project]
    return (PROJECTS_DIR / project / "pyproject.toml").read_text()


def prepare_project(text: str, work: Path, tool: str, index: str) -> None:
    """A scratch copy of the project as `tool` reads it."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if tool == "poetry":
        text += (
            "\n[[tool.poetry.source]]\n"
            'name = "default-index"\n'
            f'url = "{index}"\n'
            'priority = "primary"\n'
        )
    (work / "pyproject.toml").write_text(text)
    if tool == "pip":
        pyproject = tomllib.loads(text)
        lines = list(pyproject["project"].get("dependencies", []))
        for group in pyproject.get("dependency-groups", {}).values():
            lines.extend(item for item in group if isinstance(item, str))
        (work / "requirements.in").write_text("\n".join(lines) + "\n")


def installed(venv: Path) -> dict[str, str]:
    """`{normalized name: version}` from a venv's `*.dist-info` directories."""
    found = {}
    for site in venv.glob("lib/python*/site-packages"):
        for dist_info in site.glob("*.dist-info"):
            name, _, version = dist_info.name[: -len(".dist-info")].partition("-")
            normalized = name.lower().replace("_", "-").replace(".", "-")
            if normalized in {"pip", "setuptools", "wheel"}:
                continue
            found[normalized] = version
    return found


def bench_project(project: str, tools: Tools, runs: int, slow_runs: int) -> dict:
    text = project_text(project)
    scratch = tools.scratch
    work = {tool: scratch / "work" / project / tool for tool in tools.wanted}
    warm_cache = {tool: scratch / "cache" / tool for tool in tools.wanted}
    cold_cache = {tool: scratch / "cold-cache" / tool for tool in tools.wanted}
    for tool in tools.wanted:
        prepare_project(text, work[tool], tool, tools.index)

    # Warm-up: fill each tool's warm cache and write its lock; tack's install gives the pins.
    for tool in tools.wanted:
        log(f"[{project}] warm-up: {tool}")
        env = tools.env(tool, warm_cache[tool])
        if tool == "pip":
            continue
        run(tools.lock(tool), cwd=work[tool], env=env)
        run(tools.sync(tool), cwd=work[tool], env=env)
    reference = installed(work["tack"] / ".venv") if "tack" in tools.wanted else {}
    if "pip" in tools.wanted:
        if not reference:
            raise SystemExit("the pip rows need tack's install for their pins: keep tack in --tools")
        pins = "".join(f"{name}=={version}\n" for name, version in sorted(reference.items()))
        (work["pip"] / "pins.txt").write_text(pins)
        env = tools.env("pip", warm_cache["pip"])
        run(tools.lock("pip"), cwd=work["pip"], env=env)
        run(tools.sync("pip"), cwd=work["pip"], env=env)

    samples: dict[str, dict[str, list[Sample]]] = {
        scenario: {tool: [] for tool in tools.wanted} for scenario, _ in SCENARIOS
    }
    trash = Trash(scratch / "trash")
    trash.empty()
    for index in range(runs):
        order = tools.wanted if index % 2 == 0 else list(reversed(tools.wanted))
        for scenario, _ in SCENARIOS:
            for tool in order:
                if tool in SLOW_TOOLS and index >= slow_runs:
                    continue
                cold = scenario.endswith("-cold")
                cache = cold_cache[tool] if cold else warm_cache[tool]
                if cold:
                    trash.put(cache)
                env = tools.env(tool, cache)
                if scenario.startswith("lock"):
                    (work[tool] / LOCK_FILES[tool]).unlink(missing_ok=True)
                    cmd = tools.lock(tool)
                else:
                    if scenario != "sync-noop":
                        trash.put(work[tool] / ".venv")
                    cmd = tools.sync(tool)
                sample = timed(cmd, cwd=work[tool], env=env)
                samples[scenario][tool].append(sample)
                log(f"[{project}] run {index + 1}/{runs} {scenario:<9} {tool:<6} "
                    f"{sample.seconds:7.2f} s {sample.peak_kib / 1024:7.0f} MiB")
    for tool in tools.wanted:
        trash.put(cold_cache[tool])
    trash.empty()

    agreement = {}
    for tool in tools.wanted:
        if tool == "tack":
            continue
        theirs = installed(work[tool] / ".venv")
        differ = sorted(
            name for name in set(theirs) | set(reference) if theirs.get(name) != reference.get(name)
        )
        agreement[tool] = {
            "packages": len(theirs),
            "differences": [
                f"{name}: tack {reference.get(name, '-')}, {tool} {theirs.get(name, '-')}"
                for name in differ
            ],
        }
    return {
        "packages": len(reference),
        "samples": {
            scenario: {tool: [vars(s) for s in values] for tool, values in by_tool.items()}
            for scenario, by_tool in samples.items()
        },
        "agreement": agreement,
    }


class Trash:
    """Where venvs and caches go instead of being deleted between timed runs (see the module
    documentation): a rename now, one delete after the project's runs."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.count = 0

    def put(self, path: Path) -> None:
        if not path.exists() and not path.is_symlink():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        path.rename(self.folder / f"{self.count}-{path.name}")

    def empty(self) -> None:
        """Delete the trash, then let the file system settle before the next timed run."""
        shutil.rmtree(self.folder, ignore_errors=True)
        os.sync()
        time.sleep(SETTLE_SECONDS)


def summarize(values: list[dict]) -> tuple[float, float, float, float] | None:
    if not values:
        return None
    seconds = [value["seconds"] for value in values]
    peak = max(value["peak_kib"] for value in values) / 1024
    return statistics.median(seconds), min(seconds), max(seconds), peak


NAMES = {"tack": "tack", "uv": "uv", "poetry": "Poetry", "pip": "pip / pip-tools"}


def report(results: dict, meta: dict) -> str:
    lines = [
        f"Measured {meta['date']} on {meta['machine']['cores']} cores, {meta['machine']['memory']} "
        f"({meta['machine']['cpu']}, {meta['machine']['os']}), Python {meta['python_version']}, "
        f"median of {meta['runs']} runs ({meta['slow_runs']} for Poetry and pip), "
        "wall seconds [min-max], ×: the peer's median over tack's; MiB: peak resident memory of "
        "the largest process.",
        "",
        "Versions: " + "; ".join(f"{NAMES[tool]} {version}" for tool, version in meta["versions"].items()),
        "",
    ]
    tools = meta["tools"]
    for project, result in results.items():
        lines.append(f"#### {project} ({result['packages']} packages installed)")
        lines.append("")
        lines.append("| scenario | " + " | ".join(NAMES[tool] for tool in tools) + " |")
        lines.append("|---|" + "---|" * len(tools))
        for scenario, label in SCENARIOS:
            cells = []
            base = summarize(result["samples"][scenario].get("tack", []))
            for tool in tools:
                summary = summarize(result["samples"][scenario][tool])
                if summary is None:
                    cells.append("-")
                    continue
                median, low, high, peak = summary
                cell = f"{median:.2f} [{low:.2f}-{high:.2f}]"
                if tool != "tack" and base is not None:
                    cell += f" ×{median / base[0]:.1f}"
                cell += f", {peak:.0f} MiB"
                cells.append(cell)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
        for tool, agreement in result["agreement"].items():
            if agreement["differences"]:
                lines.append(f"- {NAMES[tool]} installed other versions than tack: "
                             + "; ".join(agreement["differences"]))
            else:
                lines.append(f"- {NAMES[tool]} installed the same {agreement['packages']} "
                             "packages and versions as tack.")
        lines.append("")
    if "builds" in results:
        lines.append(
            "`builds` depends on five packages that publish only sdists (docopt, langdetect, "
            "wget, crcmod, antlr4-python3-runtime 4.9.3): each cold sync builds five wheels "
            "(with the build environments' wheels downloaded too), each warm one reuses the "
            "tool's built wheels."
        )
        lines.append("")
    if "poetry" in tools:
        lines.append(
            "Poetry's copy of each project has a primary `[[tool.poetry.source]]` pointing at "
            "the default index's Simple API: that index does not serve the per-version JSON API "
            "Poetry's built-in PyPI source needs. pip-compile locks the project's dependencies "
            "and its `dev` group from one requirements file, for this platform only and without "
            "hashes; pip installs into a venv made with `--without-pip` (pip runs from its own "
            "venv), from the pins of tack's install."
        )
    return "\n".join(lines) + "\n"


def tack_binary(given: Path | None) -> Path:
    """`given`, or tack built in release mode."""
    if given:
        return given.resolve()
    log("building tack (release)")
    run(["cargo", "build", "--release", "--quiet", "--bin", "tack"], cwd=REPO, capture=False)
    return REPO / "target" / "release" / "tack"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", default=",".join(DEFAULT_PROJECTS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--slow-runs", type=int, default=3,
                        help="runs for Poetry and pip, which take much longer (default 3)")
    parser.add_argument("--scratch", type=Path, default=REPO / "target" / "bench-compare")
    parser.add_argument("--tack", type=Path, help="a tack binary (default: build release)")
    parser.add_argument("--scale", action="store_true",
                        help="also the scale scenario of benches/scale.py (tack and uv, 8 "
                             "concurrent syncs behind a devpi mirror; several minutes)")
    parser.add_argument("--runners", type=int, default=8, help="concurrent syncs of --scale")
    parser.add_argument("--no-readme", action="store_true",
                        help="do not write the report into benches/README.md and README.md")
    args = parser.parse_args()

    wanted = [tool for tool in TOOLS if tool in args.tools.split(",")]
    tack = tack_binary(args.tack)
    args.scratch.mkdir(parents=True, exist_ok=True)
    index = default_index()
    python = real_interpreter()
    tools = Tools(args.scratch, tack, python, index, wanted)
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "python_version": run([python, "-c", "import platform; print(platform.python_version())"]).stdout.strip(),
        "versions": tools.versions(),
        "tools": wanted,
        "runs": args.runs,
        "slow_runs": min(args.slow_runs, args.runs),
    }
    results = {}
    for project in args.projects.split(","):
        results[project] = bench_project(project, tools, args.runs, args.slow_runs)
    text = report(results, meta)
    scale, scale_text = None, ""
    if args.scale:
        import scale as scale_bench  # beside this file; imports this module back

        scale = scale_bench.run_scale(tools, index, args.runners)
        scale_text = scale_bench.report(scale)
    if not args.no_readme:
        for readme in READMES:
            write_between_markers(readme, text, README_MARKERS)
        if scale_text:
            write_between_markers(READMES[0], scale_text, SCALE_MARKERS)
    text += "\n" + scale_text if scale_text else ""
    (args.scratch / "results.md").write_text(text)
    (args.scratch / "results.json").write_text(
        json.dumps({"meta": meta, "results": results, "scale": scale}, indent=1)
    )
    print(text)


def write_between_markers(path: Path, text: str, markers: tuple[str, str]) -> None:
    """Replaces what stands between `markers` in `path` with `text`."""
    begin, end = markers
    content = path.read_text()
    start, stop = content.find(begin), content.find(end)
    if start < 0 or stop < start:
        log(f"{path.name} has no {begin} ... {end}: not written")
        return
    path.write_text(content[: start + len(begin)] + "\n\n" + text + "\n" + content[stop:])
    log(f"report written into {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()

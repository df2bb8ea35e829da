"""tackbuild: a tiny PEP 517 build backend for tack's tests, in pure standard-library Python.

A test project uses it in-tree, without any download, by copying this file into a directory of
the project and naming that directory in `backend-path`:

    [build-system]
    requires = []
    build-backend = "tackbuild"
    backend-path = ["_backend"]

It reads a small `[project]` table (name, version, description, requires-python,
dependencies, optional-dependencies, scripts) with `tomllib` (Python 3.11 or newer), finds the
package in `src/<pkg>/` or `<pkg>/` (`<pkg>` is the name with `-` and `.` as `_`), and builds:

- a wheel `<name>-<version>-py3-none-any.whl` with WHEEL, METADATA, entry_points.txt and a
  RECORD of sha256 digests;
- an editable wheel (PEP 660) whose `.pth` file puts the package's parent directory on
  `sys.path`;
- an sdist `<name>-<version>.tar.gz` of the project's files with PKG-INFO;
- the dist-info directory alone (`prepare_metadata_for_build_wheel`).

Every archive is deterministic: sorted entries, fixed timestamps, fixed modes.

`[tool.tackbuild] get-requires = [...]` is what the `get_requires_for_build_*` hooks return.
`[tool.tackbuild] import = [...]` names modules the build environment must provide: the wheel,
editable and metadata hooks import them first (and say so), and fail when one is missing.
A file `FAIL_BUILD` in the project makes the wheel, editable and metadata hooks fail like a
compiler would: they print the file's lines (or, when it is empty, a missing-header error) to
stderr and exit with status 1.
"""

import base64
import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
import zipfile

import tomllib

# 1980-01-01, the earliest time a zip archive can hold.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
SKIPPED_DIRECTORIES = {".git", ".venv", "__pycache__", "build", "dist"}


def _project():
    with open("pyproject.toml", "rb") as file:
        pyproject = tomllib.load(file)
    project = pyproject["project"]
    tool = pyproject.get("tool", {}).get("tackbuild", {})
    return project, tool


def _dist_name(name):
    """The name as it appears in file names: runs of `-_.` become `_`, lower case."""
    return re.sub(r"[-_.]+", "_", name).lower()


def _package_root():
    """The directory that holds the import package: `src` or the project itself."""
    project, _ = _project()
    package = _dist_name(project["name"])
    for root in ("src", "."):
        if os.path.isdir(os.path.join(root, package)):
            return root, package
    raise RuntimeError("tackbuild: no package directory `src/%s` or `%s`" % (package, package))


def _metadata():
    project, _ = _project()
    lines = [
        "Metadata-Version: 2.1",
        "Name: " + project["name"],
        "Version: " + project["version"],
    ]
    if "description" in project:
        lines.append("Summary: " + project["description"])
    if "requires-python" in project:
        lines.append("Requires-Python: " + project["requires-python"])
    for requirement in project.get("dependencies", []):
        lines.append("Requires-Dist: " + requirement)
    for extra, requirements in sorted(project.get("optional-dependencies", {}).items()):
        lines.append("Provides-Extra: " + extra)
        for requirement in requirements:
            marker = 'extra == "%s"' % extra
            if ";" in requirement:
                requirement, existing = requirement.split(";", 1)
                marker = "(%s) and %s" % (existing.strip(), marker)
            lines.append("Requires-Dist: %s; %s" % (requirement.strip(), marker))
    return "\n".join(lines) + "\n"


def _dist_info_files():
    """The files of the dist-info directory (without RECORD): name to bytes."""
    project, _ = _project()
    files = {
        "METADATA": _metadata().encode(),
        "WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tackbuild\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ).encode(),
    }
    scripts = project.get("scripts", {})
    if scripts:
        text = "[console_scripts]\n" + "".join(
            "%s = %s\n" % (name, target) for name, target in sorted(scripts.items())
        )
        files["entry_points.txt"] = text.encode()
    return files


def _dist_info_name():
    project, _ = _project()
    return "%s-%s.dist-info" % (_dist_name(project["name"]), project["version"])


def _import_required():
    _, tool = _project()
    for module in tool.get("import", []):
        imported = __import__(module)
        print("tackbuild: imported %s %s" % (module, getattr(imported, "__version__", "")))


def _fail_if_asked():
    if not os.path.exists("FAIL_BUILD"):
        return
    with open("FAIL_BUILD") as file:
        text = file.read()
    if not text.strip():
        text = (
            "building 'demo._speedups' extension\n"
            "gcc -pthread -fPIC -I/usr/include/python3 -c demo/_speedups.c -o build/_speedups.o\n"
            "demo/_speedups.c:1:10: fatal error: libfoo.h: No such file or directory\n"
            "    1 | #include <libfoo.h>\n"
            "      |          ^~~~~~~~~~\n"
            "compilation terminated.\n"
            "error: command '/usr/bin/gcc' failed with exit code 1\n"
        )
    sys.stderr.write(text)
    sys.stderr.flush()
    sys.exit(1)


def _record_hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _write_wheel(directory, files):
    """Write `files` (archive path to bytes) and a RECORD as a wheel; return its name."""
    project, _ = _project()
    dist_info = _dist_info_name()
    for name, data in _dist_info_files().items():
        files[dist_info + "/" + name] = data
    record = "".join(
        "%s,%s,%d\n" % (path, _record_hash(data), len(data)) for path, data in sorted(files.items())
    )
    files[dist_info + "/RECORD"] = (record + dist_info + "/RECORD,,\n").encode()
    name = "%s-%s-py3-none-any.whl" % (_dist_name(project["name"]), project["version"])
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            info = zipfile.ZipInfo(path, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path])
    return name


def _package_files():
    root, package = _package_root()
    files = {}
    for directory, subdirectories, names in os.walk(os.path.join(root, package)):
        subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
        for name in sorted(names):
            if name.endswith(".pyc"):
                continue
            path = os.path.join(directory, name)
            with open(path, "rb") as file:
                files[os.path.relpath(path, root).replace(os.sep, "/")] = file.read()
    return files


def _requires(config_settings=None):
    _, tool = _project()
    return list(tool.get("get-requires", []))


# The PEP 517 hooks.

get_requires_for_build_wheel = _requires
get_requires_for_build_editable = _requires
get_requires_for_build_sdist = _requires


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _import_required()
    _fail_if_asked()
    dist_info = _dist_info_name()
    os.makedirs(os.path.join(metadata_directory, dist_info))
    for name, data in _dist_info_files().items():
        with open(os.path.join(metadata_directory, dist_info, name), "wb") as file:
            file.write(data)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    print("tackbuild: building a wheel")
    _import_required()
    _fail_if_asked()
    return _write_wheel(wheel_directory, _package_files())


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    print("tackbuild: building an editable wheel")
    _import_required()
    _fail_if_asked()
    root, package = _package_root()
    path = os.path.abspath(root)
    files = {"_tackbuild_editable_%s.pth" % package: (path + "\n").encode()}
    return _write_wheel(wheel_directory, files)


def build_sdist(sdist_directory, config_settings=None):
    print("tackbuild: building an sdist")
    project, _ = _project()
    base = "%s-%s" % (_dist_name(project["name"]), project["version"])
    entries = {base + "/PKG-INFO": _metadata().encode()}
    for directory, subdirectories, names in os.walk("."):
        subdirectories[:] = sorted(
            d for d in subdirectories if d not in SKIPPED_DIRECTORIES and not d.startswith(".")
        )
        for name in sorted(names):
            if name.endswith(".pyc") or name.startswith("."):
                continue
            path = os.path.normpath(os.path.join(directory, name))
            with open(path, "rb") as file:
                entries[base + "/" + path.replace(os.sep, "/")] = file.read()
    name = base + ".tar.gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(entries):
            info = tarfile.TarInfo(path)
            info.size = len(entries[path])
            info.mode = 0o644
            info.mtime = 0
            archive.addfile(info, io.BytesIO(entries[path]))
    with open(os.path.join(sdist_directory, name), "wb") as file:
        with gzip.GzipFile(filename="", mode="wb", fileobj=file, mtime=0) as compressed:
            compressed.write(buffer.getvalue())
    return name

"""tack's PEP 517 hook runner: calls one hook of a build backend in this process.

    python -I -u shim.py REQUEST RESULT

REQUEST is a JSON file: {"backend": "module:object", "backend_path": [absolute directories],
"hook": "build_wheel", "args": [positional arguments]}. The hook's return value goes to the
file RESULT as JSON, never to stdout, which belongs to the backend:

    {"return": value}              the hook (or its PEP 517 default) returned
    {"unsupported": true}          the backend has no such hook and PEP 517 gives it no default,
                                   or it raised its `UnsupportedOperation`
    {"backend_unavailable": true}  the backend could not be imported (traceback on stderr)

When the hook raises, the traceback goes to stderr and the exit status is 1, with no RESULT.
Written for every Python 3 tack supports (3.6 and newer).
"""

import importlib
import json
import os
import sys
import traceback


def _no_requirements(config_settings=None):
    return []


# The hooks PEP 517 makes optional, with their defaults; the others report "unsupported".
DEFAULTS = {
    "get_requires_for_build_wheel": _no_requirements,
    "get_requires_for_build_sdist": _no_requirements,
    "get_requires_for_build_editable": _no_requirements,
}


class BackendUnavailable(Exception):
    pass


def _inside(path, directories):
    path = os.path.normcase(os.path.realpath(path))
    for directory in directories:
        directory = os.path.normcase(os.path.realpath(directory))
        if os.path.commonpath([path, directory]) == directory:
            return True
    return False


def load_backend(spec, backend_path):
    module_name, _, attributes = spec.partition(":")
    if backend_path:
        sys.path[:0] = backend_path
    try:
        backend = importlib.import_module(module_name.strip())
    except ImportError:
        raise BackendUnavailable(traceback.format_exc())
    if backend_path:
        # PEP 517: an in-tree backend must be loaded from one of the backend-path directories.
        location = getattr(backend, "__file__", None) or ""
        if not _inside(location, backend_path):
            raise BackendUnavailable(
                "the backend `%s` was loaded from %s, outside its backend-path %s\n"
                % (spec, location, backend_path)
            )
    for attribute in attributes.strip().split(".") if attributes.strip() else []:
        backend = getattr(backend, attribute)
    return backend


def write_result(path, value):
    text = json.dumps(value)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)


def main():
    request_path, result_path = sys.argv[1], sys.argv[2]
    # Before 3.11, `-I` still puts the script's own directory first on sys.path.
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]
    with open(request_path, encoding="utf-8") as file:
        request = json.load(file)
    name = request["hook"]
    try:
        backend = load_backend(request["backend"], request["backend_path"])
    except BackendUnavailable as error:
        sys.stderr.write(str(error))
        write_result(result_path, {"backend_unavailable": True})
        return 1
    hook = getattr(backend, name, None)
    if hook is None:
        hook = DEFAULTS.get(name)
        if hook is None:
            write_result(result_path, {"unsupported": True})
            return 0
    unsupported = getattr(backend, "UnsupportedOperation", None)
    try:
        value = hook(*request["args"])
    except Exception as error:
        if isinstance(unsupported, type) and isinstance(error, unsupported):
            write_result(result_path, {"unsupported": True})
            return 0
        traceback.print_exc()
        return 1
    sys.stdout.flush()
    write_result(result_path, {"return": value})
    return 0


if __name__ == "__main__":
    sys.exit(main())

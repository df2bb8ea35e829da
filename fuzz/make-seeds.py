#!/usr/bin/env python3
"""Writes the synthetic seed inputs of fuzz/corpus/ (run from anywhere; deterministic).

Seeds that come from elsewhere are committed as they are and not written here: the sample
projects' pyproject.toml files (URLs replaced by example.org), a lock written by `tack lock`,
cut-down poetry.lock files, and one real project page in each Simple API form, with file URLs
made relative. See README.md.
"""
import gzip
import hashlib
import base64
import io
import json
import os
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
DATE = (2024, 1, 1, 0, 0, 0)


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(directory, name), "wb") as out:
        out.write(data)


# --- core metadata ------------------------------------------------------------------------

METADATA = {
    "metadata-2.1": """Metadata-Version: 2.1
Name: Demo_Pkg
Version: 1.0.post1
Summary: A demo
Requires-Python: >=3.8
Requires-Dist: idna (>=2.5)
Requires-Dist: sniffio>=1.1
Requires-Dist: exceptiongroup>=1.0.2; python_version < "3.11"
Requires-Dist: trio>=0.23; extra == "trio"
Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == 'socks'
Provides-Extra: trio
Provides-Extra: Socks
Description-Content-Type: text/markdown
Classifier: Programming Language :: Python :: 3
Keywords: one,
  two

# Demo

Body text: not a header.
""",
    "metadata-2.4-dynamic": """Metadata-Version: 2.4
Name: demo
Version: 2.0rc1
License-Expression: MIT
Dynamic: Requires-Dist
Dynamic: provides-extra
Requires-Python: >= 3.9 ,
""",
    "metadata-1.0": """Metadata-Version: 1.0
Name: old-thing
Version: 0.1
Summary: before Requires-Dist
Description: first line
second line, unindented, starts the body
""",
    "metadata-crlf-bom": "\ufeffMetadata-Version: 2.2\r\nName: crlf\r\nVersion: 3\r\nRequires-Python: '>=3.6.*'\r\nRequires-Dist: attrs\r\n\tcontinued\r\n\r\nbody\r\n",
    "metadata-folded": """Metadata-Version: 2.3
Name: folded
Version: 1!2.0.dev3+local.7
Requires-Dist: packaging[extra-one,extra_two] (>=21) ;
\tpython_version >= "3.8" and platform_system != "Windows"
Provides-Extra: extra-one
Provides-Extra: extra_two
Provides-Extra: -bad-
""",
}
for name, text in METADATA.items():
    write("metadata", name, text)


def tar_bytes(members, compress):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, content in members:
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    data = raw.getvalue()
    if compress:
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = out.getvalue()
    return data


def zip_bytes(members, compression=zipfile.ZIP_DEFLATED):
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression) as archive:
        for path, content in members:
            info = zipfile.ZipInfo(path, DATE)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return raw.getvalue()


PKG_INFO = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Python: >=3.8\n"
SDIST = [
    ("demo-1.0/PKG-INFO", PKG_INFO),
    ("demo-1.0/setup.py", b"from setuptools import setup\nsetup()\n"),
    ("demo-1.0/demo.egg-info/PKG-INFO", PKG_INFO),
    (
        "demo-1.0/demo.egg-info/requires.txt",
        b"idna>=2\n\n[:python_version < \"3.11\"]\ntomli\n\n[socks]\nPySocks\n\n[test:sys_platform == \"win32\"]\ncolorama\n",
    ),
]
write("metadata", "sdist.tar.gz", tar_bytes(SDIST, compress=True))
write("metadata", "sdist.tar", tar_bytes(SDIST[:2], compress=False))
write("metadata", "sdist.zip", zip_bytes(SDIST))
write(
    "metadata",
    "sdist-static.tar.gz",
    tar_bytes(
        [("./demo-1.0/PKG-INFO", b"Metadata-Version: 2.2\nName: demo\nVersion: 1.0\nRequires-Dist: attrs\n")],
        compress=True,
    ),
)

# --- wheel file names ------------------------------------------------------------------------

NAMES = [
    "demo-1.0-py3-none-any.whl",
    "six-1.16.0-py2.py3-none-any.whl",
    "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "Foo_Bar-1.0.post1-1local-cp39-abi3-win_amd64.whl",
    "pkg-1!2.0rc1+local.3-py3-none-macosx_11_0_arm64.WHL",
    "python-dateutil-2.9.0.tar.gz",
    "Django-5.0.zip",
    "demo-1.0.tar.bz2",
    "old_name-0.1.dev2.tgz",
]
for index, name in enumerate(NAMES):
    write("wheel_filename", f"name-{index}", name)

# --- Simple API pages ------------------------------------------------------------------------

SHA_A = "a" * 64
SHA_B = "0123456789ABCDEF" * 4
page = {
    "meta": {"api-version": "1.1", "_last-serial": 7},
    "name": "demo",
    "versions": ["1.0", "2.0"],
    "files": [
        {
            "filename": "demo-1.0.tar.gz",
            "url": "../../files/demo-1.0.tar.gz",
            "hashes": {"sha256": SHA_A, "md5": "00"},
            "requires-python": ">=3.8",
            "yanked": False,
            "size": 1234,
            "upload-time": "2024-01-01T00:00:00.123456Z",
        },
        {
            "filename": "demo-1.0-py3-none-any.whl",
            "url": "https://example.org/files/demo-1.0-py3-none-any.whl#sha256=" + SHA_A,
            "hashes": {},
            "yanked": "broken build",
            "core-metadata": {"sha256": SHA_B},
        },
        {
            "filename": "demo-2.0-py3-none-any.whl",
            "url": "/files/demo-2.0-py3-none-any.whl",
            "hashes": {"SHA256": SHA_B},
            "dist-info-metadata": True,
            "yanked": True,
            "requires-python": "",
        },
    ],
}
write("simple_json", "synthetic.json", json.dumps(page, indent=1))
write("simple_json", "minimal.json", '{"files": []}')
write("simple_json", "api-2.json", '{"meta": {"api-version": "2.0"}, "files": []}')

HTML = f"""<!DOCTYPE html>
<HTML><head><base href="/files/sub/"><title>Links for demo</title>
<meta name="pypi:repository-version" content="1.1"></head>
<body>
<!-- <a href="commented-out-1.0.tar.gz">no</a> -->
<script>var s = "<a href='x.whl'>";</script><style>a {{ color: red }}</style>
<a href="demo-1.0.tar.gz#sha256={SHA_A}" data-requires-python="&gt;=3.8,&lt;4&#x2C;!=3.9.*">demo-1.0.tar.gz</a><br/>
<A HREF='../demo-1.0-py3-none-any.whl#md5=00&amp;sha256={SHA_B}' data-yanked="bad &quot;build&quot;" data-core-metadata="sha256={SHA_A}">demo-1.0-py3-none-any.whl</A>
<a href=https://example.org/f/demo-2.0-py3-none-any.whl data-dist-info-metadata=true data-yanked>demo&#45;2.0-py3-none-any.whl</a>
<a>no href</a>
</body></HTML>
"""
write("simple_html", "synthetic.html", HTML)
write("simple_html", "minimal.html", "<a href=\"demo-1.0.tar.gz\">demo-1.0.tar.gz</a>")

# --- wheels ---------------------------------------------------------------------------------


def record_line(path, content):
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(content)}"


def wheel(files, purelib=True, record_extra=()):
    dist_info = "demo-1.0.dist-info"
    files = list(files) + [
        (f"{dist_info}/METADATA", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),
        (
            f"{dist_info}/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: seeds\nRoot-Is-Purelib: {'true' if purelib else 'false'}\nTag: py3-none-any\n".encode(),
        ),
    ]
    record = [record_line(path, content) for path, content in files]
    record += list(record_extra)
    record.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    return zip_bytes(files)


write("wheel_archive", "minimal.whl", wheel([("demo/__init__.py", b"VALUE = 1\n")]))
write(
    "wheel_archive",
    "scripts-and-data.whl",
    wheel(
        [
            ("demo/__init__.py", b"def main():\n    return 0\n"),
            ("demo/sub/mod.py", b"X = 2\n"),
            ("demo-1.0.data/scripts/demo-tool", b"#!python\nimport demo\ndemo.main()\n"),
            ("demo-1.0.data/data/share/demo/readme.txt", b"data\n"),
            ("demo-1.0.data/headers/demo.h", b"int demo(void);\n"),
            ("demo-1.0.data/purelib/demo_extra.py", b"Y = 3\n"),
            (
                "demo-1.0.dist-info/entry_points.txt",
                b"[console_scripts]\ndemo = demo:main\ndemo-sub = demo.sub.mod:X [extra]\n\n[gui_scripts]\ndemo-gui = demo:main\n\n[other.group]\nx = y\n",
            ),
        ]
    ),
)
write(
    "wheel_archive",
    "platlib.whl",
    wheel([("demo/_native.py", b"N = 1\n"), ("demo-1.0.data/platlib/demo_plat.py", b"P = 1\n")], purelib=False),
)
write(
    "wheel_archive",
    "stored.whl",
    zip_bytes(
        [
            ("demo-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),
            ("demo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"),
            ("demo-1.0.dist-info/RECORD", b"demo-1.0.dist-info/METADATA,,\ndemo-1.0.dist-info/WHEEL,,\ndemo-1.0.dist-info/RECORD,,\n"),
        ],
        compression=zipfile.ZIP_STORED,
    ),
)

//! Core metadata files: a large one, modeled on a framework with dozens of extras (231
//! `Requires-Dist` lines with markers and extras, folded fields, 60 kB of Markdown
//! description), and a typical one (a handful of dependencies, a short description).

use std::fmt::Write as _;

use super::{prose, Rng};

/// Unconditional and environment-dependent dependencies of the large distribution.
const BASE: &[&str] = &[
    "alembic<2.0,>=1.13.1",
    "argcomplete>=1.10",
    "asgiref>=2.3.0",
    "attrs!=25.2.0,>=22.1.0",
    "blinker>=1.6.2",
    "colorlog>=6.8.2",
    "configupdater>=3.1.1",
    "cron-descriptor>=1.2.24",
    "croniter>=2.0.2",
    "cryptography>=41.0.0",
    "deprecated>=1.2.13",
    "dill>=0.2.2",
    "flask<2.3,>=2.2.1",
    "fsspec>=2023.10.0",
    "google-re2>=1.0; python_version < \"3.12\"",
    "google-re2>=1.1; python_version >= \"3.12\"",
    "gunicorn>=20.1.0",
    "httpx>=0.25.0",
    "importlib-metadata>=6.5; python_version < \"3.12\"",
    "importlib-resources>=5.2; python_version < \"3.9\"",
    "itsdangerous>=2.0",
    "jinja2>=3.0.0",
    "jsonschema>=4.18.0",
    "lazy-object-proxy>=1.2.0",
    "linkify-it-py>=2.0.0",
    "lockfile>=0.12.2",
    "markdown-it-py>=2.1.0",
    "markupsafe>=1.1.1",
    "marshmallow-oneofschema>=2.0.1",
    "mdit-py-plugins>=0.3.0",
    "methodtools>=0.4.7",
    "opentelemetry-api>=1.24.0",
    "opentelemetry-exporter-otlp>=1.24.0",
    "packaging>=23.2",
    "pathspec>=0.9.0",
    "pendulum<4.0,>=3.0.0; python_version >= \"3.12\"",
    "pendulum<4.0,>=2.1.2; python_version < \"3.12\"",
    "pluggy>=1.5.0",
    "psutil>=5.8.0",
    "pygments>=2.0.1",
    "pyjwt>=2.0.0",
    "python-daemon>=3.0.0",
    "python-dateutil>=2.7.0",
    "python-slugify>=5.0",
    "pywin32>=306; sys_platform == \"win32\" and platform_python_implementation == \"CPython\"",
    "requests<3,>=2.27.0",
    "rfc3339-validator>=0.1.4",
    "rich-argparse>=1.0.0",
    "rich>=12.4.4",
    "setproctitle>=1.1.8; sys_platform != \"win32\"",
    "sqlalchemy<2.0,>=1.4.36",
    "sqlalchemy-jsonfield>=1.0",
    "tabulate>=0.7.5",
    "tenacity!=8.2.0,>=6.2.0",
    "termcolor>=1.1.0",
    "typing-extensions>=4.0.0; python_version < \"3.11\"",
    "universal-pathlib>=0.2.2",
    "werkzeug<3,>=2.0",
    "uvloop>=0.17; sys_platform != \"win32\" and platform_machine == \"x86_64\" and implementation_name == \"cpython\"",
];

/// Extras and what each adds.
const EXTRAS: &[(&str, &[&str])] = &[
    ("aiobotocore", &["aiobotocore>=2.9.0"]),
    (
        "async",
        &["eventlet>=0.33.3", "gevent>=0.13", "greenlet>=0.4.9"],
    ),
    ("cgroups", &["cgroupspy>=0.2.2"]),
    ("deprecated-api", &["requests>=2.27.0"]),
    (
        "github-enterprise",
        &["authlib>=1.0.0", "flask-appbuilder[oauth]==4.4.1"],
    ),
    (
        "google-auth",
        &["authlib>=1.0.0", "flask-appbuilder[oauth]==4.4.1"],
    ),
    ("graphviz", &["graphviz>=0.12"]),
    (
        "kerberos",
        &[
            "pykerberos>=1.1.13",
            "requests-kerberos>=0.10.0",
            "thrift-sasl>=0.2.0",
        ],
    ),
    ("ldap", &["ldap3>=2.5.1", "python-ldap"]),
    ("leveldb", &["plyvel"]),
    ("otel", &["opentelemetry-exporter-prometheus"]),
    ("pandas", &["pandas>=1.2.5,<2.2", "pyarrow>=14.0.1"]),
    ("password", &["bcrypt>=2.0.0", "flask-bcrypt>=0.7.1"]),
    ("rabbitmq", &["amqp"]),
    ("s3fs", &["s3fs>=2023.10.0"]),
    ("saml", &["python3-saml>=1.16.0"]),
    ("sentry", &["blinker>=1.1", "sentry-sdk>=1.32.0,!=1.33.0"]),
    ("statsd", &["statsd>=3.3.0"]),
    ("uv", &["uv>=0.1.32"]),
    ("virtualenv", &["virtualenv"]),
    ("airbyte", &["workflows-providers-airbyte"]),
    ("alibaba", &["workflows-providers-alibaba"]),
    ("amazon", &["workflows-providers-amazon"]),
    ("apache-beam", &["workflows-providers-apache-beam"]),
    (
        "apache-cassandra",
        &["workflows-providers-apache-cassandra"],
    ),
    ("apache-hive", &["workflows-providers-apache-hive"]),
    ("apache-kafka", &["workflows-providers-apache-kafka"]),
    ("apache-spark", &["workflows-providers-apache-spark"]),
    ("celery", &["workflows-providers-celery>=3.3.0"]),
    (
        "cncf-kubernetes",
        &["workflows-providers-cncf-kubernetes>=7.2.0"],
    ),
    ("databricks", &["workflows-providers-databricks"]),
    ("docker", &["workflows-providers-docker"]),
    ("elasticsearch", &["workflows-providers-elasticsearch"]),
    ("google", &["workflows-providers-google"]),
    ("microsoft-azure", &["workflows-providers-microsoft-azure"]),
    (
        "mysql",
        &[
            "workflows-providers-mysql",
            "mysqlclient>=1.4.0; sys_platform != \"darwin\"",
        ],
    ),
    (
        "postgres",
        &["workflows-providers-postgres", "psycopg2-binary>=2.9.4"],
    ),
    ("redis", &["workflows-providers-redis"]),
    ("slack", &["workflows-providers-slack"]),
    ("snowflake", &["workflows-providers-snowflake"]),
    ("ssh", &["workflows-providers-ssh"]),
    (
        "devel-tests",
        &[
            "aiofiles>=23.2.0",
            "aioresponses>=0.7.6",
            "backports-zoneinfo>=0.2.1; python_version < \"3.9\"",
            "beautifulsoup4>=4.7.1",
            "coverage>=7.4.0",
            "pytest-asyncio>=0.23.6",
            "pytest-cov>=4.1.0",
            "pytest-custom-exit-code>=0.3.0",
            "pytest-icdiff>=0.9",
            "pytest-instafail>=0.5.0",
            "pytest-mock>=3.12.0",
            "pytest-rerunfailures>=13.0",
            "pytest-timeouts>=1.2.1",
            "pytest-xdist>=3.5.0",
            "pytest>=8.2,<9",
            "requests-mock>=1.11.0",
            "time-machine>=2.13.0",
            "wheel>=0.42.0",
        ],
    ),
    (
        "devel-static-checks",
        &[
            "black>=23.12.0",
            "pre-commit>=3.5.0",
            "ruff==0.4.5",
            "yamllint>=1.33.0",
            "mypy==1.9.0",
            "types-deprecated",
            "types-docutils",
            "types-markdown",
            "types-python-dateutil",
            "types-pyyaml",
            "types-redis",
            "types-requests",
            "types-setuptools",
            "types-tabulate",
            "types-toml",
        ],
    ),
];

/// The large `METADATA`: every dependency of [`BASE`], every extra with its dependencies
/// (each repeated under an `all` extra), 30 classifiers, project URLs, a folded license field
/// and about 60 kB of Markdown description.
pub fn large() -> String {
    let mut rng = Rng::new(0x00C0_FFEE);
    let mut text = String::from(
        "Metadata-Version: 2.3\nName: apache-workflows\nVersion: 2.9.2\nSummary: Programmatically author, schedule and monitor data pipelines\n",
    );
    text.push_str("Project-URL: Bug Tracker, https://code.example.invalid/workflows/issues\n");
    text.push_str("Project-URL: Documentation, https://docs.example.invalid/workflows/stable/\n");
    text.push_str("Project-URL: Source Code, https://code.example.invalid/workflows\n");
    text.push_str("Author-email: Workflows Developers <dev@example.invalid>\n");
    text.push_str("Maintainer-email: Workflows Maintainers <maintainers@example.invalid>\n");
    text.push_str("License: Apache License\n        Version 2.0, January 2004\n        http://www.apache.org/licenses/\n        \n        TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION\n");
    text.push_str("License-File: LICENSE\nLicense-File: NOTICE\n");
    text.push_str("Keywords: automation,dag,data,orchestration,pipelines,scheduler,workflow\n");
    for i in 0..30 {
        let _ = writeln!(
            text,
            "Classifier: {}",
            [
                "Development Status :: 5 - Production/Stable",
                "Environment :: Console",
                "Environment :: Web Environment",
                "Framework :: Workflows",
                "Intended Audience :: Developers",
                "Intended Audience :: System Administrators",
                "License :: OSI Approved :: Apache Software License",
                "Programming Language :: Python :: 3.8",
                "Programming Language :: Python :: 3.9",
                "Programming Language :: Python :: 3.10",
            ][i % 10]
        );
    }
    text.push_str("Requires-Python: !=3.12.*,>=3.8\n");
    for requirement in BASE {
        let _ = writeln!(text, "Requires-Dist: {requirement}");
    }
    for (extra, requirements) in EXTRAS {
        for requirement in *requirements {
            let (requirement, marker) = match requirement.split_once(';') {
                Some((requirement, marker)) => (requirement.trim(), Some(marker.trim())),
                None => (*requirement, None),
            };
            for extra in [*extra, "all"] {
                match marker {
                    Some(marker) => {
                        let _ = writeln!(
                            text,
                            "Requires-Dist: {requirement}; ({marker}) and extra == '{extra}'"
                        );
                    }
                    None => {
                        let _ = writeln!(text, "Requires-Dist: {requirement}; extra == '{extra}'");
                    }
                }
            }
        }
    }
    for (extra, _) in EXTRAS {
        let _ = writeln!(text, "Provides-Extra: {extra}");
    }
    text.push_str("Provides-Extra: all\nDescription-Content-Type: text/markdown\n\n");
    text.push_str("<!-- Licensed to the Apache Software Foundation (ASF) -->\n\n# Workflows\n\n");
    while text.len() < 64_000 {
        let _ = writeln!(text, "## {}\n", prose(&mut rng, 3).trim_end());
        text.push_str(&prose(&mut rng, 120));
        text.push_str("\n```python\nfrom workflows import DAG\n\nwith DAG(\"example\") as dag:\n    run = task()\n```\n\n");
        text.push_str("| Version | Python | Platform |\n|---------|--------|----------|\n| 2.9.2 | 3.8, 3.9, 3.10, 3.11 | AMD64/ARM64 |\n\n");
    }
    text
}

/// The number of `Requires-Dist` lines in [`large`].
pub fn large_requirement_count() -> usize {
    BASE.len()
        + 2 * EXTRAS
            .iter()
            .map(|(_, requirements)| requirements.len())
            .sum::<usize>()
}

/// The number of `Provides-Extra` lines in [`large`].
pub fn large_extra_count() -> usize {
    EXTRAS.len() + 1
}

/// A typical `METADATA`: an HTTP library with six dependencies and a 4 kB description.
pub fn typical() -> String {
    let mut rng = Rng::new(7);
    let mut text = String::from(
        "Metadata-Version: 2.1\nName: httplib\nVersion: 2.32.3\nSummary: Python HTTP for Humans.\nHome-page: https://code.example.invalid/httplib\nAuthor: Example Author\nAuthor-email: author@example.invalid\nLicense: Apache-2.0\nProject-URL: Documentation, https://docs.example.invalid/httplib\nClassifier: Development Status :: 5 - Production/Stable\nClassifier: License :: OSI Approved :: Apache Software License\nClassifier: Programming Language :: Python :: 3\nRequires-Python: >=3.8\nDescription-Content-Type: text/markdown\nLicense-File: LICENSE\nRequires-Dist: charset-normalizer<4,>=2\nRequires-Dist: idna<4,>=2.5\nRequires-Dist: urllib3<3,>=1.21.1\nRequires-Dist: certifi>=2017.4.17\nProvides-Extra: socks\nRequires-Dist: PySocks!=1.5.7,>=1.5.6; extra == \"socks\"\nProvides-Extra: use-chardet-on-py3\nRequires-Dist: chardet<6,>=3.0.2; extra == \"use-chardet-on-py3\"\n\n# httplib\n\n",
    );
    text.push_str(&prose(&mut rng, 600));
    text
}

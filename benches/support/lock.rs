//! A large `pylock.toml`, modeled on the lock of a web monolith: 140 packages, a third of them
//! with binary wheels for 5 CPython versions × 10 platforms (50 wheels), the others with one
//! pure-Python wheel; every package has an sdist, and every file a URL with a hash directory,
//! a size, a sha256 and an upload time with microseconds, as the default index gives them.
//! About 1.1 MB, the size of the sample project `large`'s lock.
//!
//! The text is written by tack's own writer (see [`text`]), so it is a lock tack would write.

use std::fmt::Write as _;
use std::path::Path;

use tack::lock::Lock;

use super::{sha256_hex, Rng, PLATFORMS, PYTHONS};

const PACKAGES: usize = 140;
const FILE_HOST: &str = "https://files.example.invalid/packages";

/// What a correct read of the lock must find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockFacts {
    pub packages: usize,
    pub wheels: usize,
}

/// The facts of the generated lock.
pub fn facts() -> LockFacts {
    let binary = (0..PACKAGES).filter(|index| is_binary(*index)).count();
    LockFacts {
        packages: PACKAGES,
        wheels: binary * PYTHONS.len() * PLATFORMS.len() + (PACKAGES - binary),
    }
}

/// Every third package has binary wheels.
fn is_binary(index: usize) -> bool {
    index.is_multiple_of(3)
}

/// The text of the lock, as tack writes it.
pub fn text() -> String {
    let mut rng = Rng::new(751);
    let mut toml = String::from(
        "lock-version = \"1.0\"\nrequires-python = \">=3.9\"\ncreated-by = \"tack\"\n",
    );
    for index in 0..PACKAGES {
        let name = format!("package-{index:03}");
        let version = format!(
            "{}.{}.{}",
            rng.range(0, 30),
            rng.range(0, 20),
            rng.range(0, 10)
        );
        let _ = write!(
            toml,
            "\n[[packages]]\nname = \"{name}\"\nversion = \"{version}\"\nrequires-python = \">=3.9\"\n"
        );
        if index % 10 == 5 {
            toml.push_str("marker = \"sys_platform == 'linux'\"\n");
        }
        if index > 0 {
            let dependencies: Vec<String> = (0..rng.range(0, 6))
                .map(|_| format!("{{ name = \"package-{:03}\" }}", rng.range(0, index as u64)))
                .collect();
            let _ = writeln!(toml, "dependencies = [{}]", dependencies.join(", "));
        }
        let _ = writeln!(toml, "index = \"https://index.example.invalid/simple/\"");
        let stem = name.replace('-', "_");
        let sdist = file(&mut rng, &format!("{stem}-{version}.tar.gz"));
        let _ = writeln!(toml, "sdist = {sdist}");
        toml.push_str("wheels = [\n");
        let mut wheel_names = Vec::new();
        if is_binary(index) {
            for python in PYTHONS {
                for platform in PLATFORMS {
                    wheel_names.push(format!("{stem}-{version}-{python}-{python}-{platform}.whl"));
                }
            }
        } else {
            wheel_names.push(format!("{stem}-{version}-py3-none-any.whl"));
        }
        for wheel in wheel_names {
            let _ = writeln!(toml, "    {},", file(&mut rng, &wheel));
        }
        toml.push_str("]\n");
    }
    let lock = Lock::from_toml(&toml, Path::new("pylock.toml")).expect("the generated lock reads");
    lock.to_toml()
}

/// The inline table of one file named `name`.
fn file(rng: &mut Rng, name: &str) -> String {
    let digest = sha256_hex(name.as_bytes());
    format!(
        "{{ name = \"{name}\", upload-time = 2025-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z, url = \"{FILE_HOST}/{}/{}/{}/{name}\", size = {}, hashes = {{ sha256 = \"{digest}\" }} }}",
        rng.range(1, 13),
        rng.range(1, 29),
        rng.range(0, 24),
        rng.range(0, 60),
        rng.range(0, 60),
        rng.range(0, 1_000_000),
        &digest[..2],
        &digest[2..4],
        &digest[4..],
        rng.range(10_000, 20_000_000),
    )
}

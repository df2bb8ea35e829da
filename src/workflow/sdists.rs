//! Wheels built from sdists at sync time. So far: unpacking an sdist without trusting it.

mod unpack;

pub use unpack::{unpack_sdist, UnpackError};

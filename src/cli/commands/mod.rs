//! One orchestrating function per subcommand.

pub mod build;
pub mod lock;
pub mod sync;

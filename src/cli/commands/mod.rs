//! One orchestrating function per subcommand.

pub mod build;
pub mod export;
pub mod fetch;
pub mod lock;
pub mod sync;

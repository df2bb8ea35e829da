//! One orchestrating function per subcommand.

pub mod lock;
pub mod sync;

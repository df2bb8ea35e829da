//! The command line: arguments ([`args`]), settings (`settings`), output ([`printer`]),
//! error reports ([`diagnostics`]), and one orchestrating function per subcommand
//! (`commands`). This is the only module that prints, and the only one that uses `anyhow`.

pub mod args;
mod commands;
pub mod diagnostics;
pub mod printer;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use printer::Printer;

/// Parse the arguments, run the command, report any error, and return the exit code.
pub fn main() -> ExitCode {
    // A panic of `pep508_rs` that a guarded parse catches becomes an error, not a report.
    crate::pep508::install_quiet_panic_hook();
    let cli = Cli::parse();
    let printer = Printer::new(cli.global.quiet, cli.global.verbose, cli.global.no_color);
    init_tracing(cli.global.verbose, cli.global.quiet, &printer);
    let result = match &cli.command {
        Command::Lock(args) => commands::lock::lock(args, &cli.global, &printer),
        Command::Sync(args) => commands::sync::sync(args, &cli.global, &printer),
    };
    match result {
        Ok(status) => status.into(),
        Err(error) => {
            let (text, status) = diagnostics::render(&error, &printer);
            printer.error(&text);
            status.into()
        }
    }
}

/// `-v` shows tack's debug log on stderr, `-vv` everything down to trace; `TACK_LOG` (an
/// `env_logger`-style filter) overrides both. An invalid `TACK_LOG` is ignored with a warning.
fn init_tracing(verbose: u8, quiet: u8, printer: &Printer) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn",
        (_, 1) => "tack=debug,warn",
        _ => "tack=trace,info",
    };
    let filter = settings::log_filter(printer).unwrap_or_else(|| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(printer.color())
        .with_target(false)
        .without_time()
        .try_init();
}

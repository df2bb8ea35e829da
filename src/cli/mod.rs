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
    install_panic_handler();
    let cli = Cli::parse();
    // A way for tests to prove the panic handler works; not in release builds.
    #[cfg(debug_assertions)]
    assert!(
        std::env::var_os("TACK_DEBUG_PANIC").is_none(),
        "`TACK_DEBUG_PANIC` is set"
    );
    let printer = Printer::from_args(&cli.global);
    init_tracing(cli.global.verbose, cli.global.quiet, &printer);
    let result = match &cli.command {
        Command::Lock(args) => commands::lock::lock(args, &cli.global, &printer),
        Command::Sync(args) => commands::sync::sync(args, &cli.global, &printer),
        Command::Build(args) => commands::build::build(args, &cli.global, &printer),
        Command::Export(args) => commands::export::export(args, &cli.global, &printer),
        Command::Fetch(args) => commands::fetch::fetch(args, &cli.global, &printer),
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

/// A panic anywhere (any thread) is a bug in tack: it is reported as one, with where it
/// happened, and the process exits with code 2 at once. The one exception is a panic of
/// `pep508_rs` inside a guarded parse ([`crate::pep508`]), which that parse turns into an error.
fn install_panic_handler() {
    use std::io::Write as _;
    std::panic::set_hook(Box::new(|info| {
        if crate::pep508::inside_guarded_parse() {
            return;
        }
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let location = info.location().map_or_else(
            || "an unknown place".to_string(),
            |location| format!("{}:{}", location.file(), location.line()),
        );
        let _ = writeln!(
            std::io::stderr(),
            "error: tack stopped on an internal error; this is a bug in tack\n  Caused by: {message}\n  at {location}\nhint: please report it with the command you ran and its output with `-vv` (`RUST_BACKTRACE=1` adds a backtrace)"
        );
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|value| value != "0") {
            let _ = writeln!(
                std::io::stderr(),
                "{}",
                std::backtrace::Backtrace::force_capture()
            );
        }
        std::process::exit(2);
    }));
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
        .event_format(LogFormat {
            printer: printer.clone(),
        })
        .try_init();
}

/// Log lines as the rest of the output looks: a warning or error from the library reads like
/// the printer's (`warning: ...`), the debug log keeps its level (`DEBUG ...`).
struct LogFormat {
    printer: Printer,
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for LogFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = *event.metadata().level();
        let label = match level {
            tracing::Level::ERROR => self.printer.red(&self.printer.bold("error")) + ":",
            tracing::Level::WARN => self.printer.warning_label() + ":",
            other => other.to_string(),
        };
        write!(writer, "{label} ")?;
        tracing_subscriber::fmt::FormatFields::format_fields(context, writer.by_ref(), event)?;
        writeln!(writer)
    }
}

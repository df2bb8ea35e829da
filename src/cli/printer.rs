//! All output goes through the [`Printer`]: status lines and progress on stderr, never
//! mixed with data; colour only on a terminal and never when `NO_COLOR` is set; `-q` leaves
//! errors only.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone)]
pub struct Printer {
    quiet: bool,
    verbose: u8,
    color: bool,
    terminal: bool,
}

impl Printer {
    pub fn new(quiet: u8, verbose: u8, no_color: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let color = terminal && !no_color && std::env::var_os("NO_COLOR").is_none();
        Self {
            quiet: quiet > 0,
            verbose,
            color,
            terminal,
        }
    }

    /// Whether output may use ANSI colours.
    pub fn color(&self) -> bool {
        self.color
    }

    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// A status line (stderr), silenced by `-q`.
    pub fn status(&self, line: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    }

    /// `warning`, in the colour warnings have.
    pub fn warning_label(&self) -> String {
        self.paint("1;33", "warning")
    }

    /// A warning (stderr), silenced by `-q`.
    pub fn warn(&self, line: &str) {
        if !self.quiet {
            let label = self.warning_label();
            let _ = writeln!(std::io::stderr(), "{label}: {line}");
        }
    }

    /// An error report (stderr), always shown.
    pub fn error(&self, text: &str) {
        let _ = writeln!(std::io::stderr(), "{text}");
    }

    /// A progress bar over `total` bytes.
    fn bytes_progress(&self, total: u64, message: &str) -> Progress {
        if self.quiet || !self.terminal {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(message.to_string());
        Progress(Some(bar))
    }

    /// A progress bar over `total` items.
    fn count_progress(&self, total: u64, message: &str) -> Progress {
        if self.quiet || !self.terminal || total == 0 {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(message.to_string());
        Progress(Some(bar))
    }

    /// A spinner with a message, drawn only on a terminal and when not quiet.
    fn spinner(&self, message: &str) -> Spinner {
        if self.quiet || !self.terminal {
            return Spinner(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(80));
        Spinner(Some(bar))
    }
}

/// A byte-counting progress bar (downloads), drawn only on a terminal and when not quiet.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn inc(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// A running spinner; cleared when dropped.
struct Spinner(Option<ProgressBar>);

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl crate::workflow::Progress for Progress {
    fn inc(&self, amount: u64) {
        Progress::inc(self, amount);
    }

    fn finish(&self) {
        Progress::finish(self);
    }
}

/// The workflows' progress, drawn by this printer.
impl crate::workflow::Reporter for Printer {
    fn resolving(&self) -> Box<dyn std::any::Any> {
        Box::new(self.spinner("Resolving dependencies..."))
    }

    fn warning(&self, message: &str) {
        self.warn(message);
    }

    fn waiting_for_venv(&self, venv: &std::path::Path) {
        self.status(&format!(
            "Waiting for another tack to finish with `{}`...",
            venv.display()
        ));
    }

    fn downloading(&self, packages: usize, bytes: u64) -> Arc<dyn crate::workflow::Progress> {
        Arc::new(self.bytes_progress(bytes, &format!("Downloading {packages} packages")))
    }

    fn building(&self, packages: usize) -> Box<dyn std::any::Any> {
        Box::new(self.spinner(&format!("Building {packages} packages from source...")))
    }

    fn building_project(&self, step: crate::workflow::build::BuildStep) {
        use crate::workflow::build::BuildStep;
        self.status(match step {
            BuildStep::Sdist => "Building sdist...",
            BuildStep::Wheel => "Building wheel...",
            BuildStep::WheelFromSdist => "Building wheel from sdist...",
            BuildStep::SdistAndWheel => "Building sdist and wheel...",
        });
    }

    fn installing(&self, packages: usize) -> Arc<dyn crate::workflow::Progress> {
        Arc::new(self.count_progress(packages as u64, "Installing"))
    }
}

/// `0.41s`, `12ms`, `1m 2s`: short, human durations for summaries.
pub fn elapsed(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis < 60_000 {
        format!("{:.2}s", duration.as_secs_f64())
    } else {
        let secs = duration.as_secs();
        format!("{}m {}s", secs / 60, secs % 60)
    }
}

/// `1 package`, `2 packages`.
pub fn packages(count: usize) -> String {
    if count == 1 {
        "1 package".to_string()
    } else {
        format!("{count} packages")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(elapsed(Duration::from_millis(12)), "12ms");
        assert_eq!(elapsed(Duration::from_millis(410)), "410ms");
        assert_eq!(elapsed(Duration::from_millis(1234)), "1.23s");
        assert_eq!(elapsed(Duration::from_secs(62)), "1m 2s");
    }
}

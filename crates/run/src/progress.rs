//! What a person sees while a run goes: one line per phase (a spinner with a live message on a
//! terminal, via indicatif), finished with its duration; without a terminal (CI, pipes) plain
//! lines, with the live message repeated every few seconds so logs show the run moving.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain (non-terminal) status line is repeated.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// The phase lines of one run.
pub struct Progress {
    multi: Option<MultiProgress>,
    bar: Option<ProgressBar>,
    phase: String,
    since: Instant,
    last_plain: Instant,
    quiet: bool,
}

impl Progress {
    /// Spinners on a terminal, plain lines otherwise; nothing at all when `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let tty = !quiet && std::io::stderr().is_terminal();
        Progress {
            multi: tty.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bar: None,
            phase: String::new(),
            since: Instant::now(),
            last_plain: Instant::now(),
            quiet,
        }
    }

    /// Ends the current phase (if any) and begins `name`.
    pub fn phase(&mut self, name: &str) {
        self.end_phase(true);
        self.phase = name.to_owned();
        self.since = Instant::now();
        self.last_plain = Instant::now();
        match &self.multi {
            Some(m) => {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:<10} {elapsed:>4} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(name.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bar = Some(bar);
            }
            None if !self.quiet => eprintln!("wb run: {name} …"),
            None => {}
        }
    }

    /// The live message of the current phase.
    pub fn status(&mut self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_owned()),
            None if !self.quiet && self.last_plain.elapsed() >= PLAIN_EVERY => {
                self.last_plain = Instant::now();
                eprintln!(
                    "wb run: {} {:>4.0}s {msg}",
                    self.phase,
                    self.since.elapsed().as_secs_f64()
                );
            }
            None => {}
        }
    }

    /// A line above the phase lines.
    pub fn println(&self, msg: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(msg);
            }
            None if !self.quiet => eprintln!("wb run: {msg}"),
            None => {}
        }
    }

    /// Ends the current phase, marked done or failed.
    pub fn end_phase(&mut self, ok: bool) {
        if self.phase.is_empty() {
            return;
        }
        let mark = if ok { "✓" } else { "✗" };
        let took = format!("{:.1}s", self.since.elapsed().as_secs_f64());
        match self.bar.take() {
            Some(b) => {
                b.set_style(
                    ProgressStyle::with_template("{prefix:<12} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                b.set_prefix(format!("{mark} {}", self.phase));
                let msg = b.message();
                b.finish_with_message(format!("{took:>6} {msg}"));
            }
            None if !self.quiet => eprintln!("wb run: {mark} {} ({took})", self.phase),
            None => {}
        }
        self.phase.clear();
    }
}

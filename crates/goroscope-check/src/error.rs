//! Why a check could not decide. Every error is exit status 2: the check did not get as far
//! as a verdict, and says where it stopped and what the service or workload printed.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// The last lines a process wrote, and the file holding all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputTail {
    /// What the stream was: `stdout`, `stderr`, `output` (both).
    pub stream: String,
    pub file: PathBuf,
    /// The last lines (at most [`crate::process::TAIL_LINES`] lines and 4 KiB), control
    /// characters replaced; empty when the process wrote nothing.
    pub text: String,
}

impl fmt::Display for OutputTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.trim().is_empty() {
            return write!(
                f,
                "  its {}: (empty) ({})",
                self.stream,
                self.file.display()
            );
        }
        writeln!(
            f,
            "  its {} (last lines; all of it in {}):",
            self.stream,
            self.file.display()
        )?;
        let mut first = true;
        for l in self.text.trim_end().lines() {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "    {l}")?;
        }
        Ok(())
    }
}

fn tails(t: &[OutputTail]) -> String {
    t.iter()
        .map(|t| format!("\n{t}"))
        .collect::<Vec<_>>()
        .join("")
}

/// Why a check stopped before a verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The options make no sense (names the flag).
    #[error("{0}")]
    Invalid(String),
    /// The output directory could not be made.
    #[error("cannot create the output directory {path}: {source}")]
    OutputDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `sh` could not be run to start the service.
    #[error("cannot start the service (sh -c …): {source}")]
    StartService {
        #[source]
        source: io::Error,
    },
    /// The started service exited on its own.
    #[error("the service exited {when} ({status}){}", tails(.output))]
    ServiceExited {
        /// `before it was ready`, `during run 2`, …
        when: String,
        status: String,
        output: Vec<OutputTail>,
    },
    /// Readiness did not come in time.
    #[error("the service was not ready within {timeout:?}: {last}{}", tails(.output))]
    NotReady {
        timeout: Duration,
        /// The last attempt's failure.
        last: String,
        output: Vec<OutputTail>,
    },
    /// A snapshot could not be taken.
    #[error("cannot read the goroutines of {target}: {message}")]
    Probe { target: String, message: String },
    /// The workload could not be started.
    #[error("cannot start the workload `{program}`: {source}")]
    WorkloadStart {
        program: String,
        #[source]
        source: io::Error,
    },
    /// The workload exited with a failure: no verdict (its output says why).
    #[error("the workload failed in run {run} ({status}); no verdict\n{tail}")]
    WorkloadFailed {
        run: u32,
        status: String,
        tail: OutputTail,
    },
    /// The workload ran longer than allowed and was stopped.
    #[error("the workload did not finish within {timeout:?} in run {run}; it was stopped; no verdict\n{tail}")]
    WorkloadTimeout {
        run: u32,
        timeout: Duration,
        tail: OutputTail,
    },
    /// SIGINT, SIGTERM or SIGHUP arrived (see [`crate::stop_on_signals`]); the service and
    /// workload were stopped.
    #[error("interrupted by {0}; the service and the workload were stopped")]
    Interrupted(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl CheckError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        CheckError::Io {
            context: context.into(),
            source,
        }
    }

    /// The exit status of a check that ended in this error: always 2.
    pub fn exit_code(&self) -> u8 {
        2
    }
}

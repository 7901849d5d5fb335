//! Test harness for the Go fixture programs in `fixtures/go/<name>/main.go`.
//!
//! Each fixture is a small stdlib-only Go program that sets up one goroutine pattern (a leak, or
//! a healthy service), waits until its goroutines are really parked, and prints three lines on
//! stdout:
//!
//! ```text
//! ADDR 127.0.0.1:PORT        net/http/pprof of the fixture
//! EXPECT {json}              what the program knows about its goroutines (see [`Expect`])
//! READY
//! ```
//!
//! The harness finds the Go releases installed by `scripts/install-go.sh` ([`toolchains`]),
//! builds each fixture once per test process ([`build`]), starts it and waits for READY with a
//! timeout ([`Fixture::start`], never a fixed sleep), and takes dumps of every form: any
//! `/debug/pprof` URL over a keep-alive HTTP/1.1 connection ([`Fixture::fetch`]), the runtime's
//! SIGQUIT dump ([`Fixture::sigquit`]) and a `GOTRACEBACK=all` panic ([`run_panic`]).

mod build;
mod expect;
mod fixture;
pub mod http;
pub mod relations;
mod testdata;
mod toolchain;

pub use relations::{ExpectMember, ExpectObject, ExpectRelation};
// What the relation fixtures reuse of the fixture runner.
pub(crate) use fixture::command;

pub use build::{build, build_with, fixture_names, BuildOptions};
pub use expect::{Expect, ExpectSite};
pub use fixture::{
    run_panic, Crash, Fixture, StartOptions, EXIT_TIMEOUT, FETCH_TIMEOUT, HTTP_MACHINERY,
    READY_TIMEOUT,
};
pub use testdata::{shared_dir, shared_testdata};
pub use toolchain::{
    extra_toolchains, go_command, installed_toolchains, repo_root, toolchain, toolchains,
    Toolchain, GO_VERSIONS,
};

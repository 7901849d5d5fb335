//! Regenerates `src/layouts_gen.rs` from the toolchains in `.toolchains/` (install them with
//! `scripts/install-go.sh`; more releases can be added with `GOROSCOPE_EXTRA_TOOLCHAINS=DIR`).
//! Rows of releases not installed now are kept. Usage:
//! `cargo run -p goroscope-attach --example gen_layouts`.

mod gen;

fn main() {
    let crate_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = crate_dir.join("../..");
    let tcs = gen::table_toolchains();
    if tcs.is_empty() {
        eprintln!(
            "no toolchains in {}/.toolchains: run scripts/install-go.sh",
            repo.display()
        );
        std::process::exit(2);
    }
    let work = std::env::temp_dir().join("goroscope-gen-layouts");
    let out = crate_dir.join("src/layouts_gen.rs");
    let existing = std::fs::read_to_string(&out).unwrap_or_default();
    match gen::generate(&tcs, &work, &existing) {
        Ok(text) => {
            std::fs::write(&out, text).expect("write layouts_gen.rs");
            eprintln!("wrote {} ({} toolchains)", out.display(), tcs.len());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

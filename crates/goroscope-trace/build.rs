//! Compiles the BPF program with clang and generates its libbpf-rs skeleton, only with the
//! `ebpf` feature (the default build needs no clang).

fn main() {
    println!("cargo:rerun-if-changed=src/bpf/trace.bpf.c");
    println!("cargo:rerun-if-env-changed=CLANG");
    #[cfg(feature = "ebpf")]
    ebpf::build();
}

#[cfg(feature = "ebpf")]
mod ebpf {
    use std::path::PathBuf;

    /// `$CLANG`, else the first of `clang`, `clang-19` … `clang-14` on the PATH.
    fn clang() -> PathBuf {
        if let Some(c) = std::env::var_os("CLANG") {
            return c.into();
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        let names = [
            "clang", "clang-19", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14",
        ];
        for n in names {
            for dir in std::env::split_paths(&path) {
                let p = dir.join(n);
                if p.is_file() {
                    return p;
                }
            }
        }
        panic!(
            "the `ebpf` feature compiles src/bpf/trace.bpf.c with clang, and none was found on the PATH \
             (tried {}); install clang (Debian: apt-get install clang-14) or set CLANG",
            names.join(", ")
        );
    }

    pub fn build() {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
        assert_eq!(arch, "x86_64", "the BPF program reads x86-64 registers");
        libbpf_cargo::SkeletonBuilder::new()
            .source("src/bpf/trace.bpf.c")
            .clang(clang())
            // asm/types.h lives in the multiarch include directory on Debian.
            .clang_args(["-I/usr/include/x86_64-linux-gnu", "-D__TARGET_ARCH_x86"])
            .build_and_generate(out.join("trace.skel.rs"))
            .unwrap_or_else(|e| panic!("building the BPF program: {e:#}"));
    }
}

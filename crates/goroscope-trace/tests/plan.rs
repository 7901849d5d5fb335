//! Probe placement on real binaries of every installed Go release, plain, stripped and PIE:
//! every probe on an instruction the kernel emulates, in the function the runtime uses for the
//! event, at a file offset holding the very bytes decoded. No privileges needed.

mod common;

use goroscope_attach::binary::GoBinary;
use goroscope_fixtures::{build_with, toolchains, BuildOptions};
use goroscope_trace::plan::{emulated, plan, Reg, Role};

#[test]
fn probes_sit_on_emulated_instructions_in_every_release_and_build() {
    for tc in toolchains() {
        for build in [
            BuildOptions::default(),
            BuildOptions {
                stripped: true,
                ..Default::default()
            },
            BuildOptions {
                pie: true,
                stripped: true,
                ..Default::default()
            },
        ] {
            let path = build_with("trace_churn", &tc, build);
            let ctx = format!("go {} {}", tc.version, path.display());
            let bin = GoBinary::load(&path).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let file = std::fs::read(&path).unwrap();
            let p = plan(&bin, true).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            for probe in &p.probes {
                assert!(
                    emulated(&probe.bytes).is_some(),
                    "{ctx}: {probe:?} is not emulated"
                );
                let at = probe.file_offset as usize;
                assert_eq!(
                    &file[at..at + probe.bytes.len()],
                    &probe.bytes[..],
                    "{ctx}: {probe:?}: the file offset holds other bytes"
                );
            }
            let creates: Vec<_> = p.of(Role::Create).collect();
            assert_eq!(creates.len(), 1, "{ctx}: {creates:?}");
            assert_eq!(creates[0].function, "runtime.newproc1");
            let exit: Vec<_> = p.of(Role::Exit).collect();
            assert_eq!(exit.len(), 1, "{ctx}");
            let want = if tc.minor() >= 22 {
                "runtime.gdestroy"
            } else {
                "runtime.goexit0"
            };
            assert_eq!(exit[0].function, want, "{ctx}");
            assert_eq!(exit[0].instruction, "push rbp", "{ctx}");
            assert_eq!(exit[0].g_reg, Reg::Rax);
            let park: Vec<_> = p.of(Role::Park).collect();
            assert_eq!(
                (
                    park[0].function.as_str(),
                    park[0].instruction.as_str(),
                    park[0].g_reg
                ),
                ("runtime.gopark", "push rbp", Reg::R14),
                "{ctx}"
            );
            // Never the stack-bound check at the entry (single-stepped, 25–36 µs a hit).
            assert!(p
                .probes
                .iter()
                .all(|p| p.role == Role::Create || p.offset > 0 || p.instruction == "push rbp"));
            eprintln!(
                "{ctx}: create at newproc1+{:#x} ({}, g in {:?}), exit at {}+{:#x}",
                creates[0].offset,
                creates[0].instruction,
                creates[0].g_reg,
                exit[0].function,
                exit[0].offset
            );
        }
    }
}

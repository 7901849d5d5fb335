//! Prints a snapshot of a pid (or a core with `--core CORE [EXE]`) as debug=2-like text.
//! `cargo run -p goroscope-attach --example attach -- PID [--pause] [--system]`

use goroscope_attach::{attach_pid, read_core, AttachOptions};
use goroscope_model::Snapshot;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = AttachOptions {
        pause: args.iter().any(|a| a == "--pause"),
        system: args.iter().any(|a| a == "--system"),
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let snap = if args.first().map(|s| s.as_str()) == Some("--core") {
        read_core(
            std::path::Path::new(&args[1]),
            args.get(2)
                .filter(|a| !a.starts_with("--"))
                .map(std::path::Path::new),
            &opts,
        )
    } else {
        attach_pid(args[0].parse().expect("pid"), &opts)
    };
    let el = t.elapsed();
    match snap {
        Ok(s) => {
            print_snapshot(&s);
            eprintln!("{} goroutines in {:?}", s.goroutines.len(), el);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

fn print_snapshot(s: &Snapshot) {
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    for g in &s.goroutines {
        let mut st = s.str(g.state).to_string();
        if let Some(m) = g.wait_minutes {
            st += &format!(", {m} minutes");
        }
        if g.locked_to_thread {
            st += ", locked to thread";
        }
        let labels: Vec<String> = s
            .labels(g.labels)
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let l = if labels.is_empty() {
            String::new()
        } else {
            format!(" {{{}}}", labels.join(", "))
        };
        println!("goroutine {} [{st}]{l}:", g.goid);
        if g.stack_unavailable {
            println!("\tgoroutine running on other thread; stack unavailable");
        }
        for (i, &f) in s.stack(g.stack).iter().enumerate() {
            if let goroscope_model::Elision::Count(n) = g.elided {
                if i == 50 {
                    println!("...{n} frames elided...");
                }
            }
            let fr = s.frame(f);
            let off = fr.offset.map(|o| format!(" +{o:#x}")).unwrap_or_default();
            println!(
                "{}({})\n\t{}:{}{off}",
                s.str(fr.function),
                if fr.inlined { "..." } else { "" },
                s.str(fr.file),
                fr.line
            );
        }
        if let Some(c) = g.created_by {
            let fr = s.frame(c);
            let inn = g
                .creator_goid
                .map(|g| format!(" in goroutine {g}"))
                .unwrap_or_default();
            let off = fr.offset.map(|o| format!(" +{o:#x}")).unwrap_or_default();
            println!(
                "created by {}{inn}\n\t{}:{}{off}",
                s.str(fr.function),
                s.str(fr.file),
                fr.line
            );
        }
        println!();
    }
}

//! What the command-line tests share: the binary, the example dump, a tiny HTTP server.
#![allow(dead_code)]

use assert_cmd::Command;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A real Go 1.27 debug=2 dump with 7 proven leaks and a suspect.
pub fn example() -> PathBuf {
    repo().join("examples/dumps/leaky-go127.debug2.txt")
}

/// The binary, with no log level, colour or width from the caller's environment.
pub fn goroscope() -> Command {
    let mut c = Command::cargo_bin("goroscope").unwrap();
    c.env_remove("GOROSCOPE_LOG")
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1");
    c
}

/// A one-thread HTTP server on 127.0.0.1 answering request `i` (counted from 0) with
/// `answer(i, request_line)` as (status, body), until the test process ends.
pub fn serve(answer: impl Fn(usize, &str) -> (u16, String) + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (i, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let (status, body) = answer(i, &request);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

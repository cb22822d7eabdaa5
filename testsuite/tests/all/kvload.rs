//! kvload, the load checker, against both kvstore builds, and against a
//! server that answers wrongly (it must notice).

use std::path::Path;
use std::time::Duration;

use lucc_testsuite::build::Compiler;
use lucc_testsuite::client::LineClient;
use lucc_testsuite::run::run;
use lucc_testsuite::server::Server;

use crate::common::*;

fn kvload(port: u16) -> lucc_testsuite::run::RunOutput {
    let exe = Path::new(env!("CARGO_BIN_EXE_kvload"));
    let port = port.to_string();
    run(exe, &["--port", &port, "--conns", "4", "--seconds", "1", "--keys", "20"], &[], Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e:#}"))
}

fn shutdown(server: Server) {
    let mut c = LineClient::connect(server.port).expect("connect");
    assert_eq!(c.request("SHUTDOWN").expect("SHUTDOWN"), "BYE");
    let (status, stderr) = server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(status.success(), "server exited with {status}: {stderr}");
}

#[test]
fn kvload_verifies_both_kvstore_builds_under_load() {
    for compiler in [Compiler::Cc, Compiler::Lucc] {
        let server = Server::start(&built(KVSTORE, compiler).exe, &[]).unwrap_or_else(|e| panic!("{e:#}"));
        let out = kvload(server.port);
        assert!(out.status.success(), "{} build under load: {}\n{}", compiler.label(), out.stdout, out.stderr);
        assert!(out.stdout.contains("errors: 0  dropped: 0"), "{}", out.stdout);
        shutdown(server);
    }
}

#[test]
fn kvload_fails_against_a_server_that_answers_wrongly() {
    // The chat server answers every kvstore request with an error line.
    let server = Server::start(&built(CHAT, Compiler::Cc).exe, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let out = kvload(server.port);
    assert!(!out.status.success(), "kvload accepted wrong answers: {}", out.stdout);
    assert!(out.stderr.contains("expected"), "{}", out.stderr);
}

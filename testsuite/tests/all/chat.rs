//! chat: batch and TCP equivalence of the cc and lucc builds, and what the
//! sidecar says about its state.

use anyhow::Result;
use lucc_testsuite::build::Compiler;
use lucc_testsuite::client::LineClient;
use lucc_testsuite::server::Server;
use lucc_testsuite::sidecar_checks::Expect::{self, *};

use crate::common::*;

#[test]
fn chat_script_same_output() {
    let script = input("chat/scripts/basic.txt");
    batch_same_output(CHAT, &["--script", path_str(&script)], "chat/scripts/basic.expected");
}

/// Sends `req` on client `c` and reads up to its reply, collecting the MSG
/// lines pushed to `c` before it. A push is written before the sender's own
/// reply, so once a SAY is answered its pushes are already in the other
/// clients' sockets and the transcript does not depend on timing.
fn chat_request(t: &mut Vec<String>, conns: &mut [LineClient], c: usize, req: &str) -> Result<()> {
    conns[c].send(req)?;
    loop {
        let line = conns[c].read_line()?;
        let push = line.starts_with("MSG ");
        t.push(format!("{c}{} {line}", if push { "<" } else { ">" }));
        if !push {
            return Ok(());
        }
    }
}

fn chat_session(port: u16) -> Result<Vec<String>> {
    let mut t = Vec::new();
    let mut conns: Vec<LineClient> = (0..3).map(|_| LineClient::connect(port)).collect::<Result<_>>()?;
    let steps: &[(usize, &str)] = &[
        (0, "NICK alice"),
        (1, "NICK bob"),
        (2, "NICK alice"),
        (2, "NICK carol"),
        (0, "SAY too early"),
        (0, "JOIN lobby"),
        (1, "JOIN lobby"),
        (2, "JOIN dev"),
        (0, "SAY hello bob"),
        (1, "SAY hi alice"),
        (0, "WHO"),
        (2, "WHO"),
        (2, "HIST"),
        (2, "JOIN lobby"),
        (2, "SAY carol here"),
        (0, "HIST"),
        (1, "WHO"),
        (1, "QUIT"),
        (0, "WHO"),
        (0, "FROB"),
    ];
    for &(c, req) in steps {
        chat_request(&mut t, &mut conns, c, req)?;
    }
    t.push(format!("1 closed: {}", conns[1].is_closed()?));
    // A nick is free again once its owner left.
    let mut d = vec![LineClient::connect(port)?];
    chat_request(&mut t, &mut d, 0, "NICK bob")?;
    chat_request(&mut t, &mut conns, 2, "SHUTDOWN")?;
    Ok(t)
}

fn chat_session_on(compiler: Compiler) -> Vec<String> {
    let exe = built(CHAT, compiler).exe;
    let server = Server::start(&exe, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let transcript = chat_session(server.port).unwrap_or_else(|e| panic!("{} build: {e:#}", compiler.label()));
    let (status, stderr) = server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(status.success(), "{} server exited with {status}: {stderr}", compiler.label());
    transcript
}

#[test]
fn chat_tcp_same_responses() {
    let cc = chat_session_on(Compiler::Cc);
    for line in [
        "2> ERR nick in use",
        "0> ERR join a room first",
        "1< MSG lobby alice: hello bob",
        "0< MSG lobby bob: hi alice",
        "0> WHO lobby: alice bob",
        "2> HIST (empty)",
        "0< MSG lobby carol: carol here",
        "0> HIST alice: hello bob | bob: hi alice | carol: carol here",
        "1> WHO lobby: alice bob carol",
        "0> WHO lobby: alice carol",
        "1 closed: true",
        "0> OK nick bob",
        "2> BYE",
    ] {
        assert!(cc.iter().any(|l| l == line), "cc transcript lacks {line:?}:\n{}", cc.join("\n"));
    }
    let lucc = chat_session_on(Compiler::Lucc);
    assert_eq!(lucc, cc, "lucc build answered differently from the cc build");
}

/// chat allocates through xmalloc/xcalloc, which add no header.
const CHAT_STATE: &[Expect] = &[
    Global { name: "chat", ty: "struct chat" },
    Global { name: "handlers", ty: "struct handler [7]" },
    Site { function: "userNew", callee: "xcalloc", ty: Some("struct user"), offset: 0, via: &["xcalloc", "calloc"] },
    Site { function: "roomFindOrCreate", callee: "xcalloc", ty: Some("struct room"), offset: 0, via: &["xcalloc", "calloc"] },
    Field { ty: "struct room", field: "history", field_ty: "struct ring", bit_size: None },
    Field { ty: "struct ring", field: "items", field_ty: "char *[8]", bit_size: None },
    Wrapper { name: "xmalloc", inner: "malloc", offset: 0 },
    Wrapper { name: "xcalloc", inner: "calloc", offset: 0 },
    Wrapper { name: "xrealloc", inner: "realloc", offset: 0 },
    Wrapper { name: "xstrdup", inner: "xmalloc", offset: 0 },
];

#[test]
fn chat_sidecar_names_what_the_source_says() {
    assert_expectations(CHAT, CHAT_STATE);
}

/// Strings are allocation sites of their own, in the function that asks for
/// them: a history entry is made in `cmdSay`, a nick in `userSetNick`, a
/// room name in `roomFindOrCreate`. They hold characters, so the type is
/// `char` (bytes that are never pointers, whatever they look like).
const CHAT_STRING_SITES: &[Expect] = &[
    Site { function: "cmdSay", callee: "xmalloc", ty: Some("char"), offset: 0, via: &["xmalloc", "malloc"] },
    Site { function: "userSetNick", callee: "xstrdup", ty: Some("char"), offset: 0, via: &["xstrdup", "xmalloc", "malloc"] },
    Site { function: "roomFindOrCreate", callee: "xstrdup", ty: Some("char"), offset: 0, via: &["xstrdup", "xmalloc", "malloc"] },
];

#[test]
fn chat_string_sites_in_their_callers() {
    assert_expectations(CHAT, CHAT_STRING_SITES);
}

//! kvstore: batch and TCP equivalence of the cc and lucc builds, what the
//! sidecar says about its state, and where its live heap objects come from.

use anyhow::Result;
use lucc_abi::sidecar::Sidecar;
use lucc_testsuite::build::Compiler;
use lucc_testsuite::client::LineClient;
use lucc_testsuite::heap_report;
use lucc_testsuite::server::Server;
use lucc_testsuite::sidecar_checks::Expect::{self, *};

use crate::common::*;

#[test]
fn kvstore_script_same_output() {
    let script = input("kvstore/scripts/basic.txt");
    batch_same_output(KVSTORE, &["--script", path_str(&script)], "kvstore/scripts/basic.expected");
}

/// One session over several connections, interleaved so that each sees the
/// others' writes; returns a transcript "conn> request -> reply".
fn kv_session(port: u16) -> Result<Vec<String>> {
    let mut t = Vec::new();
    let mut conns: Vec<LineClient> = (0..3).map(|_| LineClient::connect(port)).collect::<Result<_>>()?;
    let steps: &[(usize, &str)] = &[
        (0, "PING"),
        (0, "SET x 1"),
        (1, "GET x"),
        (2, "INCR x"),
        (0, "GET x"),
        (1, "APPEND x y"),
        (2, "GET x"),
        (2, "INCR x"),
        (0, "SET greeting hello"),
        (1, "APPEND greeting _world"),
        (2, "KEYS"),
        (0, "DEL x"),
        (1, "GET x"),
        (2, "DBSIZE"),
        (1, "bogus"),
        (0, "SET"),
    ];
    for &(c, req) in steps {
        t.push(format!("{c}> {req} -> {}", conns[c].request(req)?));
    }
    // A value far larger than one read, to grow the buffers.
    let big = "z".repeat(20000);
    t.push(format!("0> SET big <20000> -> {}", conns[0].request(&format!("SET big {big}"))?));
    let got = conns[1].request("GET big")?;
    t.push(format!("1> GET big -> {} bytes, intact: {}", got.len(), got == big));
    // Pipelined: many requests in one write, replies in order.
    let batch: String = (0..50).map(|i| format!("INCR ctr\nSET k{i} {i}\n")).collect();
    conns[2].send(batch.trim_end())?;
    for i in 0..100 {
        t.push(format!("2> pipelined {i} -> {}", conns[2].read_line()?));
    }
    // A closed connection's struct goes to the free list and is reused.
    t.push(format!("2> QUIT -> {}", conns[2].request("QUIT")?));
    t.push(format!("2> closed: {}", conns[2].is_closed()?));
    let mut d = LineClient::connect(port)?;
    t.push(format!("3> GET k49 -> {}", d.request("GET k49")?));
    t.push(format!("3> STATS -> {}", d.request("STATS")?));
    t.push(format!("0> SHUTDOWN -> {}", conns[0].request("SHUTDOWN")?));
    Ok(t)
}

fn kv_session_on(compiler: Compiler) -> Vec<String> {
    let exe = built(KVSTORE, compiler).exe;
    let server = Server::start(&exe, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let transcript = kv_session(server.port).unwrap_or_else(|e| panic!("{} build: {e:#}", compiler.label()));
    let (status, stderr) = server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(status.success(), "{} server exited with {status}: {stderr}", compiler.label());
    transcript
}

#[test]
fn kvstore_tcp_same_responses() {
    let cc = kv_session_on(Compiler::Cc);
    for line in [
        "1> GET x -> 1",
        "2> INCR x -> 2",
        "1> APPEND x y -> 2",
        "2> INCR x -> ERR value is not an integer",
        "2> KEYS -> greeting x",
        "1> GET x -> (nil)",
        "1> GET big -> 20000 bytes, intact: true",
        "2> pipelined 99 -> OK",
        "2> closed: true",
        "3> GET k49 -> 49",
        "0> SHUTDOWN -> BYE",
    ] {
        assert!(cc.iter().any(|l| l == line), "cc transcript lacks {line:?}:\n{}", cc.join("\n"));
    }
    assert!(cc.iter().any(|l| l.starts_with("3> STATS -> requests:121 connections:4 ")), "{}", cc.join("\n"));
    let lucc = kv_session_on(Compiler::Lucc);
    assert_eq!(lucc, cc, "lucc build answered differently from the cc build");
}

/// What a reader of kvstore's source expects lucc to know about its state.
/// sds strings are allocated as a `struct sdshdr` (the header the bytes
/// follow), 8 bytes into the block (zmalloc's size prefix); the program
/// points 16 bytes further, into `buf`.
const KVSTORE_STATE: &[Expect] = &[
    Global { name: "server", ty: "struct server" },
    Global { name: "cmdTable", ty: "struct command [12]" },
    Global { name: "dbDictType", ty: "struct dictType" },
    Global { name: "used_memory", ty: "unsigned long" },
    Global { name: "dict_hash_function_seed", ty: "uint8_t [16]" },
    StaticLocal { function: "processCommand", name: "nreq", ty: "long long" },
    Site { function: "createObject", callee: "zmalloc", ty: Some("struct kvobj"), offset: 8, via: &["zmalloc", "malloc"] },
    Site { function: "createConn", callee: "zmalloc", ty: Some("struct conn"), offset: 8, via: &["zmalloc", "malloc"] },
    Site { function: "sdsnewlen", callee: "zmalloc", ty: Some("struct sdshdr"), offset: 8, via: &["zmalloc", "malloc"] },
    Site { function: "listAddNodeTail", callee: "zmalloc", ty: Some("struct listNode"), offset: 8, via: &["zmalloc", "malloc"] },
    Site { function: "listCreate", callee: "zmalloc", ty: Some("struct list"), offset: 8, via: &["zmalloc", "malloc"] },
    Wrapper { name: "zmalloc", inner: "malloc", offset: 8 },
    Wrapper { name: "zstrdup", inner: "zmalloc", offset: 0 },
];

#[test]
fn kvstore_sidecar_names_what_the_source_says() {
    assert_expectations(KVSTORE, KVSTORE_STATE);
}

/// sds growth reallocates the header struct through zrealloc, a wrapper of
/// realloc with the same 8-byte size prefix as zmalloc.
const KVSTORE_REALLOC_SITES: &[Expect] = &[
    Site { function: "sdsMakeRoomFor", callee: "zrealloc", ty: Some("struct sdshdr"), offset: 8, via: &["zrealloc", "realloc"] },
    Wrapper { name: "zrealloc", inner: "realloc", offset: 8 },
];

#[test]
fn kvstore_sds_growth_site_through_zrealloc() {
    assert_expectations(KVSTORE, KVSTORE_REALLOC_SITES);
}

/// The hash table allocates through its own `_dictAlloc` (dict.c), which
/// calls `zmalloc` (zmalloc.c, another unit), which calls malloc: the sites
/// are in dictCreate and dictAdd, typed where their result is used.
const KVSTORE_DICT_SITES: &[Expect] = &[
    Site { function: "dictCreate", callee: "_dictAlloc", ty: Some("struct dict"), offset: 8, via: &["_dictAlloc", "zmalloc", "malloc"] },
    Site { function: "dictAdd", callee: "_dictAlloc", ty: Some("struct dictEntry"), offset: 8, via: &["_dictAlloc", "zmalloc", "malloc"] },
    Wrapper { name: "_dictAlloc", inner: "zmalloc", offset: 0 },
];

#[test]
fn kvstore_dict_sites_typed_through_dictalloc() {
    assert_expectations(KVSTORE, KVSTORE_DICT_SITES);
    // And at run time the table's objects are attributed to those sites.
    let (sc, report) = kv_heap_report();
    for ty in ["struct dict", "struct dictEntry"] {
        let live = heap_report::entries_of_type(&sc, &report, ty);
        assert!(live.iter().any(|(_, e)| e.offset == 8 && e.count > 0), "no live {ty} objects at offset 8: {report:?}");
    }
}

/// Runs the lucc build as a server with a heap report, stores data over
/// TCP, shuts it down, and returns its sidecar and report.
fn kv_heap_report() -> (Sidecar, Vec<heap_report::HeapEntry>) {
    let exe = built(KVSTORE, Compiler::Lucc).exe;
    let dir = tempfile::tempdir().expect("temp dir");
    let report_path = dir.path().join("heap.jsonl");
    let server = Server::start(&exe, &[("LUCC_HEAP_REPORT", path_str(&report_path))]).unwrap_or_else(|e| panic!("{e:#}"));
    let session = || -> Result<()> {
        let mut a = LineClient::connect(server.port)?;
        let mut b = LineClient::connect(server.port)?;
        for i in 0..20 {
            assert_eq!(a.request(&format!("SET s{i} value-{i}"))?, "OK");
        }
        for i in 0..5 {
            assert_eq!(b.request(&format!("INCR n{i}"))?, "1");
        }
        assert_eq!(b.request("QUIT")?, "BYE");
        assert_eq!(a.request("SHUTDOWN")?, "BYE");
        Ok(())
    };
    session().unwrap_or_else(|e| panic!("{e:#}"));
    let (status, stderr) = server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(status.success(), "server exited with {status}: {stderr}");
    let report = heap_report::read(&report_path).unwrap_or_else(|e| panic!("{e:#}"));
    (sidecar_of(KVSTORE), report)
}

#[test]
fn kvstore_heap_report_attributes_live_objects_to_outer_sites() {
    let (sc, report) = kv_heap_report();
    let count = |ty: &str| -> u64 { heap_report::entries_of_type(&sc, &report, ty).iter().map(|(_, e)| e.count).sum() };
    // 20 string values and 5 counters.
    assert!(count("struct kvobj") >= 25, "kvobj objects: {}; report {report:?}", count("struct kvobj"));
    // 25 keys, 20 values, and each connection's two buffers.
    assert!(count("struct sdshdr") >= 45, "sds objects: {}; report {report:?}", count("struct sdshdr"));
    // Both connections are closed but stay on the free list.
    assert!(count("struct conn") >= 2, "conn objects: {}; report {report:?}", count("struct conn"));
    // Everything kvstore allocates goes through zmalloc: a typed object is
    // always 8 bytes into its block.
    for e in &report {
        let site = sc.site(e.site as u32).unwrap_or_else(|| panic!("report names site {} the sidecar lacks", e.site));
        if site.ty.is_some() {
            assert_eq!(e.offset, 8, "site {site:?} has live objects at offset {}", e.offset);
        }
    }
}

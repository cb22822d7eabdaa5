//! Live update of the testsuite's real servers: kvstore v1 <-> v2 and chat
//! -> chat_v2 (what changes and what an update must carry is listed in
//! programs/kvstore/CHANGES.md and programs/chat_v2/CHANGES.md). Each test
//! runs the lucc build as a server, builds state over real connections,
//! keeps them open across `lucc update`, and then checks on those same
//! connections that the new version serves them with the old state; the
//! last one does it under load, 50 times in a row.

#[path = "update_support.rs"]
pub mod update_support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use lucc_testsuite::build::{programs_dir, Compiler};
use lucc_testsuite::client::LineClient;
use lucc_testsuite::server::Server;

use crate::common::{built, CHAT, EXIT_TIMEOUT, KVSTORE};
use update_support::*;

const KVSTORE_V2: (&str, &str) = ("kvstore/v2", "kvstore");
const CHAT_V2: (&str, &str) = ("chat_v2", "chat");

fn exe(program: (&str, &str)) -> PathBuf {
    built(program, Compiler::Lucc).exe
}

/// The old process ends at the commit. (Not `Server::wait_exit`: that also
/// waits for the end of the server's output, which the successor inherited.)
fn old_process_exited(pid: u32) {
    wait_gone(pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("the old process after the commit: {e:#}"));
}

/// The transform file an update from kvstore v2 back to v1 needs.
fn v2_to_v1_transform() -> PathBuf {
    programs_dir().join("kvstore/v2_to_v1.toml")
}

fn ask(c: &mut LineClient, req: &str) -> String {
    c.request(req).unwrap_or_else(|e| panic!("{req:?}: {e:#}"))
}

fn expect(c: &mut LineClient, req: &str, want: &str, what: &str) {
    assert_eq!(ask(c, req), want, "{what}: {req:?}");
}

/// Opens `n` connections one after the other, each answering a PING before
/// the next connects, so the server numbers them 1..=n in this order.
fn connect_in_order(port: u16, n: usize) -> Vec<LineClient> {
    (0..n)
        .map(|_| {
            let mut c = LineClient::connect(port).unwrap_or_else(|e| panic!("{e:#}"));
            expect(&mut c, "PING", "PONG", "a new connection");
            c
        })
        .collect()
}

/// A 20000-byte value of varied bytes: far larger than one read, so the
/// query and reply buffers grow, and any byte moved or lost shows.
fn big_value() -> String {
    (0..20000).map(|i| (b'a' + ((i * 7 + i / 26) % 26) as u8) as char).collect()
}

/// kvstore state built over three connections with the commands both
/// releases know; returns nothing, every reply is checked as it comes.
fn build_kv_state(conns: &mut [LineClient]) {
    let steps: &[(usize, &str, &str)] = &[
        (0, "SET greeting hello", "OK"),
        (1, "APPEND greeting _world", "11"),
        (2, "INCR visits", "1"),
        (0, "INCR visits", "2"),
        (1, "SET n 41", "OK"),
        (2, "INCR n", "42"),
        (0, "APPEND log a", "1"),
        (1, "APPEND log b", "2"),
        (2, "SET gone soon", "OK"),
        (0, "DEL gone", "1"),
        (1, "GET missing", "(nil)"),
        (2, "bogus", "ERR unknown command 'bogus'"),
        (0, "SET", "ERR wrong number of arguments for 'SET'"),
    ];
    for &(c, req, want) in steps {
        expect(&mut conns[c], req, want, &format!("building state on connection {c}"));
    }
    let big = big_value();
    expect(&mut conns[0], &format!("SET big {big}"), "OK", "the big value");
    assert!(ask(&mut conns[1], "GET big") == big, "GET big before the update is not the value SET");
    // Pipelined: many requests in one write, replies in order.
    let batch: String = (0..30).map(|i| format!("SET k{i} value-{i}\nINCR ctr\n")).collect();
    conns[2].send(batch.trim_end()).unwrap_or_else(|e| panic!("{e:#}"));
    for i in 0..30 {
        assert_eq!(conns[2].read_line().unwrap_or_else(|e| panic!("{e:#}")), "OK", "pipelined SET k{i}");
        assert_eq!(conns[2].read_line().unwrap_or_else(|e| panic!("{e:#}")), (i + 1).to_string(), "pipelined INCR ctr");
    }
}

/// Every key and its value, read with KEYS and GET.
fn kv_values(c: &mut LineClient) -> BTreeMap<String, String> {
    let keys = ask(c, "KEYS");
    keys.split_whitespace().map(|k| (k.to_string(), ask(c, &format!("GET {k}")))).collect()
}

/// STATS as name -> number.
fn kv_stats(c: &mut LineClient) -> BTreeMap<String, i64> {
    let stats = ask(c, "STATS");
    stats
        .split_whitespace()
        .map(|item| {
            let (k, v) = item.split_once(':').unwrap_or_else(|| panic!("STATS item {item:?} in {stats:?}"));
            (k.to_string(), v.parse().unwrap_or_else(|_| panic!("STATS item {item:?} in {stats:?}")))
        })
        .collect()
}

/// `before` as it reads after one more STATS request (the only request
/// between the two readings).
fn after_one_stats(before: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    let mut s = before.clone();
    *s.get_mut("requests").expect("STATS has requests") += 1;
    *s.entry("STATS".into()).or_insert(0) += 1;
    s
}

/// Differences between two value maps, at most a few, with long values
/// shortened.
fn value_diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let short = |v: Option<&String>| v.map(|s| if s.len() > 40 { format!("{}... ({} bytes)", &s[..40], s.len()) } else { s.clone() });
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .take(5)
        .map(|k| format!("{k}: {:?} vs {:?}", short(a.get(k)), short(b.get(k))))
        .collect()
}

fn assert_values_equal(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>, what: &str) {
    let diff = value_diff(before, after);
    assert!(diff.is_empty(), "{what}: values differ (before vs after): {diff:?}");
}

#[test]
fn kvstore_v1_to_v2_carries_state_and_connections() {
    let (v1, v2) = (exe(KVSTORE), exe(KVSTORE_V2));
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let (port, old_pid) = (server.port, server.pid());
    let mut conns = connect_in_order(port, 3);
    build_kv_state(&mut conns);
    for c in conns.iter_mut() {
        expect(c, "VERSION", "v1", "before the update");
    }
    let values = kv_values(&mut conns[1]);
    assert_eq!(values.len(), 36, "keys before the update: {:?}", values.keys().collect::<Vec<_>>());
    let stats = kv_stats(&mut conns[0]);

    let up = lucc_update(old_pid, &v2, None);
    let new_pid = up.committed_pid("kvstore v1 -> v2");
    let _guard = Updated(new_pid);
    old_process_exited(old_pid);

    // The first request after the update: every counter where it was.
    assert_eq!(kv_stats(&mut conns[0]), after_one_stats(&stats), "STATS after the update (first request)");
    for (i, c) in conns.iter_mut().enumerate() {
        let what = format!("old connection {i} after the update");
        expect(c, "VERSION", "v2", &what);
        // cmds was added by v2 and starts at 0; it counts every request
        // since, CONNINFO itself included (connection 0 also sent STATS).
        let cmds = if i == 0 { 3 } else { 2 };
        expect(c, "CONNINFO", &format!("id:{} cmds:{cmds} created_ms:0", i + 1), &what);
    }
    // Carried values were never looked up by v2 (accesses is new, 0).
    for k in ["greeting", "big", "k0", "n"] {
        expect(&mut conns[2], &format!("FREQ {k}"), "0", "a carried value's FREQ");
    }
    assert_values_equal(&values, &kv_values(&mut conns[2]), "kvstore v1 -> v2");
    expect(&mut conns[2], "FREQ greeting", "1", "FREQ after one GET by v2");
    expect(&mut conns[0], "INCR visits", "3", "a carried counter");
    expect(&mut conns[1], "APPEND greeting !", "12", "a carried string");
    let info = ask(&mut conns[1], "INFO");
    assert!(info.starts_with("version:v2 uptime_ms:") && info.ends_with(" rejected:0"), "INFO after the update: {info:?}");

    // A connection accepted by v2 is numbered after the old ones and has
    // its creation time.
    let mut fresh = LineClient::connect(port).unwrap_or_else(|e| panic!("{e:#}"));
    let info = ask(&mut fresh, "CONNINFO");
    let created: i64 = info
        .strip_prefix("id:4 cmds:1 created_ms:")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("CONNINFO on a connection accepted by v2: {info:?}"));
    assert!(created > 0, "{info}");
    assert_serves_connections(new_pid, port, 4, "after kvstore v1 -> v2");

    expect(&mut fresh, "QUIT", "BYE", "cleanup");
    expect(&mut conns[0], "SHUTDOWN", "BYE", "cleanup");
    wait_gone(new_pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("after SHUTDOWN: {e:#}"));
}

/// kvstore v2 with state built over three connections, v2's own commands
/// included. Each connection's last request is one v1 knows too: a
/// connection remembers its last command as a pointer into cmdTable, and a
/// pointer to one of the three entries v1 drops would have nothing to
/// point to.
fn v2_with_state() -> (Server, Vec<LineClient>) {
    let server = Server::start(&exe(KVSTORE_V2), &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let mut conns = connect_in_order(server.port, 3);
    build_kv_state(&mut conns);
    expect(&mut conns[0], "FREQ greeting", "1", "v2's FREQ (APPEND found it once)");
    let info = ask(&mut conns[1], "INFO");
    assert!(info.ends_with(" rejected:2"), "v2's INFO: {info:?}");
    for (i, c) in conns.iter_mut().enumerate() {
        expect(c, "VERSION", "v2", "before the update");
        let info = ask(c, "CONNINFO");
        assert!(info.starts_with(&format!("id:{} ", i + 1)), "CONNINFO on connection {i}: {info:?}");
        expect(c, "PING", "PONG", "the last request before the update");
    }
    (server, conns)
}

#[test]
fn kvstore_v2_to_v1_with_transform_carries_state_back() {
    let v1 = exe(KVSTORE);
    let (server, mut conns) = v2_with_state();
    let (port, old_pid) = (server.port, server.pid());
    let values = kv_values(&mut conns[1]);
    let stats = kv_stats(&mut conns[0]);

    let transform = v2_to_v1_transform();
    let up = lucc_update(old_pid, &v1, Some(&transform));
    let new_pid = up.committed_pid("kvstore v2 -> v1 with v2_to_v1.toml");
    let _guard = Updated(new_pid);
    old_process_exited(old_pid);

    // v1's STATS lists v1's commands only: v2's entries were dropped, and
    // the three v2 commands counted so far go with them.
    let mut want = after_one_stats(&stats);
    want.retain(|k, _| !["CONNINFO", "FREQ", "INFO"].contains(&k.as_str()));
    assert_eq!(kv_stats(&mut conns[0]), want, "STATS after the update back to v1 (first request)");
    for (i, c) in conns.iter_mut().enumerate() {
        let what = format!("old connection {i} after the update to v1");
        expect(c, "VERSION", "v1", &what);
        expect(c, "CONNINFO", "ERR unknown command 'CONNINFO'", &what);
    }
    assert_values_equal(&values, &kv_values(&mut conns[2]), "kvstore v2 -> v1");
    expect(&mut conns[0], "INCR visits", "3", "a carried counter");
    expect(&mut conns[1], "APPEND greeting !", "12", "a carried string");
    // next_conn_id came back: a new connection is the fourth.
    let mut fresh = LineClient::connect(port).unwrap_or_else(|e| panic!("{e:#}"));
    let stats = kv_stats(&mut fresh);
    assert_eq!(stats.get("connections"), Some(&4), "STATS on a connection accepted by v1: {stats:?}");
    assert_serves_connections(new_pid, port, 4, "after kvstore v2 -> v1");

    expect(&mut fresh, "QUIT", "BYE", "cleanup");
    expect(&mut conns[0], "SHUTDOWN", "BYE", "cleanup");
    wait_gone(new_pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("after SHUTDOWN: {e:#}"));
}

#[test]
fn kvstore_v2_to_v1_without_transform_rolls_back() {
    let v1 = exe(KVSTORE);
    let (server, mut conns) = v2_with_state();
    let (port, pid) = (server.port, server.pid());
    let values = kv_values(&mut conns[1]);
    let conninfo: Vec<String> = conns.iter_mut().map(|c| ask(c, "CONNINFO")).collect();
    let stats = kv_stats(&mut conns[0]);

    let up = lucc_update(pid, &v1, None);
    let reason = up.rollback_reason("kvstore v2 -> v1 without a transform file");
    assert!(reason.contains("cmdTable"), "the reason does not name cmdTable: {}", up.describe());

    // v2 serves on as if nothing happened: same process, same answers,
    // counters moved only by the requests asked since.
    assert!(!process_gone(pid), "the old process is gone after a rollback: {}", up.describe());
    assert_eq!(kv_stats(&mut conns[0]), after_one_stats(&stats), "STATS after the rollback (first request)");
    for (i, c) in conns.iter_mut().enumerate() {
        let what = format!("connection {i} after the rollback");
        expect(c, "VERSION", "v2", &what);
        // CONNINFO's count went on: the requests since the last CONNINFO,
        // this one included (connection 0 also sent two STATS).
        let (id, before) = conninfo[i].split_once(" cmds:").expect("CONNINFO format");
        let (n, created) = before.split_once(' ').expect("CONNINFO format");
        let n: i64 = n.parse().expect("cmds is a number");
        let since = if i == 0 { 4 } else { 2 };
        expect(c, "CONNINFO", &format!("{id} cmds:{} {created}", n + since), &what);
    }
    assert_values_equal(&values, &kv_values(&mut conns[2]), "kvstore v2 after the rollback");
    assert_serves_connections(pid, port, 3, "after the rollback");

    expect(&mut conns[0], "SHUTDOWN", "BYE", "cleanup");
    let (status, stderr) = server.wait_exit(EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(status.success(), "v2 exited with {status}: {stderr}");
}

/// Sends a chat request and reads up to its reply; returns the MSG lines
/// pushed to this connection before the reply, and the reply.
fn chat_ask(c: &mut LineClient, req: &str) -> (Vec<String>, String) {
    c.send(req).unwrap_or_else(|e| panic!("{req:?}: {e:#}"));
    let mut pushes = Vec::new();
    loop {
        let line = c.read_line().unwrap_or_else(|e| panic!("{req:?}: {e:#}"));
        if !line.starts_with("MSG ") {
            return (pushes, line);
        }
        pushes.push(line);
    }
}

/// Asks and checks a request that expects no pushes before its reply.
fn chat_expect(c: &mut LineClient, req: &str, want: &str, what: &str) {
    let (pushes, reply) = chat_ask(c, req);
    assert!(pushes.is_empty(), "{what}: {req:?}: unexpected pushes {pushes:?}");
    assert_eq!(reply, want, "{what}: {req:?}");
}

/// HIST's reply for these messages (each "nick: text").
fn hist(messages: &[String]) -> String {
    format!("HIST {}", messages.join(" | "))
}

#[test]
fn chat_to_chat_v2_carries_users_rooms_and_history() {
    let (v1, v2) = (exe(CHAT), exe(CHAT_V2));
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let (port, old_pid) = (server.port, server.pid());
    let mut conns: Vec<LineClient> = (0..3).map(|_| LineClient::connect(port).unwrap_or_else(|e| panic!("{e:#}"))).collect();
    let (alice, bob, carol) = (0, 1, 2);
    for (c, nick, room) in [(alice, "alice", "lobby"), (bob, "bob", "lobby"), (carol, "carol", "dev")] {
        chat_expect(&mut conns[c], &format!("NICK {nick}"), &format!("OK nick {nick}"), "before the update");
        chat_expect(&mut conns[c], &format!("JOIN {room}"), &format!("OK joined {room}"), "before the update");
    }
    // Ten lobby messages: v1's ring keeps the last 8.
    let mut lobby: Vec<String> = Vec::new();
    for i in 1..=10 {
        chat_expect(&mut conns[alice], &format!("SAY m{i}"), "OK", "before the update");
        lobby.push(format!("alice: m{i}"));
    }
    let dev: Vec<String> = vec!["carol: d1".into(), "carol: d2".into()];
    chat_expect(&mut conns[carol], "SAY d1", "OK", "before the update");
    chat_expect(&mut conns[carol], "SAY d2", "OK", "before the update");
    let (pushes, reply) = chat_ask(&mut conns[bob], "HIST");
    let want_pushes: Vec<String> = lobby.iter().map(|m| format!("MSG lobby {m}")).collect();
    assert_eq!(pushes, want_pushes, "bob's pushes before the update");
    assert_eq!(reply, hist(&lobby[2..]), "v1's HIST keeps the last 8");
    let views = |conns: &mut Vec<LineClient>| -> Vec<String> {
        let mut v = Vec::new();
        for c in conns.iter_mut() {
            for req in ["WHO", "HIST"] {
                let (pushes, reply) = chat_ask(c, req);
                assert!(pushes.is_empty(), "{req}: unexpected pushes {pushes:?}");
                v.push(reply);
            }
        }
        v
    };
    let before = views(&mut conns);
    assert_eq!(before[0], "WHO lobby: alice bob");
    assert_eq!(before[5], hist(&dev));
    for c in conns.iter_mut() {
        chat_expect(c, "VERSION", "VERSION v1", "before the update");
    }

    let up = lucc_update(old_pid, &v2, None);
    let new_pid = up.committed_pid("chat -> chat_v2");
    let _guard = Updated(new_pid);
    old_process_exited(old_pid);

    for (c, me) in [(alice, "ME alice lobby said:0"), (bob, "ME bob lobby said:0"), (carol, "ME carol dev said:0")] {
        let what = format!("{me:?}'s connection after the update");
        chat_expect(&mut conns[c], "VERSION", "VERSION v2", &what);
        // said is new in v2: carried users start at 0.
        chat_expect(&mut conns[c], "ME", me, &what);
    }
    assert_eq!(views(&mut conns), before, "WHO and HIST on every connection, before vs after the update");

    // v2's ring takes over v1's: nine more messages make sixteen, the
    // last sixteen said, pushed to bob on his old connection.
    for i in 1..=9 {
        chat_expect(&mut conns[alice], &format!("SAY n{i}"), "OK", "after the update");
        lobby.push(format!("alice: n{i}"));
    }
    let (pushes, reply) = chat_ask(&mut conns[bob], "HIST");
    let want_pushes: Vec<String> = lobby[10..].iter().map(|m| format!("MSG lobby {m}")).collect();
    assert_eq!(pushes, want_pushes, "bob's pushes after the update");
    assert_eq!(reply, hist(&lobby[lobby.len() - 16..]), "v2's HIST after nine more messages");
    chat_expect(&mut conns[alice], "ME", "ME alice lobby said:9", "after the update");
    chat_expect(&mut conns[carol], "HIST", &hist(&dev), "after the update");

    // The users table came along: alice's nick is still taken.
    let mut dave = LineClient::connect(port).unwrap_or_else(|e| panic!("{e:#}"));
    chat_expect(&mut dave, "NICK alice", "ERR nick in use", "a new connection");
    chat_expect(&mut dave, "NICK dave", "OK nick dave", "a new connection");
    chat_expect(&mut dave, "JOIN lobby", "OK joined lobby", "a new connection");
    chat_expect(&mut dave, "WHO", "WHO lobby: alice bob dave", "a new connection");
    chat_expect(&mut dave, "HIST", &hist(&lobby[lobby.len() - 16..]), "a new connection");
    assert_serves_connections(new_pid, port, 4, "after chat -> chat_v2");

    chat_expect(&mut dave, "QUIT", "BYE", "cleanup");
    let (_, bye) = chat_ask(&mut conns[carol], "SHUTDOWN");
    assert_eq!(bye, "BYE");
    wait_gone(new_pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("after SHUTDOWN: {e:#}"));
}

/// How many load connections, and how many keys of each kind each owns.
const LOAD_CONNS: usize = 4;
const LOAD_KEYS: usize = 16;
const UPDATES: usize = 50;
/// Requests on each load connection before the first update.
const WARMUP: u64 = 2000;

/// Keys of about 500 bytes set before the load starts (see the test).
const PRELOAD_KEYS: usize = 12000;

fn preloaded_value(i: usize) -> String {
    format!("{i}:{}", "p".repeat(500))
}

/// Sets PRELOAD_KEYS keys of about 500 bytes, pipelined.
fn preload(c: &mut LineClient) {
    let batch: String = (0..PRELOAD_KEYS).map(|i| format!("SET P{i} {}\n", preloaded_value(i))).collect();
    c.send(batch.trim_end()).unwrap_or_else(|e| panic!("{e:#}"));
    for i in 0..PRELOAD_KEYS {
        assert_eq!(c.read_line().unwrap_or_else(|e| panic!("{e:#}")), "OK", "preloading P{i}");
    }
}

/// Reads every preloaded key back, pipelined.
fn check_preloaded(c: &mut LineClient) {
    let batch: String = (0..PRELOAD_KEYS).map(|i| format!("GET P{i}\n")).collect();
    c.send(batch.trim_end()).unwrap_or_else(|e| panic!("{e:#}"));
    for i in 0..PRELOAD_KEYS {
        let got = c.read_line().unwrap_or_else(|e| panic!("{e:#}"));
        assert!(got == preloaded_value(i), "preloaded key P{i} after the last update: {:.60}", got);
    }
}

/// xorshift64: a deterministic request mix per connection.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One load connection: SET, GET, INCR and APPEND on keys only it writes,
/// every reply checked against its own model of them (kvload's check, with
/// APPEND added and values up to a few kB, so buffers grow and shrink).
struct Loader {
    id: usize,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    strings: Vec<Option<String>>,
    counters: Vec<i64>,
    /// The first few mismatches, verbatim.
    errors: Vec<String>,
    mismatches: u64,
}

impl Loader {
    fn connect(port: u16, id: usize) -> Result<Loader> {
        let stream = TcpStream::connect(("127.0.0.1", port)).context("connecting a load connection")?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Loader {
            id,
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
            strings: vec![None; LOAD_KEYS],
            counters: vec![0; LOAD_KEYS],
            errors: Vec::new(),
            mismatches: 0,
        })
    }

    /// One request and its reply line; an error only when the connection
    /// fails (a dropped connection ends the load).
    fn request(&mut self, req: &str) -> Result<String> {
        self.writer.write_all(format!("{req}\n").as_bytes()).with_context(|| format!("load connection {}: sending {req:.60}", self.id))?;
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).with_context(|| format!("load connection {}: reading the reply to {req:.60}", self.id))?;
        if n == 0 {
            bail!("load connection {}: closed by the server at {req:.60}", self.id);
        }
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    }

    fn check(&mut self, req: &str, got: &str, want: &str) -> bool {
        if got == want {
            return true;
        }
        self.mismatches += 1;
        if self.errors.len() < 5 {
            self.errors.push(format!("conn {}: {req:.60}: expected {want:.60}, got {got:.60}", self.id));
        }
        false
    }

    fn step(&mut self, rng: &mut Rng, seq: u64) -> Result<()> {
        let k = (rng.next() % LOAD_KEYS as u64) as usize;
        let id = self.id;
        match rng.next() % 4 {
            0 => {
                // Mostly short values, now and then a few kB.
                let len = if rng.next() % 8 == 0 { 1000 + (rng.next() % 3000) as usize } else { 1 + (rng.next() % 40) as usize };
                let v: String = format!("c{id}q{seq}-").chars().chain(std::iter::repeat('x')).take(len.max(8)).collect();
                let req = format!("SET L{id}s{k} {v}");
                let got = self.request(&req)?;
                if self.check(&req, &got, "OK") {
                    self.strings[k] = Some(v);
                }
            }
            1 => {
                let req = format!("GET L{id}s{k}");
                let got = self.request(&req)?;
                let want = self.strings[k].clone().unwrap_or_else(|| "(nil)".into());
                self.check(&req, &got, &want);
            }
            2 => {
                let req = format!("INCR L{id}n{k}");
                let got = self.request(&req)?;
                if self.check(&req, &got, &(self.counters[k] + 1).to_string()) {
                    self.counters[k] += 1;
                }
            }
            _ => {
                // Kept short of the SETs' sizes: a value never grows
                // without bound.
                let cur = self.strings[k].clone().unwrap_or_default();
                if cur.len() > 5000 {
                    return Ok(());
                }
                let add = format!("+{seq}");
                let req = format!("APPEND L{id}s{k} {add}");
                let got = self.request(&req)?;
                let want = cur + &add;
                if self.check(&req, &got, &want.len().to_string()) {
                    self.strings[k] = Some(want);
                }
            }
        }
        Ok(())
    }

    /// Runs until `stop`, counting completed requests in `done`; then reads
    /// back every key it owns. An error is a dropped connection.
    fn run(&mut self, stop: &AtomicBool, done: &AtomicU64) -> Result<()> {
        let mut rng = Rng((self.id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut seq = 0;
        while !stop.load(Relaxed) {
            seq += 1;
            self.step(&mut rng, seq)?;
            done.fetch_add(1, Relaxed);
        }
        for k in 0..LOAD_KEYS {
            let req = format!("GET L{}s{k}", self.id);
            let got = self.request(&req)?;
            let want = self.strings[k].clone().unwrap_or_else(|| "(nil)".into());
            self.check(&format!("final {req}"), &got, &want);
            let req = format!("GET L{}n{k}", self.id);
            let got = self.request(&req)?;
            let want = if self.counters[k] == 0 { "(nil)".to_string() } else { self.counters[k].to_string() };
            self.check(&format!("final {req}"), &got, &want);
        }
        Ok(())
    }
}

/// Waits until every load connection has completed `more` requests beyond
/// `marks` (replies to requests sent after that point), or fails naming the
/// ones that did not.
fn wait_for_load(done: &[AtomicU64], marks: &[u64], more: u64, finished: &[AtomicBool], what: &str) {
    let start = Instant::now();
    loop {
        let behind: Vec<usize> = (0..done.len()).filter(|&i| done[i].load(Relaxed) < marks[i] + more).collect();
        if behind.is_empty() {
            return;
        }
        let dead: Vec<usize> = behind.iter().copied().filter(|&i| finished[i].load(Relaxed)).collect();
        assert!(dead.is_empty(), "{what}: load connections {dead:?} stopped");
        assert!(start.elapsed() < Duration::from_secs(10), "{what}: load connections {behind:?} got no {more} replies in 10 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn kvstore_fifty_updates_under_load() {
    let (v1, v2) = (exe(KVSTORE), exe(KVSTORE_V2));
    let transform = v2_to_v1_transform();
    let server = Server::start(&v1, &[]).unwrap_or_else(|e| panic!("{e:#}"));
    let port = server.port;
    // About 9 MB of state that every update carries: the load's own keys
    // alone are a few hundred kB, less than RSS varies between two
    // processes with the same state (measured: +-300 kB, mostly the
    // binary's pages), so a leak would not show against them.
    let mut setup = LineClient::connect(port).unwrap_or_else(|e| panic!("{e:#}"));
    preload(&mut setup);
    let mut loaders: Vec<Loader> = (0..LOAD_CONNS).map(|i| Loader::connect(port, i).unwrap_or_else(|e| panic!("{e:#}"))).collect();
    let stop = AtomicBool::new(false);
    let done: Vec<AtomicU64> = (0..LOAD_CONNS).map(|_| AtomicU64::new(0)).collect();
    let finished: Vec<AtomicBool> = (0..LOAD_CONNS).map(|_| AtomicBool::new(false)).collect();
    let started = Instant::now();
    let mut guard: Option<Updated> = None;
    let mut pid = server.pid();
    let (mut rss_first, mut rss_last) = (Rss::default(), Rss::default());
    let mut update_ms = Vec::new();
    // RSS after each update (after 2 replies on every connection, or 300
    // after the first and the last).
    let mut rss_trend = Vec::new();

    let outcomes: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = loaders
            .iter_mut()
            .enumerate()
            .map(|(i, l)| {
                let (stop, done, finished) = (&stop, &done[i], &finished[i]);
                s.spawn(move || {
                    let r = l.run(stop, done);
                    finished.store(true, Relaxed);
                    r
                })
            })
            .collect();
        // Whatever the updates do, the load threads are told to stop, so a
        // failed assertion below ends the test instead of hanging it.
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Relaxed);
            }
        }
        let _stop = StopOnDrop(&stop);
        // The keys' values reach their full range of sizes before the
        // first update, so that the heap is at its working size when RSS
        // is first read.
        let zero = vec![0; LOAD_CONNS];
        wait_for_load(&done, &zero, WARMUP, &finished, "before the first update");
        for n in 1..=UPDATES {
            let (target, tf, version) = if n % 2 == 1 { (&v2, None, "v2") } else { (&v1, Some(transform.as_path()), "v1") };
            let what = format!("update {n} (to {version})");
            let marks: Vec<u64> = done.iter().map(|d| d.load(Relaxed)).collect();
            let t = Instant::now();
            let up = lucc_update(pid, target, tf);
            update_ms.push(t.elapsed().as_millis());
            let new_pid = up.committed_pid(&what);
            wait_gone(pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("{what}: the old process: {e:#}"));
            guard = Some(Updated(new_pid));
            pid = new_pid;
            // Every connection is answered by the new version before the
            // next update; RSS is read once the load has run on it a while.
            let more = if n == 1 || n == UPDATES { 300 } else { 2 };
            wait_for_load(&done, &marks, more, &finished, &what);
            let rss = rss_kb(pid).unwrap_or_else(|e| panic!("{e:#}"));
            rss_trend.push(rss);
            if n == 1 {
                rss_first = rss;
            } else if n == UPDATES {
                rss_last = rss;
            }
        }
        stop.store(true, Relaxed);
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a load thread panicked")))).collect()
    });

    let requests: u64 = done.iter().map(|d| d.load(Relaxed)).sum();
    update_ms.sort_unstable();
    println!(
        "{UPDATES} updates under load in {:.1} s: {requests} requests on {LOAD_CONNS} connections; lucc update took {}..{} ms (median {}); VmRSS after update 1: {} kB, after update {UPDATES}: {} kB (RssAnon+RssShmem: {} kB and {} kB); VmRSS after each update: {:?}",
        started.elapsed().as_secs_f64(),
        update_ms.first().copied().unwrap_or(0),
        update_ms.last().copied().unwrap_or(0),
        update_ms.get(update_ms.len() / 2).copied().unwrap_or(0),
        rss_first.total,
        rss_last.total,
        rss_first.own,
        rss_last.own,
        rss_trend.iter().map(|r| r.total).collect::<Vec<_>>(),
    );
    for (i, r) in outcomes.iter().enumerate() {
        assert!(r.is_ok(), "load connection {i} dropped: {:#}", r.as_ref().err().expect("an error"));
    }
    let errors: Vec<&String> = loaders.iter().flat_map(|l| &l.errors).collect();
    let mismatches: u64 = loaders.iter().map(|l| l.mismatches).sum();
    assert_eq!(mismatches, 0, "wrong replies under load: {errors:?}");
    let final_version = if UPDATES % 2 == 1 { "v2" } else { "v1" };
    for l in loaders.iter_mut() {
        let got = l.request("VERSION").unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(got, final_version, "load connection {} after the last update", l.id);
    }
    check_preloaded(&mut setup);
    assert_serves_connections(pid, port, LOAD_CONNS + 1, "after the last update");
    // The preloaded keys dominate the heap and every update's transfer
    // touches them, so VmRSS after an update is mostly the carried state
    // (RssFile, the binary's and libraries' pages, varies by a few hundred
    // kB between identical processes). An update that leaked, the old
    // arena or a copy of the heap, would grow it by megabytes.
    let (first, last) = (rss_first.total, rss_last.total);
    let trend: Vec<u64> = rss_trend.iter().map(|r: &Rss| r.total).collect();
    assert!(
        last <= first + first / 10 && last + first / 10 >= first,
        "VmRSS after update {UPDATES} ({last} kB) is not within 10% of VmRSS after update 1 ({first} kB); after each update: {trend:?}"
    );

    for l in loaders.iter_mut() {
        assert_eq!(l.request("QUIT").unwrap_or_else(|e| panic!("{e:#}")), "BYE");
    }
    expect(&mut setup, "SHUTDOWN", "BYE", "cleanup");
    wait_gone(pid, EXIT_TIMEOUT).unwrap_or_else(|e| panic!("after SHUTDOWN: {e:#}"));
    drop(guard);
    drop(server);
}

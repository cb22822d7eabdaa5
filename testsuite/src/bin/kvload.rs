//! kvload: load generator and checker for the kvstore test server.
//!
//!   kvload --port P [--conns N] [--seconds S] [--keys K]
//!
//! Keeps N connections busy with SET, GET and INCR on keys of their own
//! (prefixed by a run id and the connection number, so nothing else writes
//! them) and checks every reply against what this client last wrote: a GET
//! must return the last value SET, an INCR the previous count plus one.
//! That makes it a correctness check under load as well as a benchmark, e.g.
//! while the server is being live-updated. Prints requests/s, errors and
//! p50/p99 latency; exits 1 on any wrong reply or dropped connection.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Args {
    port: u16,
    conns: usize,
    seconds: f64,
    keys: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { port: 0, conns: 4, seconds: 5.0, keys: 100 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--port" => args.port = value.parse().map_err(|_| bad)?,
            "--conns" => args.conns = value.parse().map_err(|_| bad)?,
            "--seconds" => args.seconds = value.parse().map_err(|_| bad)?,
            "--keys" => args.keys = value.parse().map_err(|_| bad)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if args.port == 0 || args.conns == 0 || args.keys == 0 {
        return Err("usage: kvload --port P [--conns N] [--seconds S] [--keys K]".into());
    }
    Ok(args)
}

#[derive(Default)]
struct ConnResult {
    latencies_us: Vec<u32>,
    errors: u64,
    dropped: bool,
}

/// xorshift64: deterministic per connection, no dependency needed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn run_conn(port: u16, id: usize, run: u64, keys: usize, deadline: Instant) -> ConnResult {
    let mut res = ConnResult::default();
    let fail = |res: &mut ConnResult, what: String| {
        if res.errors < 5 {
            eprintln!("kvload: conn {id}: {what}");
        }
        res.errors += 1;
    };
    let stream = match TcpStream::connect(("127.0.0.1", port)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kvload: conn {id}: connect: {e}");
            res.dropped = true;
            return res;
        }
    };
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = stream.try_clone().expect("clone a socket");
    let mut reader = BufReader::new(stream);
    let mut strings: Vec<Option<String>> = vec![None; keys];
    let mut counters: Vec<i64> = vec![0; keys];
    let mut rng = Rng((run ^ (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
    let mut seq = 0u64;
    let mut line = String::new();
    while Instant::now() < deadline {
        let k = (rng.next() % keys as u64) as usize;
        seq += 1;
        let (request, expect, update): (String, String, Option<String>) = match rng.next() % 3 {
            0 => {
                let v = format!("v{id}x{seq}");
                (format!("SET r{run}c{id}s{k} {v}"), "OK".into(), Some(v))
            }
            1 => (
                format!("GET r{run}c{id}s{k}"),
                strings[k].clone().unwrap_or_else(|| "(nil)".into()),
                None,
            ),
            _ => (format!("INCR r{run}c{id}n{k}"), (counters[k] + 1).to_string(), None),
        };
        let start = Instant::now();
        line.clear();
        let io = writer.write_all(format!("{request}\n").as_bytes()).and_then(|_| reader.read_line(&mut line));
        match io {
            Ok(0) | Err(_) => {
                eprintln!("kvload: conn {id}: connection lost at request {seq} ({request})");
                res.dropped = true;
                return res;
            }
            Ok(_) => {}
        }
        res.latencies_us.push(start.elapsed().as_micros().min(u32::MAX as u128) as u32);
        let got = line.trim_end();
        if got != expect {
            fail(&mut res, format!("{request}: expected {expect:?}, got {got:?}"));
        } else if let Some(v) = update {
            strings[k] = Some(v);
        } else if request.starts_with("INCR") {
            counters[k] += 1;
        }
    }
    line.clear();
    let bye = writer.write_all(b"QUIT\n").and_then(|_| reader.read_line(&mut line));
    if !matches!(bye, Ok(n) if n > 0 && line.trim_end() == "BYE") {
        fail(&mut res, format!("QUIT: expected \"BYE\", got {line:?}"));
    }
    res
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kvload: {e}");
            return ExitCode::from(2);
        }
    };
    let run = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) ^ std::process::id() as u64;
    let run = run % 1_000_000_007 + 1;
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.seconds);
    let results: Vec<ConnResult> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.conns)
            .map(|id| s.spawn(move || run_conn(args.port, id, run, args.keys, deadline)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| ConnResult { dropped: true, ..Default::default() })).collect()
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut lat: Vec<u32> = results.iter().flat_map(|r| r.latencies_us.iter().copied()).collect();
    lat.sort_unstable();
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    let dropped = results.iter().filter(|r| r.dropped).count();
    println!(
        "requests: {}  rate: {:.0}/s  errors: {}  dropped: {}  p50: {}us  p99: {}us",
        lat.len(),
        lat.len() as f64 / elapsed,
        errors,
        dropped,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99)
    );
    if errors > 0 || dropped > 0 || lat.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

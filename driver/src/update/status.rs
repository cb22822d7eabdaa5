//! `lucc status PID [--json]`: what a running lucc program says about
//! itself over its control socket (build id, uptime, live heap objects).

use std::ffi::OsString;

use lucc_abi::control::{Request, Response};

use super::{client, EXIT_ERROR, EXIT_REFUSED};

pub fn main(args: &[OsString]) -> i32 {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let json = args.iter().any(|a| a == "--json");
    let pids: Vec<&String> = args.iter().filter(|a| *a != "--json").collect();
    let [pid] = pids.as_slice() else {
        eprintln!("usage: lucc status PID [--json]");
        return EXIT_REFUSED;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        eprintln!("lucc status: bad PID {pid}");
        return EXIT_REFUSED;
    };
    let mut conn = match client::Conn::open(pid) {
        Ok(c) => c,
        Err(client::OpenError::Refused(e)) => {
            eprintln!("lucc status: {e}");
            return EXIT_REFUSED;
        }
        Err(client::OpenError::Other(e)) => {
            eprintln!("lucc status: {e}");
            return EXIT_ERROR;
        }
    };
    match conn.ask(&Request::Status) {
        Ok(Response::Status(s)) if json => {
            println!("{}", serde_json::to_string(&s).expect("status serialises"));
            0
        }
        Ok(Response::Status(s)) => {
            println!("pid {}\nbuild id {}\nuptime {:.1} s\nheap objects {}", s.pid, s.build_id, s.uptime_ms as f64 / 1000.0, s.heap_objects);
            0
        }
        Ok(other) => {
            eprintln!("lucc status: unexpected reply {other:?}");
            EXIT_ERROR
        }
        Err(e) => {
            eprintln!("lucc status: {e}");
            EXIT_ERROR
        }
    }
}

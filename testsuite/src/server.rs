//! A test program running as a server on 127.0.0.1.
//!
//! The server is started on port 0 and reports the port it got on its first
//! line of output ("listening on PORT"). A server must stop by itself when
//! told to (SHUTDOWN); one that does not is killed when its handle drops,
//! and `wait_exit` turns a hang into an error, so no test can hang on it.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

pub struct Server {
    child: Child,
    pub port: u16,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Server {
    /// Starts `exe --port 0` and waits (up to 10 s) for its port.
    pub fn start(exe: &Path, env: &[(&str, &str)]) -> Result<Server> {
        Server::start_with(exe, &[], env)
    }

    /// [`Server::start`] with more arguments after `--port 0`.
    pub fn start_with(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Server> {
        let mut child = Command::new(exe)
            .args(["--port", "0"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let mut reader = BufReader::new(stdout);
            let _ = tx.send(reader.read_line(&mut first).map(|_| first));
            // Keep draining so later output never blocks the server.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let mut server = Server { child, port: 0, stderr: Some(stderr) };
        let line = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(e).context("reading the server's first line"),
            Err(_) => bail!("{} printed no port within 10 s", exe.display()),
        };
        server.port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| anyhow!("{}: expected \"listening on PORT\", got {line:?}", exe.display()))?;
        Ok(server)
    }

    /// Waits for the server to exit by itself; kills it after `timeout`.
    /// The process started (an update replaces it by another).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn wait_exit(mut self, timeout: Duration) -> Result<(ExitStatus, String)> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
                return Ok((status, stderr));
            }
            if start.elapsed() > timeout {
                bail!("server on port {} did not exit within {:?}", self.port, timeout);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

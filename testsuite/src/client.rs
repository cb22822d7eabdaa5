//! A line-protocol TCP client with timeouts: a server that stops answering
//! fails the test with an error instead of blocking it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub struct LineClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl LineClient {
    pub fn connect(port: u16) -> Result<LineClient> {
        let stream = TcpStream::connect(("127.0.0.1", port)).with_context(|| format!("connecting to port {port}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(LineClient { writer: stream.try_clone()?, reader: BufReader::new(stream) })
    }

    pub fn send(&mut self, line: &str) -> Result<()> {
        self.writer.write_all(format!("{line}\n").as_bytes()).context("sending a request")
    }

    /// The next line without its newline; an error at end of stream.
    pub fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).context("reading a reply")?;
        if n == 0 {
            bail!("connection closed by the server");
        }
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    }

    /// Sends one request and reads its one-line reply.
    pub fn request(&mut self, line: &str) -> Result<String> {
        self.send(line)?;
        self.read_line()
    }

    /// True once the server has closed the connection (reads end of stream).
    pub fn is_closed(&mut self) -> Result<bool> {
        let mut line = String::new();
        Ok(self.reader.read_line(&mut line).context("reading")? == 0)
    }
}

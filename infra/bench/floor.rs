//! The harness floor for `cold_start.py`: a process that only asks the runtime API for its first
//! event (one `GET /runtime/invocation/next` over a plain TCP socket) and waits for the answer.
//! Built by the harness with `rustc -C opt-level=3`; std only, so its cost is process start-up
//! plus one loopback HTTP request.
use std::io::{Read, Write};
use std::net::TcpStream;

fn main() {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API");
    let mut stream = TcpStream::connect(&api).expect("connect");
    write!(
        stream,
        "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
}

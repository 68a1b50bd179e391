//! Resource exhaustion: a huge upload or download must stream through
//! Portero, never be held in its memory. 1 GiB each way; Portero's peak
//! resident memory must stay far below that.
use crate::common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

const GIB: u64 = 1 << 30;
const CHUNK: usize = 256 * 1024;

/// A raw upstream: `/static/big` sends 1 GiB; anything with a body gets its length back.
fn raw_upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                let mut length = 0u64;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                if first.contains("/static/big") {
                    write!(
                        writer,
                        "HTTP/1.1 200 OK\r\nContent-Length: {GIB}\r\nConnection: close\r\n\r\n"
                    )
                    .unwrap();
                    let chunk = vec![b'x'; CHUNK];
                    for _ in 0..(GIB as usize / CHUNK) {
                        if writer.write_all(&chunk).is_err() {
                            return;
                        }
                    }
                } else {
                    let mut buf = vec![0u8; CHUNK];
                    let mut seen = 0u64;
                    while seen < length {
                        let n = reader.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        seen += n as u64;
                    }
                    let body = format!("received {seen}");
                    write!(
                        writer,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .unwrap();
                }
            });
        }
    });
    addr
}

#[test]
fn one_gib_each_way_streams_through() {
    let up = Upstream {
        addr: raw_upstream(),
    };
    let p = Portero::start(TENANTS, &up);

    // Download.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", p.port)).unwrap();
    write!(
        s,
        "GET /static/big HTTP/1.1\r\nHost: panel.latincloud.test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    assert!(total > GIB, "got {total} bytes");

    // Upload.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", p.port)).unwrap();
    write!(s, "POST /static/upload HTTP/1.1\r\nHost: panel.latincloud.test\r\nContent-Length: {GIB}\r\nConnection: close\r\n\r\n").unwrap();
    let chunk = vec![b'y'; CHUNK];
    for _ in 0..(GIB as usize / CHUNK) {
        s.write_all(&chunk).unwrap();
    }
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.ends_with(&format!("received {GIB}")), "{answer}");

    let peak_mib = p.peak_rss_kib() / 1024;
    eprintln!("portero peak RSS after 2 GiB through: {peak_mib} MiB");
    assert!(
        peak_mib < 128,
        "Portero held {peak_mib} MiB: bodies are not streamed"
    );
}

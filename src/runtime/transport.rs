//! Opening TCP links: name resolution, non-blocking connect (optionally from a bound local address),
//! and socket options (TCP_NODELAY, keepalive).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd};

use crate::options::{Keepalive, Options};

/// Resolves `host` (a name, an IPv4 literal, or an IPv6 literal with or without brackets).
pub fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs: Vec<SocketAddr> = (bare, port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} has no address", host),
        ));
    }
    Ok(addrs)
}

/// `resolve`, waiting at most `limit` for a name lookup (an IP literal needs none). A lookup that
/// takes longer is left to finish on its own thread and reported as a failure.
pub fn resolve_within(
    host: &str,
    port: u16,
    limit: std::time::Duration,
) -> Result<Vec<SocketAddr>, String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return resolve(host, port).map_err(|e| e.to_string());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_owned();
    let spawned = std::thread::Builder::new()
        .name("stomp-resolve".into())
        .spawn(move || {
            let _ = tx.send(resolve(&name, port).map_err(|e| e.to_string()));
        });
    if let Err(e) = spawned {
        return Err(format!("cannot start a name lookup: {}", e));
    }
    match rx.recv_timeout(limit) {
        Ok(r) => r,
        Err(_) => Err(format!(
            "the name lookup took longer than {} ms",
            limit.as_millis()
        )),
    }
}

/// Starts a non-blocking connect; completion is seen as writability.
pub fn dial(addr: SocketAddr, bind: Option<SocketAddr>) -> io::Result<mio::net::TcpStream> {
    let Some(local) = bind else {
        return mio::net::TcpStream::connect(addr);
    };
    if local.is_ipv4() != addr.is_ipv4() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot bind {} to reach {}", local, addr),
        ));
    }
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket calls on a descriptor we own; it is closed by OwnedFd/TcpStream on every path.
    unsafe {
        let fd = libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let stream = std::net::TcpStream::from_raw_fd(fd);
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            4,
        );
        let (sa, len) = sockaddr(local);
        if libc::bind(fd, (&sa as *const libc::sockaddr_storage).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        let (sa, len) = sockaddr(addr);
        if libc::connect(fd, (&sa as *const libc::sockaddr_storage).cast(), len) != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
        }
        Ok(mio::net::TcpStream::from_std(stream))
    }
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data, valid when zeroed, and large enough for both families.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// Whether a non-blocking connect has finished: `Ok(true)` connected, `Ok(false)` still going.
pub fn connect_done(stream: &mio::net::TcpStream) -> io::Result<bool> {
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    match stream.peer_addr() {
        Ok(_) => Ok(true),
        Err(e)
            if e.kind() == io::ErrorKind::NotConnected
                || e.raw_os_error() == Some(libc::ENOTCONN) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Options for an established link.
pub fn configure(stream: &mio::net::TcpStream, opts: &Options) -> io::Result<()> {
    stream.set_nodelay(opts.tcp_nodelay)?;
    set_keepalive(stream.as_raw_fd(), &opts.keepalive)
}

fn set_keepalive(fd: libc::c_int, k: &Keepalive) -> io::Result<()> {
    let set = |level: libc::c_int, name: libc::c_int, v: libc::c_int| -> io::Result<()> {
        // SAFETY: setsockopt with an int option on a valid descriptor.
        let r = unsafe { libc::setsockopt(fd, level, name, (&v as *const libc::c_int).cast(), 4) };
        if r != 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    set(
        libc::SOL_SOCKET,
        libc::SO_KEEPALIVE,
        k.enabled as libc::c_int,
    )?;
    if !k.enabled {
        return Ok(());
    }
    if let Some(d) = k.idle {
        set(
            libc::IPPROTO_TCP,
            libc::TCP_KEEPIDLE,
            d.as_secs().clamp(1, i32::MAX as u64) as libc::c_int,
        )?;
    }
    if let Some(d) = k.interval {
        set(
            libc::IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            d.as_secs().clamp(1, i32::MAX as u64) as libc::c_int,
        )?;
    }
    if let Some(n) = k.count {
        set(
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            n.clamp(1, i32::MAX as u32) as libc::c_int,
        )?;
    }
    Ok(())
}

/// The value of an int socket option (for tests of `configure`).
pub fn get_int_option(fd: libc::c_int, level: libc::c_int, name: libc::c_int) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    let mut len: libc::socklen_t = 4;
    // SAFETY: getsockopt into a local int.
    let r = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Keepalive;
    use std::time::Duration;

    #[test]
    fn socket_options_are_applied() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let s = mio::net::TcpStream::from_std(s);
        let mut o = Options {
            keepalive: Keepalive {
                enabled: true,
                idle: Some(Duration::from_secs(30)),
                interval: Some(Duration::from_secs(5)),
                count: Some(4),
            },
            ..Options::default()
        };
        configure(&s, &o).unwrap();
        let fd = s.as_raw_fd();
        assert_eq!(
            get_int_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY).unwrap(),
            1,
            "nodelay by default"
        );
        assert_eq!(
            get_int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE).unwrap(),
            1
        );
        assert_eq!(
            get_int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE).unwrap(),
            30
        );
        assert_eq!(
            get_int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL).unwrap(),
            5
        );
        assert_eq!(
            get_int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT).unwrap(),
            4
        );
        o.tcp_nodelay = false;
        o.keepalive = Keepalive::default();
        configure(&s, &o).unwrap();
        assert_eq!(
            get_int_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY).unwrap(),
            0
        );
        assert_eq!(
            get_int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE).unwrap(),
            0
        );
    }

    #[test]
    fn resolve_accepts_bracketed_ipv6_and_names() {
        assert!(resolve("[::1]", 1).unwrap()[0].is_ipv6());
        assert!(resolve("::1", 1).unwrap()[0].is_ipv6());
        assert!(resolve("127.0.0.1", 1).unwrap()[0].is_ipv4());
        assert!(!resolve("localhost", 1).unwrap().is_empty());
        let limit = std::time::Duration::from_secs(3);
        assert!(resolve_within("::1", 1, limit).unwrap()[0].is_ipv6());
        assert!(!resolve_within("localhost", 1, limit).unwrap().is_empty());
        let start = std::time::Instant::now();
        assert!(resolve_within("no-such-host.invalid", 1, limit).is_err());
        assert!(start.elapsed() < limit + std::time::Duration::from_millis(500));
    }

    #[test]
    fn binding_across_families_is_refused() {
        let e = dial(
            "[::1]:9".parse().unwrap(),
            Some("127.0.0.1:0".parse().unwrap()),
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}

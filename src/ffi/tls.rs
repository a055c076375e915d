//! The TLS part of the C ABI: TLS settings on `stomp_options` (files read and checked when set),
//! the verification callback, and what a TLS link negotiated.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use super::boundary::{out_arg, with_handle};
use super::connection::stomp_connection;
use super::options::{add_host, stomp_options, update};
use super::result::stomp_result;
use crate::error::{ErrorKind, Result, err};
use crate::runtime::tls::TlsFiles;

/// A file name from C: any bytes but NUL (Linux paths need not be UTF-8); NULL is `None`.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string live for `'a`.
unsafe fn path_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a Path>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    if bytes.is_empty() {
        return err(
            ErrorKind::InvalidArgument,
            format!("{} is empty (NULL means none)", what),
        );
    }
    Ok(Some(Path::new(std::ffi::OsStr::from_bytes(bytes))))
}

/// The three files of the TLS setters, read and checked.
///
/// # Safety
/// Each pointer is NULL or a NUL-terminated string.
unsafe fn load_files(
    ca_file: *const c_char,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> Result<TlsFiles> {
    // SAFETY: the caller's contract.
    unsafe {
        TlsFiles::load(
            path_arg(ca_file, "ca_file")?,
            path_arg(cert_file, "cert_file")?,
            path_arg(key_file, "key_file")?,
        )
    }
}

/// Makes every host added with `stomp_options_add_host` (before or after this call) a TLS host.
/// The broker's certificate must chain to a CA of `ca_file` (PEM; NULL: the system's trust store,
/// `/etc/ssl/certs`), be within its validity dates and be valid for the host's name or address
/// (or the name set with `stomp_options_set_tls_server_name`), which is also sent as SNI. With
/// `cert_file` and `key_file` (PEM: the client's certificate chain, then its private key; both or
/// neither), the client proves itself to brokers that ask (mutual TLS).
///
/// The files are read now: STOMP_ERR_TLS_FILE when one is missing, unreadable or malformed, or the
/// key does not fit the certificate (the detail in `stomp_last_error` names the file);
/// STOMP_ERR_INVALID_ARGUMENT when `opts` is NULL or only one of `cert_file` and `key_file` is given;
/// STOMP_ERR_UNSUPPORTED when the library was built without TLS. On failure the options are
/// unchanged. TLS 1.2 and 1.3 through rustls (ring crypto). Default: no TLS. A later call replaces
/// the files. Any thread, before `stomp_connection_new`.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call; each file name is
/// NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_tls(
    opts: *mut stomp_options,
    ca_file: *const c_char,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            o.tls.default = Some(load_files(ca_file, cert_file, key_file)?);
            Ok(())
        })
    }
}

/// Appends a broker reached over TLS with its own files (as `stomp_options_set_tls` describes),
/// whatever `stomp_options_set_tls` says: one failover list can mix plain hosts (added with
/// `stomp_options_add_host` while no default TLS is set) and TLS hosts. The files are read now:
/// STOMP_ERR_TLS_FILE or STOMP_ERR_INVALID_ARGUMENT as for `stomp_options_set_tls`, and the host is
/// not added; STOMP_ERR_INVALID_ARGUMENT also for a NULL or empty `host` or port 0. Any thread,
/// before `stomp_connection_new`.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call; `host` is NULL or
/// a NUL-terminated string, and each file name NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_add_host_tls(
    opts: *mut stomp_options,
    host: *const c_char,
    port: u16,
    ca_file: *const c_char,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            let host = super::boundary::str_arg(host, "host")?;
            let files = load_files(ca_file, cert_file, key_file)?;
            add_host(o, host, port, None, Some(files))
        })
    }
}

/// The name every TLS host's certificate is checked against, and sent as SNI, instead of the
/// host's own name or address (for a broker reached by address whose certificate names it, or
/// through a tunnel). NULL restores the default (each host's own). Returns STOMP_OK;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`, or a `name` that is empty or not UTF-8 (one that is
/// neither a DNS name nor an IP address fails later, at `stomp_connection_new`). Any thread, before
/// `stomp_connection_new`.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call; `name` is NULL or
/// a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_tls_server_name(
    opts: *mut stomp_options,
    name: *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            let name = super::boundary::opt_str_arg(name, "name")?;
            if name.is_some_and(|n| n.trim().is_empty()) {
                return err(
                    ErrorKind::InvalidArgument,
                    "name is empty (NULL means none)",
                );
            }
            o.tls.server_name = name.map(str::to_owned);
            Ok(())
        })
    }
}

/// The application's own check of a broker's certificate, called during each TLS handshake after
/// the built-in checks passed: `der`/`der_len` is the broker's certificate (DER), `host` the name
/// or address it was checked against. Return nonzero to accept, 0 to refuse: the link then fails
/// with STOMP_ERR_TLS_UNTRUSTED. The arguments live only during the call.
///
/// It runs on the library's I/O thread, with no lock held, and holds up every connection's I/O
/// while it runs: keep it short, and do not call blocking libstomp functions from it.
pub type stomp_tls_verify_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        der: *const u8,
        der_len: usize,
        host: *const c_char,
    ) -> c_int,
>;

/// A C verification callback and its `user_data`.
struct CVerify {
    f: unsafe extern "C" fn(*mut c_void, *const u8, usize, *const c_char) -> c_int,
    user_data: *mut c_void,
}

// SAFETY: the header tells C programs the callback runs on the library's I/O thread; user_data is
// theirs to make safe for that. The library only passes the pointer back.
unsafe impl Send for CVerify {}
unsafe impl Sync for CVerify {}

impl CVerify {
    fn check(&self, der: &[u8], host: &str) -> bool {
        let Ok(h) = CString::new(host) else {
            return false;
        };
        // SAFETY: a C function pointer given to us for this purpose; the slice and the string
        // outlive the call.
        unsafe { (self.f)(self.user_data, der.as_ptr(), der.len(), h.as_ptr()) != 0 }
    }
}

/// Sets (or, with a NULL `cb`, removes) the verification callback of every TLS host (see
/// `stomp_tls_verify_cb`). `user_data` is passed back as given; the library never frees it. Like
/// stomp.py's `ssl_cert_validator`, it can refuse but never accept what the built-in checks
/// refused. Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any thread, before
/// `stomp_connection_new`.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call; `cb`, if set, can
/// be called with `user_data` from the I/O thread for as long as a connection made from these
/// options exists.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_tls_verify_callback(
    opts: *mut stomp_options,
    cb: stomp_tls_verify_cb,
    user_data: *mut c_void,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            o.tls.verify = cb.map(|f| {
                let v = CVerify { f, user_data };
                Arc::new(move |der: &[u8], host: &str| v.check(der, host))
                    as Arc<crate::runtime::tls::VerifyFn>
            });
            Ok(())
        })
    }
}

/// DANGEROUS: with `on` true, TLS hosts' certificates are not checked at all (no CA, no dates, no
/// name), so anyone on the network path can read and change the connection. For tests against
/// throw-away brokers only; a warning goes to stderr on every connect while it is on. The
/// verification callback, if set, still runs. Default off. Returns STOMP_OK;
/// STOMP_ERR_INVALID_ARGUMENT for a NULL `opts`. Any thread, before `stomp_connection_new`.
///
/// # Safety
/// `opts` is NULL or a live stomp_options no other thread uses during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_options_set_tls_dangerous_no_verify(
    opts: *mut stomp_options,
    on: bool,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        update(opts, |o| {
            o.tls.dangerous_no_verify = on;
            Ok(())
        })
    }
}

/// The TLS protocol version ("TLSv1.3" or "TLSv1.2") and cipher suite (its IANA name, e.g.
/// "TLS13_AES_256_GCM_SHA384") of the current link, written to `*version_out` and
/// `*cipher_suite_out` (either may be NULL when not wanted). The strings are static: never free
/// them. Returns STOMP_OK; STOMP_ERR_INVALID_ARGUMENT for a NULL `conn`; STOMP_ERR_NOT_CONNECTED
/// when no link is up; STOMP_ERR_NOT_FOUND when the link is plain TCP. Any thread, callbacks
/// included.
///
/// # Safety
/// `conn` is NULL or a live stomp_connection; each output pointer is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stomp_connection_tls_session(
    conn: *const stomp_connection,
    version_out: *mut *const c_char,
    cipher_suite_out: *mut *const c_char,
) -> stomp_result {
    // SAFETY: the caller's contract.
    unsafe {
        with_handle(conn, |c| {
            if !c.is_connected() {
                return err(ErrorKind::NotConnected, "not connected");
            }
            let Some(s) = c.tls_session() else {
                return err(ErrorKind::NotFound, "the link is plain TCP, not TLS");
            };
            if !version_out.is_null() {
                out_arg(version_out, "version_out")?.write(s.version.as_ptr());
            }
            if !cipher_suite_out.is_null() {
                out_arg(cipher_suite_out, "cipher_suite_out")?.write(s.cipher_suite.as_ptr());
            }
            Ok(())
        })
    }
}

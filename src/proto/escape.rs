//! Header value escaping, per version (STOMP 1.1/1.2 "Value Encoding"):
//! 1.0 has none (so a newline cannot be sent at all); 1.1 escapes `\\`, LF and `:`; 1.2 also CR.
//! CONNECT, STOMP and CONNECTED frames are never escaped, in any version.

use super::frame::{Version, shown_value};
use super::swar;
use crate::error::{ErrorKind, Result, err};

/// Appends `value`, escaped for `version`, to `out`. `escaped = false` writes it raw (CONNECT frames),
/// which is only possible when it holds no octet that would break the frame. Error messages quote
/// `shown` for the value (`shown_value`: a passcode never appears in one).
pub fn escape_into(
    value: &str,
    shown: &str,
    version: Version,
    escaped: bool,
    out: &mut Vec<u8>,
) -> Result<()> {
    let bytes = value.as_bytes();
    if !escaped || version == Version::V1_0 {
        refuse_unframeable(
            shown,
            bytes,
            version,
            if escaped { "" } else { " in a CONNECT frame" },
        )?;
        // 1.0 has no escapes, but a colon is fine: only the first colon of a line separates.
        out.extend_from_slice(bytes);
        return Ok(());
    }
    // Most values need no escaping: one test a word, then one copy. (`verbatim` also sends a few
    // harmless control octets this way, which the search finds nothing in.)
    let first = match verbatim(bytes) {
        true => None,
        false => swar::find_any(bytes, b"\\\n:\r\0"),
    };
    let Some(first) = first else {
        out.extend_from_slice(bytes);
        return Ok(());
    };
    out.extend_from_slice(&bytes[..first]);
    for &b in &bytes[first..] {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b':' => out.extend_from_slice(b"\\c"),
            b'\r' if version == Version::V1_2 => out.extend_from_slice(b"\\r"),
            b'\r' => {
                return err(
                    ErrorKind::InvalidHeader,
                    format!(
                        "header {:?} holds a carriage return, which STOMP 1.1 cannot escape",
                        shown
                    ),
                );
            }
            0 => {
                return err(
                    ErrorKind::InvalidHeader,
                    format!("header {:?} holds a NUL octet", shown),
                );
            }
            _ => out.push(b),
        }
    }
    Ok(())
}

/// Whether `bytes` goes into any frame as it is, whatever the version: it holds no octet that is
/// escaped (`\\`, LF, `:`, CR) or refused (NUL). (Other control octets below CR send it the
/// careful way too, which copies them as they are: a cheaper test, and they are rare.)
#[inline]
pub fn verbatim(bytes: &[u8]) -> bool {
    swar::any(bytes, not_verbatim) == 0
}

/// The octets `verbatim` looks for, flagged in a word.
#[inline(always)]
fn not_verbatim(w: u64) -> u64 {
    swar::below(w, b'\r' + 1) | swar::eq(w, b':') | swar::eq(w, b'\\')
}

/// A header name or value from outside (a C string's bytes) as UTF-8, and whether it is
/// `verbatim`: for the usual plain ASCII, one pass over the bytes finds both. (Inlined: returned
/// through memory, the pair cost a store-forwarding stall per string.)
#[inline(always)]
pub fn check_text(bytes: &[u8]) -> std::result::Result<(&str, bool), std::str::Utf8Error> {
    if swar::any(bytes, |w| (w & swar::HI) | not_verbatim(w)) == 0 {
        // SAFETY: no byte has its high bit set: ASCII, which is UTF-8.
        return Ok((unsafe { std::str::from_utf8_unchecked(bytes) }, true));
    }
    Ok((swar::utf8(bytes)?, verbatim(bytes)))
}

/// Refuses header values with a line break or NUL, as `version` 1.0 must, whatever escaping the
/// broker would apply.
pub fn refuse_line_breaks<'a>(
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    version: Version,
) -> Result<()> {
    for (name, value) in headers {
        refuse_unframeable(name, name.as_bytes(), version, "")?;
        refuse_unframeable(shown_value(name, value), value.as_bytes(), version, "")?;
    }
    Ok(())
}

/// A value written raw must not hold a line break or NUL: it would break the frame. The message
/// quotes `shown` for it.
fn refuse_unframeable(shown: &str, value: &[u8], version: Version, context: &str) -> Result<()> {
    match value
        .iter()
        .copied()
        .find(|&b| b == b'\n' || b == b'\r' || b == 0)
    {
        None => Ok(()),
        Some(b) => err(
            ErrorKind::InvalidHeader,
            format!(
                "header value {:?} holds {} which STOMP {} cannot carry{}",
                shown,
                describe(b),
                version,
                context
            ),
        ),
    }
}

fn describe(b: u8) -> &'static str {
    match b {
        b'\n' => "a newline",
        b'\r' => "a carriage return",
        _ => "a NUL octet",
    }
}

/// Decodes one received header name or value. Undefined escape sequences are a fatal protocol error
/// (STOMP 1.2 says so); under 1.0, or in CONNECTED, bytes are taken as they are. A String for the
/// tests; the decoder unescapes in place with `unescape_into`.
#[cfg(test)]
pub fn unescape(raw: &[u8], version: Version, escaped: bool) -> Result<String> {
    std::str::from_utf8(raw)
        .or_else(|e| err(ErrorKind::Protocol, format!("header is not UTF-8: {}", e)))?;
    let mut out = Vec::with_capacity(raw.len());
    unescape_into(raw, version, escaped, &mut out)?;
    // Unescaping turns ASCII into ASCII, so valid UTF-8 stays valid.
    Ok(String::from_utf8(out).expect("checked above"))
}

/// `unescape`, appending to `out`, for bytes already known to be UTF-8 (the decoder checks a frame's
/// whole header section at once). On error `out` may hold part of the value.
pub fn unescape_into(raw: &[u8], version: Version, escaped: bool, out: &mut Vec<u8>) -> Result<()> {
    let plain = !escaped || version == Version::V1_0;
    let mut rest = raw;
    loop {
        let at = if plain {
            None
        } else {
            memchr::memchr(b'\\', rest)
        };
        let Some(i) = at else {
            out.extend_from_slice(rest);
            return Ok(());
        };
        out.extend_from_slice(&rest[..i]);
        let decoded = match rest.get(i + 1) {
            Some(b'\\') => b'\\',
            Some(b'n') => b'\n',
            Some(b'c') => b':',
            Some(b'r') if version == Version::V1_2 => b'\r',
            other => {
                let seq = other
                    .map(|&c| format!("\\{}", c as char))
                    .unwrap_or_else(|| "a lone \\".into());
                return err(
                    ErrorKind::Protocol,
                    format!(
                        "undefined escape sequence {} in a STOMP {} header",
                        seq, version
                    ),
                );
            }
        };
        out.push(decoded);
        rest = &rest[i + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(v: &str, version: Version) -> Result<String> {
        let mut out = Vec::new();
        escape_into(v, v, version, true, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn v10_sends_colons_raw_and_refuses_newlines() {
        assert_eq!(esc("a:b\\c", Version::V1_0).unwrap(), "a:b\\c");
        assert_eq!(
            esc("a\nb", Version::V1_0).unwrap_err().kind,
            ErrorKind::InvalidHeader
        );
        assert_eq!(
            esc("a\rb", Version::V1_0).unwrap_err().kind,
            ErrorKind::InvalidHeader
        );
    }

    #[test]
    fn v11_escapes_backslash_newline_colon_but_not_cr() {
        assert_eq!(esc("a\\b\nc:d", Version::V1_1).unwrap(), "a\\\\b\\nc\\cd");
        assert_eq!(
            esc("a\rb", Version::V1_1).unwrap_err().kind,
            ErrorKind::InvalidHeader
        );
    }

    #[test]
    fn v12_also_escapes_cr() {
        assert_eq!(esc("x\r\n:\\", Version::V1_2).unwrap(), "x\\r\\n\\c\\\\");
    }

    #[test]
    fn other_control_octets_go_out_as_they_are() {
        for v in [Version::V1_1, Version::V1_2] {
            assert_eq!(esc("a\tb\x01c\x0b", v).unwrap(), "a\tb\x01c\x0b");
            assert_eq!(esc("\t:", v).unwrap(), "\t\\c");
        }
    }

    #[test]
    fn connect_frames_are_never_escaped() {
        let mut out = Vec::new();
        escape_into("pass:w\\rd", "pass", Version::V1_2, false, &mut out).unwrap();
        assert_eq!(out, b"pass:w\\rd");
        assert_eq!(
            escape_into("a\nb", "a\nb", Version::V1_2, false, &mut out)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidHeader
        );
    }

    #[test]
    fn nul_is_refused_everywhere() {
        for v in [Version::V1_0, Version::V1_1, Version::V1_2] {
            assert_eq!(esc("a\0b", v).unwrap_err().kind, ErrorKind::InvalidHeader);
        }
    }

    #[test]
    fn round_trip_in_each_escaping_version() {
        let samples = [
            "plain",
            "a:b",
            "c\\d",
            "line1\nline2",
            "\\n literal",
            "::\\\\::",
            "ünï:cødé\n",
        ];
        for v in [Version::V1_1, Version::V1_2] {
            for s in samples {
                let e = esc(s, v).unwrap();
                assert_eq!(unescape(e.as_bytes(), v, true).unwrap(), s, "{v} {s:?}");
            }
        }
        let e = esc("cr\rhere", Version::V1_2).unwrap();
        assert_eq!(
            unescape(e.as_bytes(), Version::V1_2, true).unwrap(),
            "cr\rhere"
        );
    }

    #[test]
    fn verbatim_is_false_for_every_octet_that_is_escaped_or_refused() {
        for len in 1..20 {
            for at in 0..len {
                for b in 0u8..=255 {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    let special = matches!(b, b'\\' | b'\n' | b':' | b'\r' | 0);
                    if special {
                        assert!(!verbatim(&v), "{v:?}");
                    }
                    if b >= b' ' && !special {
                        assert!(verbatim(&v), "{v:?}");
                    }
                    let checked = check_text(&v);
                    assert_eq!(checked.is_ok(), std::str::from_utf8(&v).is_ok(), "{v:?}");
                    if let Ok((s, plain)) = checked {
                        assert_eq!(s.as_bytes(), &v[..]);
                        assert_eq!(plain, verbatim(&v), "{v:?}");
                    }
                }
            }
        }
        assert!(verbatim(b""));
        assert_eq!(check_text(b"").unwrap(), ("", true));
        assert_eq!(
            check_text("\u{e9}t\u{e9}".as_bytes()).unwrap(),
            ("\u{e9}t\u{e9}", true)
        );
        assert_eq!(
            check_text("a:\u{e9}".as_bytes()).unwrap(),
            ("a:\u{e9}", false)
        );
    }

    #[test]
    fn undefined_escapes_are_fatal() {
        assert_eq!(
            unescape(b"a\\tb", Version::V1_2, true).unwrap_err().kind,
            ErrorKind::Protocol
        );
        assert_eq!(
            unescape(b"a\\", Version::V1_1, true).unwrap_err().kind,
            ErrorKind::Protocol
        );
        // \r is defined only from 1.2 on.
        assert_eq!(
            unescape(b"a\\rb", Version::V1_1, true).unwrap_err().kind,
            ErrorKind::Protocol
        );
        assert_eq!(unescape(b"a\\rb", Version::V1_2, true).unwrap(), "a\rb");
    }

    #[test]
    fn no_unescaping_in_v10_or_connected() {
        assert_eq!(unescape(b"a\\cb", Version::V1_0, true).unwrap(), "a\\cb");
        assert_eq!(unescape(b"a\\cb", Version::V1_2, false).unwrap(), "a\\cb");
    }

    #[test]
    fn non_utf8_is_a_protocol_error() {
        assert_eq!(
            unescape(b"\xff\xfe", Version::V1_2, true).unwrap_err().kind,
            ErrorKind::Protocol
        );
    }
}

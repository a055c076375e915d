//! Property tests of the sans-IO protocol core (`stomp::proto`), with generated frames: encoding
//! then decoding is the identity in every version (escaping, binary bodies with `content-length`,
//! text bodies without); what a version cannot carry is refused by the encoder; a stream of frames
//! and heart-beats decodes the same however it is cut; and the decoder's limits hold to the byte.
//!
//! `PROPTEST_CASES=<n>` runs more (or fewer) cases than the defaults below.

use proptest::prelude::*;
use proptest::sample::{Index, select};
use stomp::error::ErrorKind;
use stomp::proto::{Command, Decoded, Decoder, Frame, Limits, Version, encode};

const VERSIONS: [Version; 3] = [Version::V1_0, Version::V1_1, Version::V1_2];

fn version() -> impl Strategy<Value = Version> {
    select(&VERSIONS[..])
}

fn command() -> impl Strategy<Value = Command> {
    select(&Command::ALL[..])
}

/// Headers of `command` are written raw in `version` (no escapes: 1.0, and CONNECT-like frames).
fn raw(command: Command, version: Version) -> bool {
    command.is_unescaped() || version == Version::V1_0
}

/// Whether a header name (or value) of a frame written raw (or escaped) in `version` may hold `c`.
fn carries(c: char, raw: bool, version: Version, name: bool) -> bool {
    match c {
        '\0' => false,
        '\n' => !raw,
        '\r' => !raw && version == Version::V1_2,
        ':' => !(raw && name),
        _ => true,
    }
}

/// Header text the frame can carry, weighted towards the characters escaping is about.
fn text(raw: bool, version: Version, name: bool) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => select(&[':', '\\', '\n', '\r', ' ', 'c', 'n', 'é', '😀'][..]),
        1 => any::<char>(),
    ]
    // What the version cannot carry becomes a plain letter (a filter would reject too often).
    .prop_map(move |c| {
        if carries(c, raw, version, name) {
            c
        } else {
            'x'
        }
    });
    proptest::collection::vec(ch, usize::from(name)..12)
        .prop_map(String::from_iter)
        .prop_filter("content-length is the encoder's", |s| s != "content-length")
}

fn headers(raw: bool, version: Version) -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((text(raw, version, true), text(raw, version, false)), 0..6)
}

/// A body and whether to ask for an automatic `content-length`: binary (NULs too) with one, or text
/// (no NUL) mostly without, so that both ways of finding a body's end are exercised.
fn body() -> impl Strategy<Value = (Vec<u8>, bool)> {
    prop_oneof![
        (proptest::collection::vec(any::<u8>(), 0..300), Just(true)),
        (proptest::collection::vec(1u8..=255, 0..300), any::<bool>()),
    ]
}

/// A frame `version` can carry, and the `auto_content_length` to encode it with.
fn frame_in(version: Version) -> impl Strategy<Value = (Frame, bool)> {
    command().prop_flat_map(move |cmd| {
        let body = if cmd.allows_body() {
            body().boxed()
        } else {
            Just((Vec::new(), true)).boxed()
        };
        (Just(cmd), headers(raw(cmd, version), version), body)
            .prop_map(|(cmd, hs, (body, auto))| (make(cmd, &hs, &body), auto))
    })
}

fn make(cmd: Command, headers: &[(String, String)], body: &[u8]) -> Frame {
    Frame::from_parts(
        cmd,
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body,
    )
}

/// What `frame` decodes back to: the same, with the `content-length` the encoder adds at the end.
fn expected(frame: &Frame, auto: bool) -> Frame {
    let body = frame.body();
    if body.is_empty() || !(auto || body.contains(&0)) {
        return frame.clone();
    }
    let mut f = frame.clone();
    f.add_header("content-length", &body.len().to_string());
    f
}

fn encoded(frame: &Frame, version: Version, auto: bool) -> Vec<u8> {
    let mut out = Vec::new();
    encode(frame, version, auto, &mut out)
        .unwrap_or_else(|e| panic!("{frame:?} in {version}: {e:?}"));
    out
}

/// Decodes `bytes` cut at `cuts` (offsets, in any order), with `limits`: the items, and the error
/// that ended the stream.
fn decode_cut(
    bytes: &[u8],
    cuts: &[usize],
    version: Version,
    limits: Limits,
) -> (Vec<Decoded>, Option<ErrorKind>) {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut d = Decoder::new(limits);
    d.set_version(version);
    let mut items = Vec::new();
    let mut from = 0;
    for to in cuts {
        d.push(&bytes[from..to]);
        from = to;
        loop {
            match d.next() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return (items, Some(e.kind)),
            }
        }
    }
    (items, None)
}

/// Decodes a byte at a time.
fn decode_bytewise(
    bytes: &[u8],
    version: Version,
    limits: Limits,
) -> (Vec<Decoded>, Option<ErrorKind>) {
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    decode_cut(bytes, &cuts, version, limits)
}

fn offsets(cuts: &[Index], len: usize) -> Vec<usize> {
    cuts.iter().map(|i| i.index(len + 1)).collect()
}

fn eol(crlf: bool) -> &'static [u8] {
    if crlf { b"\r\n" } else { b"\n" }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn encode_then_decode_is_the_identity(
        (version, (frame, auto)) in version().prop_flat_map(|v| (Just(v), frame_in(v))),
        cuts in proptest::collection::vec(any::<Index>(), 0..4),
    ) {
        let bytes = encoded(&frame, version, auto);
        let want = expected(&frame, auto);
        let (items, error) = decode_cut(&bytes, &offsets(&cuts, bytes.len()), version, Limits::default());
        prop_assert_eq!(error, None);
        prop_assert_eq!(items, vec![Decoded::Frame(want)]);
    }

    /// A stream of frames with heart-beat EOLs (LF and CRLF) before, between and after them decodes
    /// to the frames and heart-beats in order (the first EOL after a frame is its trailer), whether
    /// fed whole, cut anywhere, or a byte at a time.
    #[test]
    fn a_stream_decodes_the_same_however_it_is_cut(
        (version, frames) in version().prop_flat_map(|v| (
            Just(v),
            proptest::collection::vec(
                (proptest::collection::vec(any::<bool>(), 0..3), frame_in(v)),
                1..5,
            ),
        )),
        trailing in proptest::collection::vec(any::<bool>(), 0..3),
        cuts in proptest::collection::vec(any::<Index>(), 0..8),
    ) {
        let mut bytes = Vec::new();
        let mut want = Vec::new();
        for (i, (eols, (frame, auto))) in frames.iter().enumerate() {
            for e in eols {
                bytes.extend_from_slice(eol(*e));
            }
            let beats = if i == 0 { eols.len() } else { eols.len().saturating_sub(1) };
            want.extend(std::iter::repeat_n(Decoded::Heartbeat, beats));
            bytes.extend_from_slice(&encoded(frame, version, *auto));
            want.push(Decoded::Frame(expected(frame, *auto)));
        }
        for e in &trailing {
            bytes.extend_from_slice(eol(*e));
        }
        want.extend(std::iter::repeat_n(Decoded::Heartbeat, trailing.len().saturating_sub(1)));
        let whole = decode_cut(&bytes, &[], version, Limits::default());
        prop_assert_eq!(&whole, &(want, None));
        let cut = decode_cut(&bytes, &offsets(&cuts, bytes.len()), version, Limits::default());
        prop_assert_eq!(&cut, &whole);
        prop_assert_eq!(&decode_bytewise(&bytes, version, Limits::default()), &whole);
    }

    /// A header the version cannot carry (NUL anywhere; CR and LF where written raw; CR in 1.1; a
    /// colon in a raw name) or an empty name is refused, and the output is left as it was.
    #[test]
    fn the_encoder_refuses_what_the_version_cannot_carry(
        (version, cmd, in_name, bad) in (version(), command(), any::<bool>()).prop_flat_map(
            |(v, cmd, in_name)| {
                let cannot: Vec<char> = ['\0', '\n', '\r', ':']
                    .into_iter()
                    .filter(|&c| !carries(c, raw(cmd, v), v, in_name))
                    .collect();
                (Just(v), Just(cmd), Just(in_name), select(cannot))
            },
        ),
        at in any::<Index>(),
        seed in proptest::collection::vec((text(true, Version::V1_0, true), text(true, Version::V1_0, false)), 1..4),
        which in any::<Index>(),
    ) {
        let mut hs = seed;
        let i = which.index(hs.len());
        let target = if in_name { &mut hs[i].0 } else { &mut hs[i].1 };
        let mut chars: Vec<char> = target.chars().collect();
        chars.insert(at.index(chars.len() + 1), bad);
        *target = chars.into_iter().collect();
        let frame = make(cmd, &hs, b"");
        let mut out = b"earlier frames".to_vec();
        let e = encode(&frame, version, true, &mut out).unwrap_err();
        prop_assert_eq!(e.kind, ErrorKind::InvalidHeader, "{}", e.message);
        prop_assert_eq!(&out[..], &b"earlier frames"[..]);
        let empty = make(cmd, &[(String::new(), "v".into())], b"");
        prop_assert_eq!(encode(&empty, version, true, &mut out).unwrap_err().kind, ErrorKind::InvalidHeader);
    }

    /// A body of exactly `max_body` bytes is read; one more is refused, whether its length is given
    /// or found by its NUL, however the stream is cut.
    #[test]
    fn the_body_limit_holds_to_the_byte(
        max_body in 0usize..300,
        over in any::<bool>(),
        with_length in any::<bool>(),
        fill in 1u8..=255,
        cuts in proptest::collection::vec(any::<Index>(), 0..4),
    ) {
        let n = max_body + usize::from(over);
        let mut bytes = b"MESSAGE\ndestination:/q\n".to_vec();
        if with_length {
            bytes.extend_from_slice(format!("content-length:{n}\n").as_bytes());
        }
        bytes.push(b'\n');
        bytes.extend(std::iter::repeat_n(fill, n));
        bytes.extend_from_slice(b"\0RECEIPT\nreceipt-id:1\n\n\0");
        let limits = Limits { max_body, ..Limits::default() };
        let (items, error) = decode_cut(&bytes, &offsets(&cuts, bytes.len()), Version::V1_2, limits);
        if over {
            prop_assert_eq!(error, Some(ErrorKind::TooLarge));
            prop_assert!(items.is_empty());
        } else {
            prop_assert_eq!(error, None);
            prop_assert_eq!(items.len(), 2);
            let Decoded::Frame(f) = &items[0] else { panic!("{:?}", items[0]) };
            prop_assert_eq!(f.body(), &vec![fill; n][..]);
        }
    }

    /// `max_headers` headers are read, one more is refused.
    #[test]
    fn the_header_count_limit_holds(
        max_headers in 0usize..40,
        over in any::<bool>(),
        version in version(),
        cuts in proptest::collection::vec(any::<Index>(), 0..4),
    ) {
        let n = max_headers + usize::from(over);
        let mut bytes = b"MESSAGE\n".to_vec();
        for i in 0..n {
            bytes.extend_from_slice(format!("h{i}:{i}\n").as_bytes());
        }
        bytes.extend_from_slice(b"\nbody\0");
        let limits = Limits { max_headers, ..Limits::default() };
        let (items, error) = decode_cut(&bytes, &offsets(&cuts, bytes.len()), version, limits);
        if over {
            prop_assert_eq!(error, Some(ErrorKind::TooLarge));
        } else {
            prop_assert_eq!(error, None);
            let [Decoded::Frame(f)] = &items[..] else { panic!("{items:?}") };
            prop_assert_eq!(f.header_count(), n);
        }
    }

    /// A command or header line of `max_line` bytes (a CR before its LF counts) is read, one more
    /// byte is refused, even when its end has not arrived yet.
    #[test]
    fn the_line_limit_holds_to_the_byte(
        max_line in 8usize..200,
        over in any::<bool>(),
        crlf in any::<bool>(),
        version in version(),
        cuts in proptest::collection::vec(any::<Index>(), 0..4),
    ) {
        let len = max_line + usize::from(over);
        // "k:" and a value, then the CR if any: `len` bytes before the LF.
        let value = "v".repeat(len - 2 - usize::from(crlf));
        let mut bytes = b"MESSAGE".to_vec();
        bytes.extend_from_slice(eol(crlf));
        bytes.extend_from_slice(format!("k:{value}").as_bytes());
        bytes.extend_from_slice(eol(crlf));
        bytes.extend_from_slice(eol(crlf));
        bytes.push(0);
        let limits = Limits { max_line, ..Limits::default() };
        let (items, error) = decode_cut(&bytes, &offsets(&cuts, bytes.len()), version, limits);
        if over {
            prop_assert_eq!(error, Some(ErrorKind::TooLarge));
        } else {
            prop_assert_eq!(error, None);
            let [Decoded::Frame(f)] = &items[..] else { panic!("{items:?}") };
            prop_assert_eq!(f.header("k"), Some(value.as_str()));
        }
        // The same line with no end yet: refused once it is over, waited for otherwise.
        let open = &bytes[..bytes.len() - eol(crlf).len() - 2];
        let (_, error) = decode_cut(open, &offsets(&cuts, open.len()), version, limits);
        prop_assert_eq!(error, over.then_some(ErrorKind::TooLarge));
    }
}

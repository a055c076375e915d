//! Regenerates include/stomp.h from src/ffi with cbindgen (writing only when it changed, so a build of
//! an up-to-date tree leaves it untouched) and gives the shared library its SONAME.

use std::path::Path;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let mut config = cbindgen::Config::from_file(Path::new(&dir).join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let version = [
        "CARGO_PKG_VERSION_MAJOR",
        "CARGO_PKG_VERSION_MINOR",
        "CARGO_PKG_VERSION_PATCH",
    ]
    .map(|v| std::env::var(v).expect("cargo sets the version"));
    config.after_includes =
        Some(version_macros(&version) + config.after_includes.as_deref().unwrap_or(""));
    match cbindgen::generate_with_config(&dir, config) {
        Ok(bindings) => {
            let out = Path::new(&dir).join("include/stomp.h");
            bindings.write_to_file(out);
        }
        Err(e) => panic!("cbindgen failed: {}", e),
    }
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,-soname,libstomp.so.{}",
        version[0]
    );
}

/// The header's version macros for `[major, minor, patch]`: the compile-time twin of
/// `stomp_version_string()` (a C test checks that they agree).
fn version_macros([major, minor, patch]: &[String; 3]) -> String {
    format!(
        r#"
/** The major version of this header: libstomp.so.MAJOR is the library it goes with. */
#define STOMP_VERSION_MAJOR {major}
/** The minor version of this header (functions and struct members added). */
#define STOMP_VERSION_MINOR {minor}
/** The patch version of this header (fixes only). */
#define STOMP_VERSION_PATCH {patch}
/** "MAJOR.MINOR.PATCH" of this header; the library's own is stomp_version_string(). */
#define STOMP_VERSION_STRING "{major}.{minor}.{patch}"
/** The version as one number to compare in `#if`: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define STOMP_VERSION_NUMBER ({major} * 10000 + {minor} * 100 + {patch})
/** Former name of STOMP_VERSION_STRING, kept for older programs. */
#define STOMP_LIB_VERSION STOMP_VERSION_STRING
/** Former name of STOMP_VERSION_MAJOR. */
#define STOMP_LIB_VERSION_MAJOR STOMP_VERSION_MAJOR
/** Former name of STOMP_VERSION_MINOR. */
#define STOMP_LIB_VERSION_MINOR STOMP_VERSION_MINOR
/** Former name of STOMP_VERSION_PATCH. */
#define STOMP_LIB_VERSION_PATCH STOMP_VERSION_PATCH
"#
    )
}

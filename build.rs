//! Regenerates include/stomp.h from src/ffi with cbindgen (writing only when it changed, so a build of
//! an up-to-date tree leaves it untouched) and gives the shared library its SONAME.

use std::path::Path;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(Path::new(&dir).join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    match cbindgen::generate_with_config(&dir, config) {
        Ok(bindings) => {
            let out = Path::new(&dir).join("include/stomp.h");
            bindings.write_to_file(out);
        }
        Err(e) => panic!("cbindgen failed: {}", e),
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,-soname,libstomp.so.{}",
        major
    );
}

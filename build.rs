//! Build script: links libgcc's unwinder statically instead of libgcc_s.so,
//! and gathers the status path's code in one place (link/hot-text.ld).
//!
//! Both are for `gsup status`, a whole process whose cost is mostly start-up:
//! one shared library fewer for ld.so to load costs it 0.1 ms less, and its
//! code in one 64 kB window instead of 8 saves 7 page faults of 74.
//!
//! rustc asks the linker for `-lgcc_s` on linux-gnu. A linker script named
//! `libgcc_s.so` in a directory searched first answers that with the static
//! `libgcc_eh.a` (the same unwinder gcc links into `-static-libgcc`
//! programs). glibc itself stays dynamic: a static glibc crashes in
//! getpwnam when nsswitch.conf names a module (`passwd: files systemd`).
//! See docs/performance.md.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link/hot-text.ld");
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    if !linux_gnu {
        return;
    }
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let script = PathBuf::from(dir).join("link/hot-text.ld");
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    }
    let dir = out.join("static-libgcc");
    if std::fs::create_dir_all(&dir).is_ok()
        && std::fs::write(dir.join("libgcc_s.so"), "INPUT(-lgcc_eh)\n").is_ok()
    {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
}

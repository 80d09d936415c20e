//! The names of gsup's cgroup directories: one per job instance
//! (`JOB@INSTANCE`, escaped), the daemon's own leaf, the domain name. Pure: no I/O.
//!
//! A group name is `escape(job) + "@" + escape(instance)`. `escape` keeps
//! ASCII letters, digits and `-_.:=+,~` and writes every other byte as
//! `\xHH` (so `/` is `\x2f`, `@` is `\x40`, a space `\x20`, and a leading `.`
//! `\x2e`). The one raw `@` tells job from instance; no kernel interface
//! file (`cgroup.procs`, `memory.max`, ...) holds an `@`, and neither does
//! the daemon's `supervisor` leaf, so a job can never name one of them.
//! Decoding is strict: only the exact output of `escape` decodes, so one
//! directory maps to one (job, instance) and back.

/// The daemon's own leaf inside its domain (the "no internal processes"
/// rule keeps it apart from the job groups beside it).
pub const SUPERVISOR: &str = "supervisor";

/// The longest name a directory may have (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

fn kept(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.:=+,~".contains(&b)
}

fn escape(text: &str, out: &mut String) {
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if kept(b) && !(i == 0 && b == b'.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
}

fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let hex = text.get(i + 2..i + 4)?;
            if bytes.get(i + 1) != Some(&b'x') || hex.bytes().any(|h| h.is_ascii_uppercase()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The directory name of a job instance's group; `None` when it would be
/// longer than `NAME_MAX` (the instance is then run without a group).
pub fn group_name(job: &str, instance: &str) -> Option<String> {
    let mut name = String::with_capacity(job.len() + instance.len() + 1);
    escape(job, &mut name);
    name.push('@');
    escape(instance, &mut name);
    (name.len() <= NAME_MAX).then_some(name)
}

/// The (job, instance) a directory name stands for; `None` for anything
/// `group_name` would not have written (other directories, planted names).
pub fn parse_group_name(name: &str) -> Option<(String, String)> {
    let (job, instance) = name.split_once('@')?;
    let job = unescape(job)?;
    let instance = unescape(instance)?;
    if job.is_empty() || group_name(&job, &instance).as_deref() != Some(name) {
        return None;
    }
    Some((job, instance))
}

/// Whether `name` may be a domain name: 1 to 64 of `[A-Za-z0-9._-]`, not
/// starting with `.`, and not the supervisor leaf's name.
pub fn valid_domain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name != SUPERVISOR
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A domain name for a daemon, stable across its restarts and re-execs and
/// distinct between daemons on one host: `gsup-` and 16 hex digits of a
/// hash (FNV-1a, 64 bits, fixed here so it never changes with a Rust
/// release) of its runtime directory's path.
pub fn domain_for(runtime_dir: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in runtime_dir.as_os_str().as_bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("gsup-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_escape_slashes_ats_and_blanks() {
        assert_eq!(
            group_name("web/nginx", "").as_deref(),
            Some("web\\x2fnginx@")
        );
        assert_eq!(
            group_name("resque", "high prio@1").as_deref(),
            Some("resque@high\\x20prio\\x401")
        );
        assert_eq!(group_name(".x", ".y").as_deref(), Some("\\x2ex@\\x2ey"));
        assert_eq!(
            group_name("a\\b", "é").as_deref(),
            Some("a\\x5cb@\\xc3\\xa9")
        );
        assert_eq!(
            group_name("cgroup.procs", "").as_deref(),
            Some("cgroup.procs@")
        );
    }

    #[test]
    fn names_round_trip() {
        for (job, inst) in [
            ("web/nginx", ""),
            ("a@b", "c@d"),
            ("x", "QUEUE=*,high"),
            ("..", ".."),
            ("t", "tab\there\nnewline"),
            ("ünï", "ｃｏｄｅ"),
        ] {
            let name = group_name(job, inst).expect("short enough");
            assert_eq!(
                parse_group_name(&name),
                Some((job.to_string(), inst.to_string())),
                "{name}"
            );
            assert!(!name.contains('/') && name != "." && name != "..");
        }
    }

    #[test]
    fn only_canonical_names_decode() {
        for planted in [
            "supervisor",
            "cgroup.procs",
            "@inst",
            "web\\x41@",
            "web\\X2f@",
            "web\\x2F@",
            "web\\x2@",
            "web\\q2f@",
            ".hidden@",
            "a@b@c",
            "a@b c",
            "\\xff@",
        ] {
            assert_eq!(parse_group_name(planted), None, "{planted}");
        }
    }

    #[test]
    fn over_long_names_are_refused() {
        let long = "q".repeat(250);
        assert!(group_name("job", &long).is_some());
        assert_eq!(group_name("job", &format!("{long}xx")), None);
        assert_eq!(group_name("job", &"/".repeat(70)), None);
    }

    #[test]
    fn domains() {
        assert!(valid_domain("gsup"));
        assert!(valid_domain(&domain_for(std::path::Path::new(
            "/run/gsup.d"
        ))));
        for bad in ["", ".x", "a/b", "a@b", "supervisor", "a b", &"x".repeat(65)] {
            assert!(!valid_domain(bad), "{bad}");
        }
        let a = domain_for(std::path::Path::new("/run/gsup.d"));
        assert_eq!(a, domain_for(std::path::Path::new("/run/gsup.d")));
        assert_ne!(a, domain_for(std::path::Path::new("/tmp/x/gsup.d")));
        assert_eq!(
            domain_for(std::path::Path::new("")),
            "gsup-cbf29ce484222325"
        );
    }
}

//! The status page: every job's status lines in one small file of the daemon's
//! runtime dir, so that `gsup status JOB` is answered without waking the daemon.
//!
//! runit and s6 do the same with one `supervise/status` file per service. The
//! daemon (the one writer) rewrites a job's slot whenever its lines change; a
//! client maps the file read-only and copies the slots it needs. Each slot is
//! a seqlock: the writer makes its counter odd, writes, makes it even again; a
//! reader that sees an odd or changed counter reads again. The daemon holds
//! an exclusive `flock` on the file for its whole life, so a client that can
//! take a shared one knows the daemon is gone and asks the socket instead
//! (which then reports the daemon unreachable).
//!
//! Layout, in little-endian `u32` words: a header of [`HEADER_WORDS`]
//! (`MAGIC`, `VERSION`, bucket count, slot count), then the index (one word
//! per bucket: 0 empty, else `slot + 1 | tag << SLOT_BITS`, the tag being the
//! top bits of the name's FNV-1a hash; open addressing on that hash, linear
//! probing), then the slots of [`SLOT_WORDS`] each: the counter,
//! `running | overflow << 1 | name_len << 8 | text_len << 16`, and
//! [`TEXT_BYTES`] of text: the exact bytes `gsup status JOB` prints. A job
//! whose text does not fit is marked overflow and the client asks the socket;
//! a job whose name does not fit is not in the index at all. The tags let a
//! reader skip the slots of other names in its probe run unread, so one
//! lookup is five small reads: header, a run of buckets, and the slot's
//! counter, body, counter.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{Ordering, fence};

const MAGIC: u32 = u32::from_le_bytes(*b"GSP1");
const VERSION: u32 = 2;
/// Header words: magic, version, buckets, slots, and room to grow.
pub const HEADER_WORDS: usize = 8;
/// Words per slot: counter, meta, text.
pub const SLOT_WORDS: usize = 24;
/// Text bytes per slot (88: a name of about 40 characters with its pid).
pub const TEXT_BYTES: usize = (SLOT_WORDS - 2) * 4;
/// Index entries: the slot number + 1 in the low bits, the name's tag above.
const SLOT_BITS: u32 = 20;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// At most this many names per page (the rest are asked of the socket).
const MAX_SLOTS: usize = SLOT_MASK as usize - 1;
/// Buckets a reader takes per read while probing.
const PROBE_WORDS: usize = 16;
const RUNNING: u32 = 1;
const OVERFLOW: u32 = 2;
/// How often a reader retries a slot the writer is in the middle of.
const READ_TRIES: usize = 64;

/// The page of the daemon that listens at `socket`: `status` in its runtime
/// dir.
pub fn path_for(socket: &Path) -> PathBuf {
    runtime_dir(socket).join("status")
}

/// The daemon's runtime dir, for notify sockets and the status page: the
/// socket path with the extension `d` (`/run/gsup.d` for `/run/gsup.sock`),
/// or with `.d` appended when that would be the socket itself (`x.d`).
pub fn runtime_dir(socket: &Path) -> PathBuf {
    let dir = socket.with_extension("d");
    if dir != socket {
        return dir;
    }
    let mut path = socket.as_os_str().to_owned();
    path.push(".d");
    PathBuf::from(path)
}

/// FNV-1a: the bucket a name starts probing at, the same on both sides.
fn hash(name: &[u8]) -> u32 {
    name.iter().fold(0x811c_9dc5, |h: u32, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The tag of a name's index entry: its hash's top bits.
fn tag(hash: u32) -> u32 {
    hash >> SLOT_BITS
}

/// Where the parts of a page with `buckets` and `slots` are, in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    buckets: usize,
    slots: usize,
}

impl Layout {
    fn for_names(n: usize) -> Layout {
        Layout {
            buckets: (2 * n).max(16),
            slots: n,
        }
    }

    fn words(self) -> usize {
        HEADER_WORDS + self.buckets + self.slots * SLOT_WORDS
    }

    fn slot(self, i: usize) -> usize {
        HEADER_WORDS + self.buckets + i * SLOT_WORDS
    }
}

/// The initial bytes of a page for `names` (header, index, empty slots) and
/// the names it holds, sorted: slot `i` is the `i`th. Names that cannot fit
/// a slot are left out (the client then asks the socket).
fn build(names: &[&str]) -> (Vec<u8>, Vec<Box<str>>) {
    let mut fits: Vec<Box<str>> = names
        .iter()
        .filter(|n| !n.is_empty() && n.len() <= TEXT_BYTES)
        .map(|&n| Box::from(n))
        .collect();
    fits.sort_unstable();
    fits.dedup();
    fits.truncate(MAX_SLOTS);
    let layout = Layout::for_names(fits.len());
    let mut words = vec![0u32; layout.words()];
    words[..4].copy_from_slice(&[MAGIC, VERSION, layout.buckets as u32, layout.slots as u32]);
    for (i, name) in fits.iter().enumerate() {
        let h = hash(name.as_bytes());
        let mut b = h as usize % layout.buckets;
        while words[HEADER_WORDS + b] != 0 {
            b = (b + 1) % layout.buckets;
        }
        words[HEADER_WORDS + b] = (i as u32 + 1) | tag(h) << SLOT_BITS;
        // An empty slot already names its job, so that lookups find it.
        let at = layout.slot(i);
        words[at + 1] = OVERFLOW | (name.len() as u32) << 8 | (name.len() as u32) << 16;
        write_text(&mut words[at + 2..at + SLOT_WORDS], name.as_bytes());
    }
    (words.iter().flat_map(|w| w.to_le_bytes()).collect(), fits)
}

fn write_text(words: &mut [u32], text: &[u8]) {
    for (w, chunk) in words.iter_mut().zip(text.chunks(4)) {
        let mut b = [0u8; 4];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u32::from_le_bytes(b);
    }
}

/// The meta word and text words of a slot holding `text` for `name`.
fn encode(name: &str, text: &str, running: bool) -> Vec<u32> {
    let (body, flags) = if text.len() <= TEXT_BYTES && text.starts_with(name) {
        (text.as_bytes(), u32::from(running))
    } else {
        (name.as_bytes(), OVERFLOW)
    };
    let mut words = vec![0u32; SLOT_WORDS - 1];
    words[0] = flags | (name.len() as u32) << 8 | (body.len() as u32) << 16;
    write_text(&mut words[1..], body);
    words
}

/// The daemon's end: the open page, locked for the daemon's life.
#[derive(Debug)]
pub struct PageWriter {
    /// Locked (`LOCK_EX`) until dropped.
    file: Flock<File>,
    layout: Layout,
    /// The names held, sorted; slot `i` is `names[i]`'s.
    names: Vec<Box<str>>,
    /// Per slot: its counter and a digest of the body last written.
    written: Vec<(u32, u64)>,
}

impl PageWriter {
    /// Writes a fresh page for `names` at `path` (through a temporary file
    /// renamed over it, so a reader sees the old page or the new one) and
    /// locks it. The caller checks that the directory is the daemon's own.
    pub fn create(path: &Path, names: &[&str]) -> io::Result<PageWriter> {
        let tmp = path.with_extension("new");
        let _ = std::fs::remove_file(&tmp);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        let file = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| io::Error::from(e))?;
        let (bytes, names) = build(names);
        let written = file
            .write_all_at(&bytes, 0)
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(PageWriter {
            file,
            layout: Layout::for_names(names.len()),
            written: vec![(0, 0); names.len()],
            names,
        })
    }

    /// The slot of `name`, if the page holds it.
    pub fn slot(&self, name: &str) -> Option<usize> {
        self.names.binary_search_by(|n| (**n).cmp(name)).ok()
    }

    /// The name whose slot is `slot`.
    pub fn name(&self, slot: usize) -> Option<&str> {
        self.names.get(slot).map(|n| &**n)
    }

    /// The page's slot numbers.
    pub fn slots(&self) -> std::ops::Range<usize> {
        0..self.names.len()
    }

    /// Sets the text of the job in `slot` (its status lines, each ending in
    /// a newline) and whether all of them are `start/running`. A slot the
    /// page does not have is ignored.
    pub fn set(&mut self, slot: usize, text: &str, running: bool) -> io::Result<()> {
        let (Some(name), Some(&(seq, last))) = (self.names.get(slot), self.written.get(slot))
        else {
            return Ok(());
        };
        let body = encode(name, text, running);
        let digest = digest(&body);
        if last == digest && seq != 0 {
            return Ok(());
        }
        let at = (self.layout.slot(slot) * 4) as u64;
        for (i, (offset, bytes)) in slot_writes(seq, &body).iter().enumerate() {
            if i > 0 {
                fence(Ordering::SeqCst);
            }
            self.file.write_all_at(bytes, at + offset)?;
        }
        self.written[slot] = (seq + 2, digest);
        Ok(())
    }
}

/// The writes that replace a slot's body, in order, as (byte offset in the
/// slot, bytes): the counter made odd, the body, the counter made even. Each
/// is its own `pwrite`, fenced, so that a reader (counter, body, counter)
/// can never take a body the writer was changing.
fn slot_writes(seq: u32, body: &[u32]) -> [(u64, Vec<u8>); 3] {
    [
        (0, (seq + 1).to_le_bytes().to_vec()),
        (4, body.iter().flat_map(|w| w.to_le_bytes()).collect()),
        (0, (seq + 2).to_le_bytes().to_vec()),
    ]
}

fn digest(words: &[u32]) -> u64 {
    words.iter().fold(0xcbf2_9ce4_8422_2325, |h: u64, &w| {
        (h ^ u64::from(w)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What a client read for the jobs it asked about.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// The lines to print, in the order the jobs were named.
    pub text: String,
    /// Every line is `start/running` (exit 0; else 3).
    pub running: bool,
}

/// Reads the lines of `jobs` from the page at `path`. `None` whenever the
/// page cannot answer exactly what the daemon would: no page, a page or a
/// runtime dir not owned by root or by us or writable by others (another
/// user's folder at the daemon's path, made before the daemon came), a page
/// with a second name, no daemon holding it, a job it does not hold
/// (unknown, or with too much text), a writer that never let go. The
/// caller then asks the daemon.
pub fn read(path: &Path, jobs: &[String]) -> Option<Answer> {
    let file = open_page(path)?;
    // The daemon holds LOCK_EX while it lives: a shared lock must be refused.
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Err((file, nix::errno::Errno::EWOULDBLOCK)) => lookup_all(&file, jobs),
        _ => None,
    }
}

/// Opens the page through its folder, neither of them a link, both owned
/// by root or by us and closed to others, the page a regular file with one
/// name: only the daemon (root's, or ours) can have put it there.
fn open_page(path: &Path) -> Option<File> {
    use nix::fcntl::OFlag;
    use nix::sys::stat::{Mode, fstat};
    let (dir, name) = (path.parent()?, path.file_name()?);
    let euid = nix::unistd::geteuid().as_raw();
    let ours = |st: &nix::sys::stat::FileStat, kind: u32| {
        st.st_mode & libc::S_IFMT == kind
            && (st.st_uid == 0 || st.st_uid == euid)
            && st.st_mode & 0o022 == 0
    };
    let dir = nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    if !ours(&fstat(&dir).ok()?, libc::S_IFDIR) {
        return None;
    }
    let fd = nix::fcntl::openat(
        &dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .ok()?;
    let st = fstat(&fd).ok()?;
    if !ours(&st, libc::S_IFREG) || st.st_nlink != 1 {
        return None;
    }
    Some(File::from(fd))
}

/// Where a reader gets a page's words from: the file (`pread`, a few small
/// reads, no mapping) or, in tests, memory.
trait Words {
    /// Fills `out` with the words from word `at` on; `None` past the end.
    fn words(&self, at: usize, out: &mut [u32]) -> Option<()>;

    fn word(&self, at: usize) -> Option<u32> {
        let mut w = [0u32];
        self.words(at, &mut w)?;
        Some(w[0])
    }
}

impl Words for File {
    fn words(&self, at: usize, out: &mut [u32]) -> Option<()> {
        let mut bytes = [0u8; SLOT_WORDS * 4];
        let bytes = bytes.get_mut(..out.len() * 4)?;
        self.read_exact_at(bytes, (at * 4) as u64).ok()?;
        for (w, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Some(())
    }
}

/// Reads the lines of `jobs` from a page's bytes, as [`read`] does from the
/// file once it believes it (the same lookup, no ownership or lock to
/// check). Why: what a page holds is arbitrary bytes to the reader, and the
/// fuzz target feeds it exactly that.
pub fn read_bytes(page: &[u8], jobs: &[String]) -> Option<Answer> {
    lookup_all(&Bytes(page), jobs)
}

/// A page held in memory as its bytes.
struct Bytes<'a>(&'a [u8]);

impl Words for Bytes<'_> {
    fn words(&self, at: usize, out: &mut [u32]) -> Option<()> {
        let start = at.checked_mul(4)?;
        let end = start.checked_add(out.len().checked_mul(4)?)?;
        let bytes = self.0.get(start..end)?;
        for (w, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        Some(())
    }
}

/// The answer for `jobs` from a page (the core of [`read`]).
fn lookup_all(page: &impl Words, jobs: &[String]) -> Option<Answer> {
    let mut header = [0u32; 4];
    page.words(0, &mut header)?;
    if header[0] != MAGIC || header[1] != VERSION {
        return None;
    }
    let layout = Layout {
        buckets: usize::try_from(header[2]).ok()?,
        slots: usize::try_from(header[3]).ok()?,
    };
    if layout.buckets == 0 {
        return None;
    }
    let mut out = Answer {
        text: String::new(),
        running: true,
    };
    for job in jobs {
        let (text, running) = lookup(page, layout, job.as_bytes())?;
        out.text.push_str(&text);
        out.running &= running;
    }
    Some(out)
}

/// One job's text and running flag, or `None` (not held, overflow, busy).
/// Probes the index [`PROBE_WORDS`] buckets per read, and reads only the
/// slots whose tag is the name's.
fn lookup(page: &impl Words, layout: Layout, name: &[u8]) -> Option<(String, bool)> {
    let h = hash(name);
    let mut b = h as usize % layout.buckets;
    let mut run = [0u32; PROBE_WORDS];
    let mut probed = 0;
    while probed < layout.buckets {
        let n = PROBE_WORDS.min(layout.buckets - b);
        page.words(HEADER_WORDS + b, &mut run[..n])?;
        for &entry in &run[..n] {
            let slot = (entry & SLOT_MASK) as usize;
            if slot == 0 || slot > layout.slots {
                // Empty (the name is not held), or garbage.
                return None;
            }
            if entry >> SLOT_BITS != tag(h) {
                continue;
            }
            let (meta, text) = read_slot(page, layout.slot(slot - 1))?;
            let name_len = (meta >> 8 & 0xff) as usize;
            if name_len == name.len() && text.as_bytes().starts_with(name) {
                if meta & OVERFLOW != 0 {
                    return None;
                }
                return Some((text, meta & RUNNING != 0));
            }
        }
        probed += n;
        b = (b + n) % layout.buckets;
    }
    None
}

/// A consistent copy of the slot at word `at`: its meta word and text. A
/// seqlock read: the counter, the body, the counter again, each its own read
/// and fenced, so a body the writer was changing is never taken.
fn read_slot(page: &impl Words, at: usize) -> Option<(u32, String)> {
    let mut body = [0u32; SLOT_WORDS - 1];
    for _ in 0..READ_TRIES {
        let before = page.word(at)?;
        if before & 1 == 1 {
            std::hint::spin_loop();
            continue;
        }
        fence(Ordering::SeqCst);
        page.words(at + 1, &mut body)?;
        fence(Ordering::SeqCst);
        if page.word(at)? == before {
            let len = ((body[0] >> 16) as usize).min(TEXT_BYTES);
            let mut bytes: Vec<u8> = body[1..].iter().flat_map(|w| w.to_le_bytes()).collect();
            bytes.truncate(len);
            return String::from_utf8(bytes).ok().map(|t| (body[0], t));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// A page in memory, written and read the way the file is.
    struct Mem(Vec<AtomicU32>);

    impl Words for Mem {
        fn words(&self, at: usize, out: &mut [u32]) -> Option<()> {
            let src = self.0.get(at..at + out.len())?;
            for (o, w) in out.iter_mut().zip(src) {
                *o = w.load(Ordering::Relaxed);
            }
            Some(())
        }
    }

    impl std::ops::Deref for Mem {
        type Target = [AtomicU32];
        fn deref(&self) -> &[AtomicU32] {
            &self.0
        }
    }

    fn atomics(bytes: &[u8]) -> Mem {
        Mem(bytes
            .chunks(4)
            .map(|c| AtomicU32::new(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect())
    }

    fn jobs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// The first `steps` writes of `slot_writes(seq, body)` into the slot at
    /// word `at`: the writer's own sequence, on memory.
    fn apply(words: &[AtomicU32], at: usize, seq: u32, body: &[u32], steps: usize) {
        for (offset, bytes) in slot_writes(seq, body).iter().take(steps) {
            for (k, c) in bytes.chunks(4).enumerate() {
                let w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                words[at + *offset as usize / 4 + k].store(w, Ordering::Release);
            }
        }
    }

    /// Sets the slot of `name` as the writer does.
    fn set(words: &[AtomicU32], slots: &[Box<str>], name: &str, text: &str, running: bool) {
        let i = slots.iter().position(|n| &**n == name).expect("slot");
        let at = Layout::for_names(slots.len()).slot(i);
        let seq = words[at].load(Ordering::Relaxed);
        apply(words, at, seq, &encode(name, text, running), 3);
    }

    /// A page in memory for `names`, with the slots of `written` set, each
    /// (name, text, running), as the writer sets them.
    fn page(names: &[&str], written: &[(&str, &str, bool)]) -> Mem {
        let (bytes, slots) = build(names);
        let words = atomics(&bytes);
        for &(name, text, running) in written {
            set(&words, &slots, name, text, running);
        }
        words
    }

    #[test]
    fn lines_come_back_in_the_order_asked() {
        let words = page(
            &["web", "db", "gitorious/resque-worker"],
            &[
                ("web", "web start/running, process 7\n", true),
                ("db", "db stop/waiting\n", false),
                (
                    "gitorious/resque-worker",
                    "gitorious/resque-worker (high) start/running, process 9\n\
                     gitorious/resque-worker (low) start/running, process 10\n",
                    true,
                ),
            ],
        );
        let a = lookup_all(&words, &jobs(&["db", "web"])).expect("answer");
        assert_eq!(a.text, "db stop/waiting\nweb start/running, process 7\n");
        assert!(!a.running);
        let a = lookup_all(&words, &jobs(&["web"])).expect("answer");
        assert!(a.running);
        // Two instances need more than a slot: ask the daemon.
        assert_eq!(
            lookup_all(&words, &jobs(&["gitorious/resque-worker"])),
            None
        );
    }

    #[test]
    fn unknown_unset_and_prefix_names_are_not_answered() {
        let words = page(
            &["web", "webapp"],
            &[("webapp", "webapp start/running, process 3\n", true)],
        );
        assert_eq!(lookup_all(&words, &jobs(&["nope"])), None);
        assert_eq!(lookup_all(&words, &jobs(&["we"])), None);
        // Built but never set: overflow until the daemon writes it.
        assert_eq!(lookup_all(&words, &jobs(&["web"])), None);
        assert_eq!(lookup_all(&words, &jobs(&["webapp", "nope"])), None);
        assert!(lookup_all(&words, &jobs(&["webapp"])).is_some());
    }

    #[test]
    fn a_slot_being_written_is_not_read() {
        let words = page(&["web"], &[("web", "web start/running, process 7\n", true)]);
        let at = Layout::for_names(1).slot(0);
        words[at].fetch_add(1, Ordering::Relaxed);
        assert_eq!(lookup_all(&words, &jobs(&["web"])), None);
        words[at].fetch_add(1, Ordering::Relaxed);
        assert!(lookup_all(&words, &jobs(&["web"])).is_some());
    }

    #[test]
    fn long_names_and_texts_fall_back() {
        let long = "x".repeat(TEXT_BYTES + 1);
        let (bytes, slots) = build(&[&long, "a"]);
        assert_eq!(slots.len(), 1);
        let words = atomics(&bytes);
        assert_eq!(lookup_all(&words, &jobs(&[&long])), None);
        let text = format!("a {}\n", "y".repeat(TEXT_BYTES));
        set(&words, &slots, "a", &text, true);
        assert_eq!(lookup_all(&words, &jobs(&["a"])), None);
    }

    #[test]
    fn garbage_pages_are_refused() {
        assert_eq!(lookup_all(&Mem(Vec::new()), &jobs(&["a"])), None);
        let (bytes, _) = build(&["a"]);
        let words = atomics(&bytes);
        words[2].store(1 << 30, Ordering::Relaxed);
        assert_eq!(lookup_all(&words, &jobs(&["a"])), None);
        words[2].store(16, Ordering::Relaxed);
        words[3].store(1 << 30, Ordering::Relaxed);
        assert_eq!(lookup_all(&words, &jobs(&["a"])), None);
        words[2].store(0, Ordering::Relaxed);
        assert_eq!(lookup_all(&words, &jobs(&["a"])), None);
        words[0].store(0, Ordering::Relaxed);
        assert_eq!(lookup_all(&words, &jobs(&["a"])), None);
    }

    #[test]
    fn the_runtime_dir_is_never_the_socket() {
        for (socket, dir) in [
            ("/run/gsup.sock", "/run/gsup.d"),
            ("/tmp/gsup-1000.sock", "/tmp/gsup-1000.d"),
            ("/x/sock", "/x/sock.d"),
            ("/x/gsup.d", "/x/gsup.d.d"),
        ] {
            assert_eq!(runtime_dir(Path::new(socket)), Path::new(dir), "{socket}");
        }
    }

    /// Counts a page's reads: each is a `pread` on the file.
    struct Counted<'a>(&'a Mem, std::cell::Cell<usize>);

    impl Words for Counted<'_> {
        fn words(&self, at: usize, out: &mut [u32]) -> Option<()> {
            self.1.set(self.1.get() + 1);
            self.0.words(at, out)
        }
    }

    /// Every one of 1000 names is found, each in five reads (header,
    /// buckets, counter, body, counter): the tags spare the slots of the
    /// other names in the probe run, which took 4 reads each (6.3 per lookup
    /// on average for this page before).
    #[test]
    fn many_names_all_found_in_five_reads_each() {
        let names: Vec<String> = (0..1000).map(|i| format!("job{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (bytes, slots) = build(&refs);
        let words = atomics(&bytes);
        for n in &names {
            set(&words, &slots, n, &format!("{n} stop/waiting\n"), false);
        }
        let (mut total, mut most) = (0, 0);
        for n in &names {
            let page = Counted(&words, std::cell::Cell::new(0));
            let a = lookup_all(&page, std::slice::from_ref(n)).expect("found");
            assert_eq!(a.text, format!("{n} stop/waiting\n"));
            total += page.1.get();
            most = most.max(page.1.get());
        }
        assert_eq!(total, 5 * names.len(), "most {most}");
    }

    /// A page on disk for `names`, each `NAME stop/waiting`.
    fn on_disk(names: &[&str]) -> (tempfile::TempDir, PathBuf, PageWriter) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("status");
        let mut w = PageWriter::create(&path, names).expect("create");
        for n in names {
            put(&mut w, n, &format!("{n} stop/waiting\n"), false);
        }
        (dir, path, w)
    }

    fn put(w: &mut PageWriter, name: &str, text: &str, running: bool) {
        let slot = w.slot(name).expect("slot");
        w.set(slot, text, running).expect("set");
    }

    #[test]
    fn the_file_round_trip_needs_a_live_writer() {
        let (_dir, path, mut w) = on_disk(&["web", "db"]);
        put(&mut w, "web", "web start/running, process 7\n", true);
        assert_eq!(w.slot("nope"), None);
        w.set(7, "x\n", true)
            .expect("a slot it does not have is ignored");
        let a = read(&path, &jobs(&["web", "db"])).expect("answer");
        assert_eq!(a.text, "web start/running, process 7\ndb stop/waiting\n");
        assert!(!a.running);
        // A rebuilt page replaces the old one; the old writer's lock goes with it.
        let mut w2 = PageWriter::create(&path, &["web"]).expect("rebuild");
        put(&mut w2, "web", "web stop/waiting\n", false);
        drop(w);
        let a = read(&path, &jobs(&["web"])).expect("answer");
        assert_eq!(a.text, "web stop/waiting\n");
        // No writer holding it: the page is stale.
        drop(w2);
        assert_eq!(read(&path, &jobs(&["web"])), None);
    }

    /// `read_bytes` (the fuzz target's entry) reads a page's bytes as
    /// `read` reads the file.
    #[test]
    fn bytes_and_file_agree() {
        let (_dir, path, mut w) = on_disk(&["web", "db"]);
        put(&mut w, "web", "web start/running, process 7\n", true);
        let bytes = std::fs::read(&path).expect("page bytes");
        for asked in [&["web", "db"][..], &["db"], &["nope"], &["web", "nope"]] {
            assert_eq!(
                read_bytes(&bytes, &jobs(asked)),
                read(&path, &jobs(asked)),
                "{asked:?}"
            );
        }
        assert!(read_bytes(&bytes, &jobs(&["web"])).is_some());
        for cut in [0, 3, 16, 40, bytes.len() - 1] {
            assert_eq!(
                read_bytes(&bytes[..cut], &jobs(&["web", "db"])),
                None,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_page_others_can_write_is_not_believed() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, path, _w) = on_disk(&["web"]);
        assert!(read(&path, &jobs(&["web"])).is_some());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert_eq!(read(&path, &jobs(&["web"])), None);
    }

    /// The seqlock from the writer's side, at every point of a rewrite: a
    /// reader either refuses the slot or gets a whole text.
    #[test]
    fn every_step_of_a_rewrite_reads_whole_or_not_at_all() {
        let (bytes, _) = build(&["a"]);
        let page = atomics(&bytes);
        let at = Layout::for_names(1).slot(0);
        let old = encode("a", "a stop/waiting\n", false);
        let new = encode("a", "a start/running, process 1111111111\n", true);
        apply(&page, at, 0, &old, 3);
        let ok = |text: &str| lookup_all(&page, &jobs(&["a"])).map(|a| a.text) == Some(text.into());
        assert!(ok("a stop/waiting\n"));
        // The body changes only while the counter is odd.
        apply(&page, at, 2, &new, 1);
        assert_eq!(lookup_all(&page, &jobs(&["a"])), None);
        apply(&page, at, 2, &new, 2);
        assert_eq!(lookup_all(&page, &jobs(&["a"])), None);
        apply(&page, at, 2, &new, 3);
        assert!(ok("a start/running, process 1111111111\n"));
    }

    /// End to end through the file: a reader racing the writer sees one
    /// whole text or the other, never a mix. A race is hit by chance (with
    /// the odd counter left out it failed in 1 run of 5); the step test
    /// above is the one that must fail.
    #[test]
    fn a_racing_reader_never_sees_a_torn_slot() {
        let (_dir, path, mut w) = on_disk(&["a"]);
        let one = "a start/running, process 1111111111\n";
        let two = "a stop/waiting\n";
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (path, stop) = (path.clone(), stop.clone());
            std::thread::spawn(move || {
                // The page held open: many more reads per write than `read`.
                let file = File::open(&path).expect("open");
                let (mut seen, mut busy) = ([0usize; 2], 0usize);
                while !stop.load(Ordering::Relaxed) {
                    match lookup_all(&file, &jobs(&["a"])) {
                        Some(a) if a.text == one && a.running => seen[0] += 1,
                        Some(a) if a.text == two && !a.running => seen[1] += 1,
                        Some(a) => panic!("torn read: {a:?}"),
                        None => busy += 1,
                    }
                }
                (seen, busy)
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(300);
        let mut flip = false;
        while std::time::Instant::now() < deadline {
            flip = !flip;
            let (text, running) = if flip { (one, true) } else { (two, false) };
            put(&mut w, "a", text, running);
        }
        stop.store(true, Ordering::Relaxed);
        let (seen, busy) = reader.join().expect("reader");
        assert!(seen[0] > 0 && seen[1] > 0, "{seen:?}, busy {busy}");
    }

    proptest::proptest! {
        /// Any page, however broken (random words, or a real page with words
        /// overwritten), is answered or refused, never a panic.
        #[test]
        fn garbage_never_panics(words in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..400),
                                flips in proptest::collection::vec((0usize..400, proptest::prelude::any::<u32>()), 0..8)) {
            let random = Mem(words.into_iter().map(AtomicU32::new).collect());
            let _ = lookup_all(&random, &jobs(&["web", "db", ""]));
            let real = page(&["web", "db"], &[("web", "web stop/waiting\n", false)]);
            for (at, w) in flips {
                if let Some(x) = real.0.get(at) {
                    x.store(w, Ordering::Relaxed);
                }
            }
            let _ = lookup_all(&real, &jobs(&["web", "db"]));
        }
    }
}

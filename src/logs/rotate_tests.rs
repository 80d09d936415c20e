//! Tests of the line and rotation rules against an in-memory log.

use super::*;
use proptest::prelude::*;

/// Every file the log has had, oldest first; the last is the current one.
#[derive(Default)]
struct Mem {
    files: Vec<Vec<u8>>,
    writes: usize,
}

impl Mem {
    fn new() -> Mem {
        Mem {
            files: vec![Vec::new()],
            writes: 0,
        }
    }
    fn texts(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    }
}

impl Out for Mem {
    fn size(&self) -> u64 {
        self.files.last().map_or(0, |f| f.len() as u64)
    }
    fn write(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        self.writes += 1;
        let cur = self.files.last_mut().expect("a file");
        for p in parts {
            cur.extend_from_slice(p);
        }
        Ok(())
    }
    fn rotate(&mut self) -> io::Result<()> {
        self.files.push(Vec::new());
        Ok(())
    }
    fn rotate_keeping_tail(&mut self, from: u64) -> io::Result<()> {
        let cur = self.files.last_mut().expect("a file");
        let tail = cur.split_off(from as usize);
        self.files.push(tail);
        Ok(())
    }
}

fn run(max: Option<u64>, chunks: &[&[u8]]) -> Mem {
    let mut out = Mem::new();
    let mut src = Source::default();
    let mut scratch = Vec::new();
    for c in chunks {
        feed(&mut out, Limits { max }, &mut src, c, b"", &mut scratch).expect("feed");
    }
    finish(&mut out, Limits { max }, &mut src).expect("finish");
    out
}

#[test]
fn rotation_decision_at_the_exact_boundary() {
    assert!(
        !rotate_before(0, 100, Some(10)),
        "an empty file takes any line"
    );
    assert!(!rotate_before(5, 5, Some(10)), "exactly max_size fits");
    assert!(rotate_before(5, 6, Some(10)), "one byte past it does not");
    assert!(!rotate_before(5, 6, None));
    assert!(rotate_before(1, 1, Some(0)), "max 0: one line per file");
    assert!(!rotate_before(u64::MAX, 1, None));
    assert!(rotate_before(u64::MAX, u64::MAX, Some(u64::MAX)));
}

#[test]
fn a_file_fills_to_max_size_exactly() {
    let out = run(Some(10), &[b"aaaa\nbbbb\ncccc\n"]);
    assert_eq!(out.texts(), ["aaaa\nbbbb\n", "cccc\n"]);
    let out = run(Some(10), &[b"aaaa\nbbbbb\ncc\n"]);
    assert_eq!(out.texts(), ["aaaa\n", "bbbbb\ncc\n"]);
}

#[test]
fn a_line_longer_than_max_goes_alone() {
    let out = run(Some(4), &[b"ab\n0123456789\ncd\n"]);
    assert_eq!(out.texts(), ["ab\n", "0123456789\n", "cd\n"]);
    let out = run(Some(4), &[b"0123456789\n"]);
    assert_eq!(out.texts(), ["0123456789\n"], "no empty file before it");
}

#[test]
fn a_line_split_across_reads_stays_whole() {
    let out = run(Some(10), &[b"aaaa\nbb", b"bbb", b"b\ncc\n"]);
    assert_eq!(out.texts(), ["aaaa\n", "bbbbbb\ncc\n"]);
}

#[test]
fn a_long_open_line_moves_to_the_fresh_file() {
    let long = vec![b'x'; CARRY_MAX + 10];
    let first = [b"ab\n".as_slice(), &long[..CARRY_MAX + 1]].concat();
    let max = Some(CARRY_MAX as u64 + 5);
    let out = run(max, &[&first, &long[CARRY_MAX + 1..], b"\ncd\n"]);
    let mut line = long.clone();
    line.push(b'\n');
    assert_eq!(out.files, vec![b"ab\n".to_vec(), line, b"cd\n".to_vec()]);
}

#[test]
fn a_partial_line_is_ended_by_finish() {
    let out = run(Some(100), &[b"abc"]);
    assert_eq!(out.texts(), ["abc\n"]);
    let out = run(None, &[b""]);
    assert_eq!(out.texts(), [""]);
}

#[test]
fn fast_path_is_one_write_per_read() {
    let mut out = Mem::new();
    let mut src = Source::default();
    let lines: Vec<u8> = (0..1000)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    let mut scratch = Vec::new();
    let lim = Limits { max: Some(1 << 20) };
    feed(&mut out, lim, &mut src, &lines, b"", &mut scratch).expect("feed");
    assert_eq!(out.writes, 1);
}

#[test]
fn stamps_mark_when_a_line_began() {
    let mut out = Mem::new();
    let mut src = Source::default();
    let mut s = Vec::new();
    let lim = Limits { max: None };
    feed(&mut out, lim, &mut src, b"a\nb", b"T1 ", &mut s).expect("feed");
    feed(&mut out, lim, &mut src, b"c\nd\n", b"T2 ", &mut s).expect("feed");
    write_line(&mut out, lim, b"T3 ", b"gsup: exited 0").expect("note");
    assert_eq!(out.texts(), ["T1 a\nT1 bc\nT2 d\nT3 gsup: exited 0\n"]);
}

/// Splits `input` into chunks of the given lengths (cycled).
fn chunked<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while at < input.len() {
        let n = sizes[k % sizes.len()].max(1).min(input.len() - at);
        out.push(&input[at..at + n]);
        at += n;
        k += 1;
    }
    out
}

fn line_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![
            8 => 0usize..40,
            1 => 40usize..200,
            1 => (CARRY_MAX - 10)..(CARRY_MAX * 3),
        ],
        0..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the line lengths, read sizes and max_size: every byte is kept
    /// in order, each line is in one file, a file is rotated only when the
    /// next line would take it past max_size, and only a file holding one
    /// line is larger than max_size.
    #[test]
    fn rotation_keeps_every_line_whole(
        lens in line_strategy(),
        sizes in prop::collection::vec(1usize..70_000, 1..8),
        max in prop_oneof![Just(None), (0u64..60_000).prop_map(Some)],
        stamped in any::<bool>(),
    ) {
        let lines: Vec<Vec<u8>> = lens
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let mut l = vec![b'a' + (i % 26) as u8; n];
                l.push(b'\n');
                l
            })
            .collect();
        let input: Vec<u8> = lines.concat();
        let chunks = chunked(&input, &sizes);
        let mut out = Mem::new();
        let mut src = Source::default();
        let mut scratch = Vec::new();
        let lim = Limits { max };
        // The chunk in which each line's first byte arrived gives its stamp.
        let mut expected = Vec::new();
        let mut at = 0usize;
        let mut line_starts = Vec::new();
        let mut pos = 0usize;
        for l in &lines {
            line_starts.push(pos);
            pos += l.len();
        }
        let mut bounds = Vec::new();
        for (k, c) in chunks.iter().enumerate() {
            bounds.push((at, at + c.len(), k));
            at += c.len();
        }
        for (l, &start) in lines.iter().zip(&line_starts) {
            if stamped {
                let k = bounds.iter().find(|b| b.0 <= start && start < b.1).map_or(0, |b| b.2);
                expected.push([format!("[{k}]").into_bytes(), l.clone()].concat());
            } else {
                expected.push(l.clone());
            }
        }
        for (k, c) in chunks.iter().enumerate() {
            let stamp = if stamped { format!("[{k}]").into_bytes() } else { Vec::new() };
            feed(&mut out, lim, &mut src, c, &stamp, &mut scratch).expect("feed");
        }
        finish(&mut out, lim, &mut src).expect("finish");
        prop_assert!(!src.mid_line());
        prop_assert_eq!(out.files.concat(), expected.concat());
        // Cut the files back into lines: each file holds whole lines.
        let mut li = 0;
        let mut per_file: Vec<Vec<usize>> = Vec::new();
        for f in &out.files {
            let mut off = 0;
            let mut these = Vec::new();
            while off < f.len() {
                let l = &expected[li];
                prop_assert_eq!(&f[off..off + l.len()], &l[..], "line {} split", li);
                off += l.len();
                these.push(l.len());
                li += 1;
            }
            per_file.push(these);
        }
        prop_assert_eq!(li, expected.len());
        if let Some(m) = max {
            for (i, f) in per_file.iter().enumerate() {
                let size: usize = f.iter().sum();
                prop_assert!(size as u64 <= m || f.len() == 1, "file {} is {} > {}", i, size, m);
                if i + 1 < per_file.len() {
                    prop_assert!(!f.is_empty(), "empty file {} rotated", i);
                    let next = per_file[i + 1].first().copied().unwrap_or(0);
                    prop_assert!((size + next) as u64 > m, "file {} rotated early", i);
                }
            }
        } else {
            prop_assert_eq!(out.files.len(), 1);
        }
    }
}

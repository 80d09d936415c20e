//! The documentation stands alone: README.md and docs/*.md link only to files
//! inside the repository that exist, and never cite a contract kept elsewhere.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 10, "{docs:?}");
    pages.extend(docs);
    pages
}

/// The link targets of a markdown text, with their line numbers: inline
/// `[text](target "title")` and reference definitions `[name]: target`,
/// outside fenced code blocks.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('[')
            && let Some((label, target)) = trimmed.split_once("]: ")
            && !label.contains("](")
        {
            out.push((n + 1, first_word(target)));
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = closing_paren(after);
            out.push((n + 1, first_word(&after[..end])));
            rest = &after[end..];
        }
    }
    out
}

/// The index of the `)` that closes a link target (targets may hold `(...)`).
fn closing_paren(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return i,
            ')' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

fn first_word(target: &str) -> String {
    let t = target.trim();
    let t = t
        .strip_prefix('<')
        .and_then(|t| t.split_once('>').map(|(a, _)| a))
        .unwrap_or_else(|| t.split_whitespace().next().unwrap_or(""));
    t.to_owned()
}

/// Why `target`, linked from `page`, is broken; `None` when it is fine.
fn broken(page: &Path, target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("empty link".into());
    }
    if target.starts_with('#') || target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let path = target.split('#').next().unwrap_or(target);
    if path.starts_with('/') {
        return Some("an absolute path, outside the repository".into());
    }
    let dir = page.parent().expect("page dir");
    let Ok(resolved) = dir.join(path).canonicalize() else {
        return Some("no such file".into());
    };
    let repo = root().canonicalize().expect("repo root");
    if !resolved.starts_with(&repo) {
        return Some("outside the repository".into());
    }
    None
}

/// Where `text` cites something kept outside the repository: the shared
/// directory, or the contract by name (`SPEC`, `SPEC section 3`, `SPEC §3`).
fn citations(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.contains("../shared") || line.contains("shared/seed") {
            out.push((n + 1, "mentions ../shared".into()));
        }
        let bytes = line.as_bytes();
        let mut from = 0;
        while let Some(i) = line[from..].find("SPEC").map(|i| i + from) {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            let after = bytes.get(i + 4).copied();
            let word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !word(before) && !word(after) {
                out.push((n + 1, "cites the SPEC".into()));
            }
            from = i + 4;
        }
    }
    out
}

#[test]
fn relative_links_stay_inside_and_exist() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = fs::read_to_string(&page).expect("read page");
        for (line, target) in links(&text) {
            checked += 1;
            if let Some(why) = broken(&page, &target) {
                problems.push(format!("{}:{line}: ({target}): {why}", page.display()));
            }
        }
    }
    assert!(checked >= 15, "only {checked} links found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_page_cites_what_is_not_in_the_repository() {
    let mut problems = Vec::new();
    for page in pages() {
        let text = fs::read_to_string(&page).expect("read page");
        for (line, what) in citations(&text) {
            problems.push(format!("{}:{line}: {what}", page.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checks themselves catch what they are for.
#[test]
fn the_checks_can_fail() {
    let page = root().join("docs/commands.md");
    assert!(broken(&page, "../../elsewhere.md").is_some());
    assert!(broken(&page, "../../shared/SPEC.md").is_some());
    assert!(broken(&page, "nope.md").is_some());
    assert!(broken(&page, "/etc/passwd").is_some());
    assert_eq!(broken(&page, "graph.md#the-start-order"), None);
    assert_eq!(broken(&page, "../README.md"), None);
    assert_eq!(broken(&page, "https://example.org/x"), None);
    let text =
        "see [a](a.md), [b](<b c.md> \"t\") and [c](x(1).md)\n```\n[d](d.md)\n```\n[e]: e.md\n";
    let found: Vec<String> = links(text).into_iter().map(|(_, t)| t).collect();
    assert_eq!(found, ["a.md", "b c.md", "x(1).md", "e.md"]);
    assert_eq!(citations("as SPEC section 3 says").len(), 1);
    assert_eq!(citations("SPEC §4, SPEC 1, the SPEC's table").len(), 3);
    assert_eq!(citations("a SPECIAL case, ASPECT").len(), 0);
    assert_eq!(citations("see ../shared/x").len(), 1);
}

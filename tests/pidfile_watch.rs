//! Tests of the inotify `Watcher` (pidfiles, SPEC section 4): inotify on the pidfile's directory sees
//! a rename into place, an in-place rewrite and a rename away. Files only, no signals.

use gsup::sys::inotify::{Change, Watcher as PidfileWatcher};
use std::fs;
use std::io::Write;
use std::time::Duration;

fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gsup-watch-")
        .tempdir()
        .expect("tempdir")
}

/// Collects events until `key` shows `want`, or fails after 5 s.
async fn expect_change(w: &mut PidfileWatcher<&'static str>, key: &str, want: Change) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let batch = tokio::time::timeout_at(deadline, w.next())
            .await
            .unwrap_or_else(|_| panic!("no {want:?} for {key} within 5s"))
            .expect("inotify read");
        assert!(!batch.is_empty());
        if batch.iter().any(|(k, c)| *k == key && *c == want) {
            return;
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn sees_rename_into_place_and_away() {
    rt().block_on(async {
        let d = dir();
        let pf = d.path().join("unicorn.pid");
        let mut w = PidfileWatcher::new().expect("watcher");
        w.watch(&pf, "unicorn").expect("watch");
        // Unicorn: write a temp file, rename it into place.
        let tmp = d.path().join("unicorn.pid.tmp");
        fs::write(&tmp, "42\n").expect("write");
        fs::rename(&tmp, &pf).expect("rename");
        expect_change(&mut w, "unicorn", Change::Written).await;
        // USR2: the old master renames its file to .oldbin.
        fs::rename(&pf, d.path().join("unicorn.pid.oldbin")).expect("rename");
        expect_change(&mut w, "unicorn", Change::Removed).await;
    });
}

#[test]
fn sees_in_place_rewrite_and_delete() {
    rt().block_on(async {
        let d = dir();
        let pf = d.path().join("nginx.pid");
        fs::write(&pf, "41\n").expect("write");
        let mut w = PidfileWatcher::new().expect("watcher");
        w.watch(&pf, "nginx").expect("watch");
        // nginx: O_TRUNC then write, same inode.
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&pf)
            .expect("open");
        f.write_all(b"43\n").expect("write");
        drop(f);
        expect_change(&mut w, "nginx", Change::Written).await;
        fs::remove_file(&pf).expect("rm");
        expect_change(&mut w, "nginx", Change::Removed).await;
    });
}

#[test]
fn other_names_are_ignored_and_keys_share_a_directory() {
    rt().block_on(async {
        let d = dir();
        let a = d.path().join("a.pid");
        let b = d.path().join("b.pid");
        let mut w = PidfileWatcher::new().expect("watcher");
        w.watch(&a, "a").expect("watch a");
        w.watch(&b, "b").expect("watch b");
        fs::write(d.path().join("unrelated"), "x").expect("write");
        assert_eq!(w.read_pending().expect("read"), vec![]);
        fs::write(&b, "7\n").expect("write");
        let got = w.read_pending().expect("read");
        assert_eq!(got, vec![("b", Change::Written)]);
        // Unwatching a keeps b's watch on the shared directory.
        w.unwatch(&"a");
        fs::write(&a, "8\n").expect("write");
        fs::write(&b, "9\n").expect("write");
        expect_change(&mut w, "b", Change::Written).await;
        assert!(
            !w.read_pending()
                .expect("read")
                .iter()
                .any(|(k, _)| *k == "a")
        );
    });
}

#[test]
fn removed_directory_reports_lost() {
    rt().block_on(async {
        let d = dir();
        let sub = d.path().join("run");
        fs::create_dir(&sub).expect("mkdir");
        let mut w = PidfileWatcher::new().expect("watcher");
        w.watch(&sub.join("x.pid"), "x").expect("watch");
        fs::remove_dir(&sub).expect("rmdir");
        expect_change(&mut w, "x", Change::Lost).await;
    });
}

#[test]
fn missing_directory_is_an_error() {
    rt().block_on(async {
        let mut w: PidfileWatcher<&str> = PidfileWatcher::new().expect("watcher");
        let err = w
            .watch(std::path::Path::new("/nonexistent-gsup-dir/x.pid"), "x")
            .expect_err("no dir");
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    });
}

//! The one place gsup asks the user and group databases (NSS): a job's
//! credentials, `--control-group`, a peer's supplementary groups.
//!
//! These lookups may block (NSS can be LDAP or sssd), so they run when units
//! are loaded (before the loop, or on a blocking thread for a reload) or on a
//! blocking thread for a control peer; never on the loop that reaps.

use crate::unit::UserSpec;
use nix::unistd::{Gid, Group, Uid, User, getgrouplist};
use std::ffi::CString;

/// A job's credentials, resolved to numbers before any spawn.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Creds {
    /// `None` when gsup is not root: the groups cannot change anyway.
    pub groups: Option<Vec<u32>>,
    pub gid: u32,
    /// `None` with only a `group:` set.
    pub uid: Option<u32>,
}

impl Creds {
    /// The uid a process of the job runs as, unless it is root's (pidfile
    /// and member checks then allow any user, as root could signal anyone).
    pub fn job_uid(&self) -> Option<u32> {
        self.uid.filter(|&u| u != 0)
    }
}

/// Resolves `user` and `group` to ids. With a user and no group, the user's
/// primary group; supplementary groups from the group database
/// (getgrouplist) when gsup is root. A numeric user without a passwd entry
/// needs a `group`, and gets no other groups. Nothing is looked up when
/// neither is set (`Ok(None)`). The error is one line naming what is missing.
pub fn resolve(user: Option<&UserSpec>, group: Option<&UserSpec>) -> Result<Option<Creds>, String> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let failed = |what: &str, e: nix::Error| format!("{what}: {e}");
    // (uid, primary gid, name for the group database), when a user is set.
    let user: Option<(Uid, Option<Gid>, Option<String>)> = match user {
        None => None,
        Some(UserSpec::Name(name)) => {
            let u = User::from_name(name)
                .map_err(|e| failed("user", e))?
                .ok_or_else(|| format!("user: no user named '{name}'"))?;
            Some((u.uid, Some(u.gid), Some(u.name)))
        }
        Some(UserSpec::Id(uid)) => {
            let uid = Uid::from_raw(*uid);
            match User::from_uid(uid).map_err(|e| failed("user", e))? {
                Some(u) => Some((u.uid, Some(u.gid), Some(u.name))),
                None => Some((uid, None, None)),
            }
        }
    };
    let gid = match (group, &user) {
        (Some(UserSpec::Name(name)), _) => group_id(name)
            .map_err(|e| failed("group", e))?
            .map(Gid::from_raw)
            .ok_or_else(|| format!("group: no group named '{name}'"))?,
        (Some(UserSpec::Id(gid)), _) => Gid::from_raw(*gid),
        (None, Some((_, Some(primary), _))) => *primary,
        (None, Some((uid, None, _))) => {
            return Err(format!(
                "user: uid {uid} has no passwd entry; set `group` too"
            ));
        }
        (None, None) => return Ok(None),
    };
    let groups = if !Uid::effective().is_root() {
        None
    } else if let Some((_, _, Some(name))) = &user {
        let name =
            CString::new(name.as_bytes()).map_err(|_| "user: NUL in the name".to_string())?;
        let list = getgrouplist(&name, gid).map_err(|e| failed("groups", e))?;
        Some(list.iter().map(|g| g.as_raw()).collect())
    } else {
        Some(vec![gid.as_raw()])
    };
    Ok(Some(Creds {
        groups,
        gid: gid.as_raw(),
        uid: user.map(|(uid, _, _)| uid.as_raw()),
    }))
}

/// The gid of a group given by name or number; `Ok(None)` when unknown.
pub fn group_id(name: &str) -> nix::Result<Option<u32>> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(Some(id));
    }
    Ok(Group::from_name(name)?.map(|g| g.gid.as_raw()))
}

/// The groups of the user `uid` in the group database (`getgrouplist`);
/// empty for an unknown uid. For a control peer: `SO_PEERCRED` gives only
/// the primary gid, and the peer's pid may be 0 across PID namespaces.
pub fn supplementary_groups(uid: u32, gid: u32) -> Vec<u32> {
    let Ok(Some(user)) = User::from_uid(Uid::from_raw(uid)) else {
        return Vec::new();
    };
    let Ok(name) = CString::new(user.name) else {
        return Vec::new();
    };
    getgrouplist(&name, Gid::from_raw(gid))
        .map(|gs| gs.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_set_looks_nothing_up() {
        assert_eq!(resolve(None, None), Ok(None));
    }

    #[test]
    fn root_by_name_and_number() {
        let by_name = resolve(Some(&UserSpec::Name("root".into())), None)
            .expect("root resolves")
            .expect("creds");
        assert_eq!((by_name.uid, by_name.gid), (Some(0), 0));
        assert_eq!(by_name.job_uid(), None);
        let by_id = resolve(Some(&UserSpec::Id(0)), Some(&UserSpec::Id(0)))
            .expect("ids resolve")
            .expect("creds");
        assert_eq!((by_id.uid, by_id.gid), (Some(0), 0));
    }

    #[test]
    fn unknown_names_are_one_line_errors() {
        let e = resolve(Some(&UserSpec::Name("gsup-no-such-user".into())), None)
            .expect_err("unknown user");
        assert_eq!(e, "user: no user named 'gsup-no-such-user'");
        let e = resolve(None, Some(&UserSpec::Name("gsup-no-such-group".into())))
            .expect_err("unknown group");
        assert_eq!(e, "group: no group named 'gsup-no-such-group'");
        let e = resolve(Some(&UserSpec::Id(4_000_000_000)), None).expect_err("no passwd entry");
        assert!(e.contains("set `group` too"), "{e}");
    }

    #[test]
    fn groups_of_root() {
        assert!(supplementary_groups(0, 0).contains(&0));
        assert!(supplementary_groups(4_000_000_000, 7).is_empty());
        assert_eq!(group_id("0"), Ok(Some(0)));
        assert_eq!(group_id("root"), Ok(Some(0)));
    }
}

//! Two guests on one stateroot, or two bridges on one uplink: which claimant is refused. The
//! higher-priority directory wins, as it does for files of the same name, so a vendor file cannot
//! get the administrator's guest or bridge refused; claimants in the same directory are all
//! refused, because nothing says which one was meant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Bridge, ConfigError, Guest};
use crate::paths::CONFIG_DIRS;

/// The rank of a booted-system config path: 0 for the highest-priority directory.
fn rank(file: &Path) -> usize {
    CONFIG_DIRS
        .iter()
        .position(|d| file.starts_with(d))
        .unwrap_or(CONFIG_DIRS.len())
}

/// Why one claimant of a contested thing is refused; the positions are in the claimants' list.
enum Loss {
    /// Claimants in the same, highest, directory: all of them are refused. All tied, self included.
    Tie(Vec<usize>),
    /// Claimants in a higher-priority directory hold it.
    Outranked(Vec<usize>),
}

/// For each claimant (by its file) of one thing, its loss, or None for the single winner.
fn verdicts(files: &[PathBuf]) -> Vec<Option<Loss>> {
    let best = files.iter().map(|f| rank(f)).min().unwrap_or_default();
    let top: Vec<usize> = (0..files.len())
        .filter(|&i| files.get(i).is_some_and(|f| rank(f) == best))
        .collect();
    files
        .iter()
        .map(|f| {
            if rank(f) != best {
                Some(Loss::Outranked(top.clone()))
            } else if top.len() > 1 {
                Some(Loss::Tie(top.clone()))
            } else {
                None
            }
        })
        .collect()
}

/// Indexes of the claimants of each contested key, in input order.
fn contested(claims: impl Iterator<Item = (String, usize)>) -> Vec<(String, Vec<usize>)> {
    let mut by_key: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (key, i) in claims {
        let owners = by_key.entry(key).or_default();
        if !owners.contains(&i) {
            owners.push(i);
        }
    }
    by_key.into_iter().filter(|(_, v)| v.len() > 1).collect()
}

/// A claimant that is refused, by its position in the caller's list.
struct Lost {
    item: usize,
    key: String,
    /// Tied in the highest directory (`rivals`: all tied, itself included, in list order), or
    /// outranked (`rivals`: the winners).
    tie: bool,
    rivals: Vec<usize>,
}

impl Lost {
    /// The rivals other than itself, each as `label` names it.
    fn others(&self, label: impl Fn(usize) -> String, sep: &str) -> String {
        let items = self.rivals.iter().filter(|r| **r != self.item);
        items.map(|r| label(*r)).collect::<Vec<_>>().join(sep)
    }
}

/// The refused claimants of every contested key; `file` gives an item's config file, which ranks
/// it.
fn losers(
    claims: impl Iterator<Item = (String, usize)>,
    file: impl Fn(usize) -> PathBuf,
) -> Vec<Lost> {
    let mut out = Vec::new();
    for (key, idx) in contested(claims) {
        let files: Vec<PathBuf> = idx.iter().map(|i| file(*i)).collect();
        let items = |positions: Vec<usize>| -> Vec<usize> {
            positions
                .iter()
                .filter_map(|p| idx.get(*p).copied())
                .collect()
        };
        for (&item, loss) in idx.iter().zip(verdicts(&files)) {
            let (tie, rivals) = match loss {
                None => continue,
                Some(Loss::Tie(tied)) => (true, items(tied)),
                Some(Loss::Outranked(winners)) => (false, items(winners)),
            };
            let key = key.clone();
            out.push(Lost {
                item,
                key,
                tie,
                rivals,
            });
        }
    }
    out
}

/// Two guests on one stateroot would share its `/var` and step on each other's state. A guest's
/// claim ranks by the directory of its main file.
pub(super) fn refuse_shared_stateroots(guests: &mut [Guest]) {
    let claims = guests.iter().enumerate().filter_map(|(i, g)| {
        let s = g.settings.as_ref().ok()?;
        Some((s.stateroot.as_str().to_owned(), i))
    });
    let mains: Vec<PathBuf> = guests
        .iter()
        .map(|g| g.sources.first().cloned().unwrap_or_default())
        .collect();
    let main = |i: usize| mains.get(i).cloned().unwrap_or_default();
    for l in losers(claims, main) {
        let (stateroot, others) = (&l.key, l.others(|i| main(i).display().to_string(), ", "));
        let message = if l.tie {
            format!(
                "stateroot \"{stateroot}\" is also used by {others}; two guests on one stateroot would share its /var, so both are refused"
            )
        } else {
            format!(
                "stateroot \"{stateroot}\" is also used by {others}, in a higher-priority directory, which takes precedence; two guests on one stateroot would share its /var, so this one is refused"
            )
        };
        if let Some(g) = guests.get_mut(l.item) {
            g.settings = Err(ConfigError {
                file: main(l.item),
                line: None,
                key: Some("stateroot".into()),
                message,
            });
        }
    }
}

/// An uplink can be a port of one bridge only.
pub(super) fn refuse_shared_uplinks(bridges: &mut [Bridge]) {
    let claims = bridges.iter().enumerate().flat_map(|(i, b)| {
        let uplinks = b
            .settings
            .as_ref()
            .map(|c| c.uplinks.as_slice())
            .unwrap_or_default();
        uplinks.iter().map(move |u| (u.to_string(), i))
    });
    let files: Vec<PathBuf> = bridges.iter().map(|b| b.source.clone()).collect();
    let names: Vec<String> = bridges.iter().map(|b| b.name.clone()).collect();
    let file = |i: usize| files.get(i).cloned().unwrap_or_default();
    let name = |i: usize| names.get(i).cloned().unwrap_or_default();
    for l in losers(claims, file) {
        let uplink = &l.key;
        let message = if l.tie {
            let tied: Vec<String> = l.rivals.iter().map(|i| name(*i)).collect();
            format!(
                "uplink {uplink} is claimed by the bridges {}; an interface can be the port of one bridge only",
                tied.join(" and ")
            )
        } else {
            format!(
                "uplink {uplink} is also claimed by {}, in a higher-priority directory, which takes precedence; an interface can be the port of one bridge only, so this declaration is refused",
                l.others(|i| file(i).display().to_string(), ", ")
            )
        };
        if let Some(b) = bridges.get_mut(l.item) {
            b.settings = Err(ConfigError {
                file: file(l.item),
                line: None,
                key: Some("uplinks".into()),
                message,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(files: &[&str]) -> Vec<&'static str> {
        let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        verdicts(&files)
            .iter()
            .map(|v| match v {
                None => "wins",
                Some(Loss::Tie(_)) => "tie",
                Some(Loss::Outranked(_)) => "outranked",
            })
            .collect()
    }

    #[test]
    fn the_higher_directory_wins_and_a_tie_refuses_all() {
        let (etc, run, usr) = (
            "/etc/ostree-guests.d/a.toml",
            "/run/ostree-guests.d/b.toml",
            "/usr/lib/ostree-guests.d/c.toml",
        );
        assert_eq!(outcome(&[usr, etc]), ["outranked", "wins"]);
        assert_eq!(outcome(&[run, usr]), ["wins", "outranked"]);
        assert_eq!(
            outcome(&[etc, "/etc/ostree-guests.d/d.toml", usr]),
            ["tie", "tie", "outranked"]
        );
        assert_eq!(
            outcome(&[usr, "/usr/lib/ostree-guests.d/d.toml"]),
            ["tie", "tie"]
        );
    }
}

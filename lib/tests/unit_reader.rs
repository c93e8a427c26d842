//! The strict unit reader (the fuzz targets' oracle) against hand-written unit text and every
//! golden drop-in under tests/generator/*/expected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};

use ostree_guests::config::{Guest, MAX_FILE_SIZE};
use ostree_guests::fuzzing;
use ostree_guests::name::MachineName;
use ostree_guests::paths::{DROPIN_NAME, HELPER};
use ostree_guests::render;
use ostree_guests::unit_reader::{self as ur, Item, LONG_LINE_MAX, UnitFile};

/// Every directive a drop-in may contain, per section, in the order the renderer writes them.
const UNIT_KEYS: &[&str] = &[
    "Description",
    "Documentation",
    "SourcePath",
    "RequiresMountsFor",
    "Wants",
    "After",
];
const SERVICE_KEYS: &[&str] = &[
    "Environment",
    "ExecStart",
    "Restart",
    "RestartSec",
    "TimeoutStartSec",
    "RestartPreventExitStatus",
    "OOMPolicy",
    "MemoryMax",
    "CPUQuota",
    "TasksMax",
    "IOWeight",
    "DevicePolicy",
    "DeviceAllow",
];

/// The shape every generated drop-in has; `Err` names what is wrong. `name` is the machine name
/// from the drop-in's directory.
fn check_dropin(text: &str, name: &str) -> Result<(), String> {
    let f: UnitFile = ur::read(text).map_err(|e| e.to_string())?;
    let first = f
        .items
        .iter()
        .position(|i| matches!(i, Item::Section(_)))
        .unwrap_or(f.items.len());
    if f.items[first..]
        .iter()
        .any(|i| matches!(i, Item::Comment(_)))
    {
        return Err("comment after the header".into());
    }
    if f.sections() != ["Unit", "Service"] {
        return Err(format!("sections {:?}", f.sections()));
    }
    // Keys in the allowed order (repeats only for Environment= and the two ExecStart=).
    let mut pos = 0;
    let mut last = "";
    for (section, key, _) in f.directives() {
        let order = if section == "Unit" {
            UNIT_KEYS
        } else {
            SERVICE_KEYS
        };
        let Some(i) = order.iter().position(|k| *k == key) else {
            return Err(format!("unexpected directive {section}.{key}"));
        };
        let i = i + if section == "Unit" {
            0
        } else {
            UNIT_KEYS.len()
        };
        let repeat_ok = matches!(key, "Environment" | "ExecStart");
        if i < pos || (i == pos && last == key && !repeat_ok) {
            return Err(format!("{section}.{key} out of order or repeated"));
        }
        pos = i;
        last = key;
    }
    let description = f.values("Unit", "Description");
    if description.len() != 1 {
        return Err("not exactly one Description=".into());
    }
    ur::specifiers(description[0]).map_err(|e| e.to_string())?;
    let exec = f.values("Service", "ExecStart");
    let [reset, cmd] = exec.as_slice() else {
        return Err(format!("{} ExecStart= lines", exec.len()));
    };
    if !reset.is_empty() {
        return Err("the first ExecStart= does not reset the template's".into());
    }
    let cmd = ur::exec(cmd).map_err(|e| e.to_string())?;
    let ok = cmd.prefixes.is_empty()
        && (cmd.argv == [HELPER, "--", name] || cmd.argv == [HELPER, "--config-error", "--", name]);
    if !ok {
        return Err(format!("ExecStart runs {:?}", cmd.argv));
    }
    Ok(())
}

fn golden_dropins() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/generator");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|x| x == DROPIN_NAME)
                && p.components().any(|c| c.as_os_str() == "expected")
            {
                let name = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .and_then(|d| d.to_str())
                    .and_then(|d| d.strip_prefix("systemd-nspawn@"))
                    .and_then(|d| d.strip_suffix(".service.d"))
                    .unwrap()
                    .to_owned();
                out.push((p, name));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_golden_dropin_reads_back_and_injections_are_detected() {
    let files = golden_dropins();
    assert!(
        files.len() >= 10,
        "found only {} golden drop-ins",
        files.len()
    );
    for (path, name) in &files {
        let text = std::fs::read_to_string(path).unwrap();
        check_dropin(&text, name).unwrap_or_else(|e| panic!("{}: {e}", path.display()));

        let after_description = |extra: &str| {
            let (head, tail) = text.split_once("\nDocumentation=").unwrap();
            format!("{head}{extra}\nDocumentation={tail}")
        };
        let injections = [
            // A directive smuggled through a newline in a value.
            after_description("\nExecStartPre=/bin/evil"),
            // A second command.
            text.replace(
                "\nRestart=",
                &format!("\nExecStart={HELPER} {name}\nRestart="),
            ),
            // A continuation swallowing the next line, and a carriage return (a line end too).
            after_description("\\"),
            after_description("\rExecStartPre=/bin/evil"),
            // A specifier and a variable.
            after_description(" %i"),
            text.replace(&format!("{HELPER} "), &format!("{HELPER} $HOME ")),
            // A trailing backslash on a comment line (continues it in old systemd).
            text.replacen('\n', "\\\n", 1),
            // A directive in the header comments' place.
            format!("ExecStartPre=/bin/evil\n{text}"),
        ];
        for (i, bad) in injections.iter().enumerate() {
            assert!(
                check_dropin(bad, name).is_err(),
                "{}: injection {i} not detected:\n{bad}",
                path.display()
            );
        }
    }
}

#[test]
fn hand_written_units() {
    let text = "# a comment with 100% and \"quotes\"\n\n[Unit]\nDescription=100%% \"q\" back\\slash\n\n[Service]\nEnvironment=\"A=b c\" D=\\x41\nExecStart=\nExecStart=/bin/x \"a b\" 'c' \\\" $$HOME %%i\n";
    let f = ur::read(text).unwrap();
    assert_eq!(
        f.keys(),
        [
            "Unit.Description",
            "Service.Environment",
            "Service.ExecStart",
            "Service.ExecStart"
        ]
    );
    assert_eq!(
        ur::specifiers(f.values("Unit", "Description")[0]).unwrap(),
        "100% \"q\" back\\slash"
    );
    assert_eq!(
        ur::words(f.values("Service", "Environment")[0], true).unwrap(),
        ["A=b c", "D=A"]
    );
    let cmd = ur::exec(f.values("Service", "ExecStart")[1]).unwrap();
    assert_eq!(cmd.argv, ["/bin/x", "a b", "c", "\"", "$HOME", "%i"]);

    for bad in [
        "[Unit]\nDescription=a\\\nExecStart=/bin/evil\n",
        "[Unit]\nDescription=a\rExecStart=/bin/evil\n",
        "[Unit]\nDescription=a\0b\n",
        "[Unit]\nDescription=a\n  ExecStart=/bin/evil\n",
        "[Unit]\nDescription = a\n",
        "[Unit]\n.include /etc/x\n",
        "Description=outside\n[Unit]\n",
        "[Unit]\nDescription=no final newline",
        "# comment \\\n[Unit]\n",
    ] {
        assert!(ur::read(bad).is_err(), "{bad:?}");
    }
    for bad in [
        "/bin/x $A",
        "/bin/x ${A}",
        "/bin/x %i",
        "/bin/x \"a",
        "/bin/x a\"b\"",
    ] {
        assert!(ur::exec(bad).is_err(), "{bad:?}");
    }
    assert_eq!(ur::exec("-/bin/x").unwrap().prefixes, "-");
}

fn fail_closed_for(name: &str, config: &[u8]) -> String {
    let name = MachineName::parse(name).unwrap();
    let main = PathBuf::from(format!("/etc/ostree-guests.d/{name}.toml"));
    let err = fuzzing::load_texts(&name, &[(&main, config)]).unwrap_err();
    let guest = Guest {
        name,
        sources: vec![main],
        settings: Err(err.clone()),
    };
    render::fail_closed_dropin(&guest, &err.to_string())
}

/// Found by fuzz/config_render (corpus seed): an error message with a key holding a backslash
/// and a newline puts a backslash at the end of a comment line. systemd 252 does not continue
/// comments, but older ones did, and a reader must not depend on the blank line that follows.
#[test]
fn error_message_cannot_end_a_comment_with_a_backslash() {
    let text = fail_closed_for("web", b"\"a\\\\\\nb\" = 1\n");
    check_dropin(&text, "web").unwrap_or_else(|e| panic!("{e}\n{text}"));
}

/// Longest line of the fail-closed drop-in for `config`.
fn longest_line(config: &str) -> usize {
    let text = fail_closed_for("web", config.as_bytes());
    check_dropin(&text, "web").unwrap();
    text.lines().map(str::len).max().unwrap_or(0)
}

/// Characters that Debug-format to long escapes: combining marks, C1 controls, unassigned code
/// points (2 bytes in UTF-8, up to 7 in a message), escaped controls and tabs.
const FILLERS: &[&str] = &["\u{300}", "\u{85}", "\u{378}", "\\u0001", "\\t"];

fn filled(filler: &str) -> String {
    let budget = usize::try_from(MAX_FILE_SIZE).unwrap() - 64;
    filler.repeat(budget / filler.len())
}

/// systemd stops reading a drop-in at a line of LONG_LINE_MAX bytes and silently ignores the
/// rest, so a fail-closed drop-in whose reason line is that long no longer resets ExecStart=:
/// the stock template would run. Messages that quote a value once stay below the limit.
#[test]
fn error_lines_quoting_a_value_once_stay_below_systemd_line_limit() {
    for filler in FILLERS {
        let value = filled(filler);
        for config in [
            format!("[[bind]]\nsource = \"/\u{1}{value}\"\n"),
            format!("description = \"{value}\"\n"),
            format!("deployment = \"{value}\"\n"),
            format!("\"{value}\" = 1\n"),
            format!("[resources]\nmemory-max = \"{value}\"\n"),
        ] {
            let n = longest_line(&config);
            let first = config.lines().next().unwrap_or_default();
            assert!(
                n < LONG_LINE_MAX - 1,
                "{filler:?} in {first}: a {n}-byte line"
            );
        }
    }
}

/// Found while writing the test above: the environment-name error quotes the name twice (raw in
/// the key path, Debug-escaped in the message), 256 KiB of U+0300 make a 1,179,495-byte comment
/// line, and systemd 252 then ignores the whole rest of the fail-closed drop-in (checked with
/// systemd-analyze verify): its ExecStart= reset never applies.
#[test]
fn environment_name_error_stays_below_systemd_line_limit() {
    let value = filled("\u{300}");
    let n = longest_line(&format!("[environment]\n\"{value}\" = \"x\"\n"));
    assert!(n < LONG_LINE_MAX - 1, "a {n}-byte line");
}

//! The system packages the tests need (tests/system-packages): `cargo xtask test` installs
//! them once, before any test, in one apt-get call; tests only check. These tests run the
//! installers against a stub `apt-get` that behaves like the real one under contention: it
//! holds a lock for a second and fails, as apt does, when another apt-get holds it. The stub
//! and a PATH of only the tools the scripts use hide whatever is really installed here, so
//! nothing is installed or uninstalled on this machine.

use crate::util::{stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Fails the calling test, with set-up's reason, when a group's packages are missing.
pub fn require(group: &str) {
    let out = Command::new("bash").args([&format!("{ROOT}/tests/system-packages"), "check", group]).output().expect("cannot run tests/system-packages");
    assert!(out.status.success(), "{}", stderr(&out).trim());
}

/// FAKE apt-get, for these tests only: takes apt's lock (a directory, created atomically)
/// or fails with apt's message when it is held; logs its arguments; for `install`, holds the
/// lock a second and then puts a stub command for each package's programs on PATH.
const STUB_APT_GET: &str = r#"#!/bin/bash
lock="$STUB/apt.lock"
if ! mkdir "$lock" 2>/dev/null; then
  echo "E: Could not get lock $lock. It is held by another apt-get" >&2
  exit 100
fi
echo "$*" >> "$STUB/calls"
sleep 1
case " $* " in *" install "*)
  for p in "$@"; do
    case "$p" in
      slurm-wlm) progs="slurmctld slurmd" ;;
      munge) progs="munged" ;;
      chromium) progs="chromium" ;;
      *) progs="" ;;
    esac
    for c in $progs; do printf '#!/bin/bash\n' > "$STUB/bin/$c"; chmod +x "$STUB/bin/$c"; done
  done ;;
esac
rmdir "$lock"
"#;

/// A folder whose bin/ is the whole PATH: the stub apt-get, a stub `id` (uid from $STUB_UID),
/// and links to the few real tools the scripts use.
struct Stub {
    dir: tempfile::TempDir,
}

impl Stub {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        write_exe(&bin.join("apt-get"), STUB_APT_GET);
        write_exe(&bin.join("id"), "#!/bin/bash\necho \"${STUB_UID:-0}\"\n");
        for tool in ["bash", "flock", "sleep", "mkdir", "rmdir", "rm", "cat", "chmod", "printf"] {
            let real = which(tool);
            std::os::unix::fs::symlink(&real, bin.join(tool)).unwrap();
        }
        Stub { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// One of the project's scripts with this stub's PATH, lock and reason files.
    fn command(&self, script: &str, args: &[&str], uid: u32) -> Command {
        let mut c = Command::new(which("bash"));
        c.arg(format!("{ROOT}/{script}")).args(args);
        c.env_clear()
            .env("PATH", self.path().join("bin"))
            .env("STUB", self.path())
            .env("STUB_UID", uid.to_string())
            .env("SWEEP_APT_LOCK", self.path().join("install.lock"))
            .env("SWEEP_APT_REASON", self.path().join("reason"))
            .env("TMPDIR", self.path());
        c
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.path().join("calls")).unwrap_or_default().lines().map(str::to_string).collect()
    }

    fn has(&self, program: &str) -> bool {
        self.path().join("bin").join(program).exists()
    }
}

fn write_exe(path: &PathBuf, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn which(tool: &str) -> PathBuf {
    let out = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().expect("sh");
    assert!(out.status.success(), "{tool} is not on this machine's PATH");
    PathBuf::from(stdout(&out).trim())
}

fn show(o: &Output) -> String {
    format!("status {}\nstdout:\n{}stderr:\n{}", o.status, stdout(o), stderr(o))
}

/// The stub is a fair stand-in: two apt-get installs at once make the second fail, as the
/// real apt-get did when the browser test and the Slurm tests each installed their packages.
#[test]
fn the_stub_apt_get_fails_when_another_holds_its_lock() {
    let stub = Stub::new();
    let apt = stub.path().join("bin/apt-get");
    let run = |pkg: &str| {
        let mut c = Command::new(&apt);
        c.args(["install", "-y", pkg]).env("STUB", stub.path()).stdout(Stdio::piped()).stderr(Stdio::piped());
        c.spawn().unwrap()
    };
    let (a, b) = (run("munge"), run("chromium"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_ne!(a.status.success(), b.status.success(), "exactly one of two concurrent stub installs fails");
    let failed = if a.status.success() { &b } else { &a };
    assert!(stderr(failed).contains("Could not get lock"), "{}", show(failed));
}

/// The two helpers a person may run by hand, started together, both succeed: they wait
/// for each other on one lock instead of losing apt's.
#[test]
fn two_installers_started_together_both_succeed() {
    let stub = Stub::new();
    let slurm = stub.command("tests/slurm/local-slurm", &["install"], 0).output_async();
    let chromium = stub.command("tests/browser/ensure-chromium", &[], 0).output_async();
    let (slurm, chromium) = (slurm.join().unwrap(), chromium.join().unwrap());
    assert!(slurm.status.success(), "local-slurm install:\n{}", show(&slurm));
    assert!(chromium.status.success(), "ensure-chromium:\n{}", show(&chromium));
    assert!(stdout(&chromium).trim().ends_with("/bin/chromium"), "ensure-chromium prints the browser's path:\n{}", show(&chromium));
    for p in ["slurmctld", "slurmd", "munged", "chromium"] {
        assert!(stub.has(p), "{p} was installed");
    }
    let installs: Vec<String> = stub.calls().into_iter().filter(|c| c.starts_with("install")).collect();
    assert_eq!(installs.len(), 2, "one install each: {installs:?}");
}

/// Set-up installs every missing package in one apt-get call, says what and why in one
/// line, and a second set-up finds them present and calls apt-get no more.
#[test]
fn setup_installs_everything_in_one_call_then_skips() {
    let stub = Stub::new();
    let first = stub.command("tests/system-packages", &["install"], 0).output().unwrap();
    assert!(first.status.success(), "{}", show(&first));
    let installs: Vec<String> = stub.calls().into_iter().filter(|c| c.starts_with("install")).collect();
    assert_eq!(installs.len(), 1, "one apt-get install: {installs:?}");
    for p in ["slurm-wlm", "munge", "chromium"] {
        assert!(installs[0].split(' ').any(|w| w == p), "{p} in {:?}", installs[0]);
    }
    let said = stderr(&first);
    assert_eq!(said.lines().count(), 1, "one line says what and why:\n{said}");
    assert!(said.contains("slurm-wlm munge chromium") && said.contains("Slurm") && said.contains("Chromium"), "{said}");

    let calls_before = stub.calls().len();
    let again = stub.command("tests/system-packages", &["install"], 0).output().unwrap();
    assert!(again.status.success(), "{}", show(&again));
    assert_eq!(stub.calls().len(), calls_before, "present packages are skipped");
    assert_eq!(stderr(&again), "", "nothing to say when all are present");
    let check = stub.command("tests/system-packages", &["check"], 0).output().unwrap();
    assert!(check.status.success(), "{}", show(&check));
}

/// Not root: set-up says once what it cannot install and why, calls no apt-get, and a test's
/// check fails with that reason rather than skipping.
#[test]
fn without_root_setup_says_why_and_checks_fail_with_that_reason() {
    let stub = Stub::new();
    let setup = stub.command("tests/system-packages", &["install"], 1000).output().unwrap();
    assert!(!setup.status.success());
    let said = stderr(&setup);
    assert_eq!(said.lines().count(), 1, "one line:\n{said}");
    assert!(said.contains("cannot install slurm-wlm munge chromium: not root"), "{said}");
    assert!(stub.calls().is_empty(), "no apt-get without root: {:?}", stub.calls());

    let check = stub.command("tests/system-packages", &["check", "slurm"], 1000).output().unwrap();
    assert!(!check.status.success());
    let said = stderr(&check);
    assert!(said.contains("slurm-wlm munge not installed") && said.contains("not root"), "the check repeats set-up's reason:\n{said}");
}

trait OutputAsync {
    fn output_async(self) -> std::thread::JoinHandle<Output>;
}

impl OutputAsync for Command {
    fn output_async(mut self) -> std::thread::JoinHandle<Output> {
        std::thread::spawn(move || self.output().expect("cannot start the installer"))
    }
}

use crate::util::{SweepDir, stderr, stdout};
use std::path::Path;
use std::process::Command;

/// The browser, installed by `cargo xtask test` before the tests (tests/system-packages);
/// never skipped: missing, the test fails with set-up's reason.
fn chromium() -> String {
    crate::system_packages::require("browser");
    let found = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| Command::new("sh").args(["-c", &format!("command -v {b}")]).output().is_ok_and(|o| o.status.success()));
    found.expect("tests/system-packages check browser passed, so chromium is on PATH").to_string()
}

/// Headless, no sandbox (root in CI), no GPU, and every network request refused.
fn headless(browser: &str) -> Command {
    let mut c = Command::new(browser);
    c.args(["--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", "--no-first-run"]);
    c
}

/// Loads the report in a frame of a page that clicks its table's headers and reports what it saw.
const CHECK: &str = r#"<!doctype html><html><body><pre id="result">pending</pre>
<iframe id="f" src="runs/web/index.html" width="1200" height="800"></iframe>
<script>
const f = document.getElementById('f');
f.addEventListener('load', () => {
  const out = {};
  try {
    const d = f.contentDocument;
    const ids = () => Array.from(d.querySelectorAll('#runs tbody tr')).map(r => r.children[1].textContent);
    const th = name => Array.from(d.querySelectorAll('#runs th')).find(h => h.textContent === name);
    out.before = ids();
    th('run').click();
    out.by_run = ids();
    th('best val').click();
    th('best val').click();
    out.by_val_desc = ids();
    out.images = Array.from(d.querySelectorAll('figure img')).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0]);
  } catch (e) { out.error = String(e); }
  document.getElementById('result').textContent = JSON.stringify(out);
});
</script></body></html>"#;

#[test]
fn the_html_report_loads_in_a_browser_with_nothing_missing_and_its_table_sorts() {
    let browser = chromium();
    let w = SweepDir::new();
    w.spec("web", "  lr: [1e-3, 3e-3]\n  dropout: [0.0, 0.1]\n");
    let out = w.sweep(&["run", "sweeps/web.yaml", "--jobs", "2"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("report: runs/web/index.html"), "the last line names the page:\n{}", stdout(&out));
    for chart in ["val_top.svg", "train_top.svg", "param_lr.svg", "param_dropout.svg", "heatmap.svg", "parallel.svg", "importance.svg"] {
        let text = w.text(&format!("runs/web/plots/{chart}"));
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{chart} is a whole SVG");
    }
    w.write("check.html", CHECK);
    let page = w.path().join("check.html");
    let run = headless(&browser)
        .args(["--allow-file-access-from-files", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let dom = stdout(&run);
    let log = stderr(&run);
    let json = dom.split("<pre id=\"result\">").nth(1).and_then(|r| r.split("</pre>").next()).unwrap_or_default().replace("&quot;", "\"");
    let seen: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("no result from the page ({e}):\n{dom}\n{log}"));
    assert!(seen.get("error").is_none(), "{seen:#}");
    let ids = |key: &str| -> Vec<String> { seen[key].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect() };
    let before = ids("before");
    assert_eq!(before.len(), 4, "one row per run: {seen:#}");
    let mut sorted = before.clone();
    sorted.sort();
    assert_eq!(ids("by_run"), sorted, "clicking `run` sorts by run id");
    let mut reversed = before.clone();
    reversed.reverse();
    assert_eq!(ids("by_val_desc"), reversed, "clicking `best val` twice sorts highest first (the page starts lowest first)");
    let images = seen["images"].as_array().unwrap();
    assert!(images.len() >= 7, "{seen:#}");
    for image in images {
        assert_eq!(image[1], true, "{image} did not load");
    }
    for bad in ["Uncaught", "Failed to load resource", "ERR_FILE_NOT_FOUND", ":ERROR:CONSOLE"] {
        assert!(!log.contains(bad), "the browser said {bad}:\n{log}");
    }

    // A screenshot of the page itself, at the size asked.
    let shot = w.path().join("shot.png");
    let run = headless(&browser)
        .args(["--window-size=1280,1600", &format!("--screenshot={}", shot.display())])
        .arg(format!("file://{}", w.path().join("runs/web/index.html").display()))
        .output()
        .expect("run chromium");
    assert!(shot.exists(), "no screenshot: {}", stderr(&run));
    assert_eq!(png_size(&shot), (1280, 1600));
}

/// Width and height from a PNG's IHDR chunk.
pub fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is a PNG", path.display());
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    (be(16), be(20))
}

#[test]
fn a_seed_repeated_grid_reports_mean_and_std_per_configuration_and_judges_gaps_against_seed_noise() {
    let w = SweepDir::new();
    w.spec("seeds", "  lr: [1e-3, 3e-2]\n  seed: [1, 2, 3]\n");
    let out = w.sweep(&["run", "sweeps/seeds.yaml", "--jobs", "2"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let out = w.sweep(&["report", "runs/seeds", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();

    // Recomputed here from the runs' own summaries.
    let loss = |lr: &str, seed: u64| w.summary("seeds", &format!("lr{lr}_seed{seed}"))["best_val_loss"].as_f64().unwrap();
    let mean_std = |xs: &[f64]| {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        (m, (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt())
    };
    let (a, b) = ([1, 2, 3].map(|s| loss("1e-3", s)), [1, 2, 3].map(|s| loss("0.03", s)));
    let ((ma, sa), (mb, sb)) = (mean_std(&a), mean_std(&b));
    let configs = report["configs"].as_array().unwrap();
    assert_eq!(configs.len(), 2, "{report:#}");
    for c in configs {
        let (m, s) = if c["params"]["lr"] == serde_json::json!(1e-3) { (ma, sa) } else { (mb, sb) };
        assert!((c["mean"].as_f64().unwrap() - m).abs() < 1e-9 && (c["std"].as_f64().unwrap() - s).abs() < 1e-9, "{c:#}");
        assert_eq!(c["runs"].as_array().unwrap().len(), 3);
    }
    let spread = ((sa * sa * 2.0 + sb * sb * 2.0) / 4.0).sqrt();
    assert!((report["seed_spread"].as_f64().unwrap() - spread).abs() < 1e-9);
    // The gap between the two lr means against twice its standard error under that spread.
    let (gap, se) = ((ma - mb).abs(), spread * (2.0f64 / 3.0).sqrt());
    let verdict = report["verdicts"][0].as_str().unwrap();
    if gap > 2.0 * se {
        assert!(verdict.ends_with(": real") && verdict.contains(&format!("by {gap:.4}")) && verdict.contains(&format!("± {se:.4}")), "{verdict}");
    } else {
        assert!(verdict.ends_with(": no difference") && verdict.contains(&format!("{gap:.4} apart")), "{verdict}");
    }
    assert!(report["by_param"].as_array().unwrap().iter().all(|e| e["param"] != "seed"), "the seed has no per-value table");
    let table = stdout(&w.sweep(&["report", "runs/seeds"]));
    assert!(table.contains("configurations over seeds") && table.contains(&format!("{ma:.4} ± {sa:.4}")), "{table}");

    // `sweep compare` overlays any runs in one picture; a folder that is not a run is refused.
    let out = w.sweep(&["compare", "runs/seeds/lr1e-3_seed1", "runs/seeds/lr0.03_seed2", "-o", "both.png"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(png_size(&w.path().join("both.png")), (900, 480));
    let out = w.sweep(&["compare", "data", "-o", "x.png"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("data has no loss.csv rows"), "{}", stderr(&out));
}

/// While the sweep trains, index.html is a live page (a banner with the runs done, running
/// and pending, reloading itself); once it has ended the page has neither.
#[test]
fn the_live_page_shows_a_banner_while_the_sweep_runs_and_none_after() {
    let browser = chromium();
    let w = SweepDir::new();
    crate::util::slow_spec(&w, "live", 400, "  lr: [1e-3, 2e-3, 3e-3]\n");
    let mut child = w.spawn(&["run", "sweeps/live.yaml", "--jobs", "1", "--no-pack"]);
    let page = w.path().join("runs/live/index.html");
    // A copy of the page as it stood once a run had finished and the next was training,
    // beside it so that its links resolve: the browser reads it while the sweep goes on.
    let mid = w.path().join("runs/live/mid.html");
    crate::util::wait_for("the live page after the first run", std::time::Duration::from_secs(240), || {
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        let ready = text.contains("1 run(s) finished, 1 running, 1 pending");
        if ready {
            std::fs::write(&mid, &text).unwrap();
        }
        ready
    });
    let dom = |file: &Path| {
        let run =
            headless(&browser).args(["--virtual-time-budget=2000", "--dump-dom"]).arg(format!("file://{}", file.display())).output().expect("run chromium");
        stdout(&run)
    };
    let during = dom(&mid);
    assert!(during.contains("id=\"live\"") && during.contains("Live: this sweep is running."), "{during}");
    assert!(during.contains("1 run(s) finished, 1 running, 1 pending"), "{during}");
    assert!(during.contains("http-equiv=\"refresh\""), "the live page reloads itself");
    assert!(during.contains("id=\"found\""), "what the sweep found so far comes first");
    let status = child.wait().unwrap();
    assert!(status.success());
    let after = dom(&page);
    assert!(after.contains("id=\"runs\"") && after.contains("What the sweep found"), "{after}");
    assert!(!after.contains("id=\"live\"") && !after.contains("http-equiv=\"refresh\""), "the finished sweep's page is not live:\n{after}");
    let found = after.find("What the sweep found").unwrap();
    assert!(found < after.find("<h2>Runs</h2>").unwrap(), "the findings come before the full table");
}

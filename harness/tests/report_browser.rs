//! `report.html` in a real browser: Debian's headless Chromium (installed by
//! `scripts/install-test-deps.sh`) loads the page from disk, with a fresh profile and
//! background networking off. The DOM after load must hold the parsed SVG timeline, the
//! browser console must stay silent (a Content-Security-Policy violation — any attempt
//! to load something — or a script error would be logged there), and the screenshot
//! must show the fault window and the success-ratio line drawn over it.
//!
//! Without Chromium these tests fail, saying how to install it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use drdrill::report::chart::{DATA_LOSS_RGB, FAULT_RGB, SUCCESS_RGB};

/// Longest a Chromium invocation may take.
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(120);

fn chromium() -> PathBuf {
    let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "Chromium is not installed ({}): run scripts/install-test-deps.sh \
                 (apt-get install chromium) — the report browser test cannot run without it",
                candidates.join(", ")
            )
        })
}

struct Browser {
    stdout: String,
    stderr: String,
}

impl Browser {
    /// Lines the page wrote to the browser console (errors, CSP violations, logs).
    fn console(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
    }
}

/// Runs headless Chromium on `page` with `extra` arguments, waiting at most
/// [`CHROMIUM_DEADLINE`] for it to exit.
fn run_chromium(page: &Path, extra: &[String]) -> Browser {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("profile");
    let (out_path, err_path) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start chromium");
    let status = support::bin::wait_exit_blocking(&mut child, CHROMIUM_DEADLINE);
    let b = Browser {
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    };
    assert!(status.success(), "chromium failed ({status}):\n{}", b.stderr);
    b
}

/// Renders the fixture `name` into a temporary copy and returns the page.
fn rendered(name: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = support::fixtures::copy_fixture(name);
    drdrill::report::rerender(&dir, &drdrill::report::Formats::all()).expect("render");
    let page = dir.join("report.html");
    (tmp, page.canonicalize().unwrap())
}

struct Image {
    width: usize,
    height: usize,
    rgb: Vec<(u8, u8, u8)>,
}

impl Image {
    fn load(path: &Path) -> Image {
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("a frame");
        let channels = info.color_type.samples();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let rgb = buf[..info.buffer_size()]
            .chunks(channels)
            .map(|p| (p[0], p[1], p[2]))
            .collect();
        Image {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        }
    }

    fn at(&self, x: usize, y: usize) -> (u8, u8, u8) {
        self.rgb[y * self.width + x]
    }

    /// Pixels within `tol` of `c` in every channel, as (x, y).
    fn matching(&self, c: (u8, u8, u8), tol: u8) -> Vec<(usize, usize)> {
        let near = |a: u8, b: u8| a.abs_diff(b) <= tol;
        (0..self.height)
            .flat_map(|y| (0..self.width).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let p = self.at(x, y);
                near(p.0, c.0) && near(p.1, c.1) && near(p.2, c.2)
            })
            .collect()
    }
}

/// The page loads with nothing logged to the console, and the DOM after load holds the
/// parsed inline SVG timeline (rectangles and polylines), the verdict and the objectives.
#[test]
fn page_loads_cleanly_with_the_svg_timeline_in_the_dom() {
    let (_tmp, page) = rendered("db-failover-async");
    let b = run_chromium(&page, &["--dump-dom".into()]);
    assert!(b.console().is_empty(), "console output: {:#?}", b.console());
    let dom = &b.stdout;
    let svg_at = dom.find("<svg").expect("an <svg> element after load");
    let svg = &dom[svg_at..dom[svg_at..].find("</svg>").map_or(dom.len(), |e| svg_at + e)];
    assert!(svg.matches("<rect").count() > 10, "axes, fault window and bars drawn");
    assert!(svg.matches("<polyline").count() >= 3, "success, latency and zone lines");
    assert!(svg.contains("fault window"));
    assert!(dom.contains(r#"data-verdict="fail""#));
    assert!(dom.contains(r#"data-objective="lost_writes""#));
}

/// The console check is not vacuous: a page that tries to load an image and run a
/// script under the same policy is reported there.
#[test]
fn console_check_sees_policy_violations() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("bad.html");
    std::fs::write(
        &page,
        r#"<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"></head><body><img src="missing.png"><script>1</script></body></html>"#,
    )
    .unwrap();
    let b = run_chromium(&page, &["--dump-dom".into()]);
    assert!(
        b.console().len() >= 2,
        "violations are logged as CONSOLE lines:\n{}",
        b.stderr
    );
}

/// The screenshot is drawn: the fault window is a large shaded block, the success-ratio
/// line crosses it, and the data-loss window shows in its colour.
#[test]
fn screenshot_shows_fault_window_and_success_line() {
    let (tmp, page) = rendered("db-failover-async");
    let shot = tmp.path().join("shot.png");
    let b = run_chromium(
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000".into(),
            "--hide-scrollbars".into(),
        ],
    );
    assert!(b.console().is_empty(), "console output: {:#?}", b.console());
    let img = Image::load(&shot);
    assert_eq!((img.width, img.height), (1400, 1000));
    let fault = img.matching(FAULT_RGB, 3);
    assert!(fault.len() > 5_000, "fault window visible: {} px", fault.len());
    let (x0, x1) = (
        fault.iter().map(|p| p.0).min().unwrap(),
        fault.iter().map(|p| p.0).max().unwrap(),
    );
    let (y0, y1) = (
        fault.iter().map(|p| p.1).min().unwrap(),
        fault.iter().map(|p| p.1).max().unwrap(),
    );
    assert!(x1 - x0 > 40 && y1 - y0 > 150, "fault block {x0}..{x1} × {y0}..{y1}");
    let success = img.matching(SUCCESS_RGB, 12);
    assert!(success.len() > 300, "success line drawn: {} px", success.len());
    let inside = success
        .iter()
        .filter(|(x, y)| (x0..=x1).contains(x) && (y0..=y1).contains(y))
        .count();
    assert!(inside > 20, "success line crosses the fault window: {inside} px");
    assert!(img.matching(DATA_LOSS_RGB, 6).len() > 100, "data-loss window drawn");
}

//! The team report's HTML as a browser shows it: Debian's `chromium`, headless, screenshots the page, and
//! the charts' series colours must cover a measurable share of the pixels, while a page without the charts
//! shows none of them. A missing chromium is a failure that says how to install it.
//!
//! `team_report`: the report made by `triaged report team` from a store filled with a year of traffic;
//! `disputes`: the disputes bridge against the real mail servers and Mailman.

mod disputes;
mod team_report;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use chrono::{TimeZone, Utc};
use triaged::records::report::chart::{self, MEDIAN, P90, PALETTE, Rgb, TARGET};
use triaged::records::report::{self, Format};

/// Tall enough for both charts (the response chart starts about 1,500 pixels down).
const WINDOW: (u32, u32) = (1000, 2600);

/// A decoded screenshot: RGB per pixel.
struct Screenshot {
    pixels: Vec<[u8; 3]>,
}

impl Screenshot {
    /// The share of pixels within a small distance of `colour` (the browser may blend edges).
    fn share(&self, colour: Rgb) -> f64 {
        let near = |p: &[u8; 3]| {
            p[0].abs_diff(colour.0) <= 3
                && p[1].abs_diff(colour.1) <= 3
                && p[2].abs_diff(colour.2) <= 3
        };
        let n = self.pixels.iter().filter(|p| near(p)).count();
        n as f64 / self.pixels.len().max(1) as f64
    }
}

fn chromium() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .context(
            "chromium is not installed: scripts/install-deps test installs it \
             (Debian's chromium, with fonts-dejavu-core)",
        )
}

/// Renders `html` in headless chromium with a fresh profile and decodes its screenshot.
async fn screenshot(html: &str) -> Result<Screenshot> {
    let browser = chromium()?;
    let dir = tempfile::tempdir()?;
    let page = dir.path().join("page.html");
    let shot = dir.path().join("shot.png");
    std::fs::write(&page, html)?;
    let run = tokio::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .context("chromium did not finish within 120 s")?
        .with_context(|| format!("run {}", browser.display()))?;
    if !out.status.success() || !shot.is_file() {
        bail!(
            "chromium failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    decode(&shot)
}

fn decode(path: &Path) -> Result<Screenshot> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().context("PNG too large")?];
    let info = reader.next_frame(&mut buf)?;
    if info.bit_depth != png::BitDepth::Eight {
        bail!("unexpected PNG bit depth {:?}", info.bit_depth);
    }
    let samples = info.color_type.samples();
    if samples < 3 {
        bail!("unexpected PNG colour type {:?}", info.color_type);
    }
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(samples)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    assert_eq!(
        (info.width, info.height),
        WINDOW,
        "the screenshot covers the window"
    );
    Ok(Screenshot { pixels })
}

/// The page with every `<svg>…</svg>` cut out: the same tables and styles, no charts.
fn without_charts(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg ") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("</svg>")
            .map_or("", |end| &rest[start + end + "</svg>".len()..]);
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn the_html_report_shows_its_charts_in_chromium() -> Result<()> {
    let generated = Utc
        .with_ymd_and_hms(2026, 1, 5, 8, 30, 0)
        .single()
        .context("a valid instant")?;
    let sample = report::example(generated);
    let charts = chart::draw(&sample)?;
    let html = report::render(&sample, Format::Html, &charts)?;
    let with = screenshot(&html).await?;
    // The five buckets of the sample year and the response chart's three lines.
    let series: Vec<(String, Rgb)> = sample
        .mail
        .buckets
        .iter()
        .enumerate()
        .map(|(i, name)| (name.clone(), PALETTE[i]))
        .chain([
            ("median".to_owned(), MEDIAN),
            ("p90".to_owned(), P90),
            ("target".to_owned(), TARGET),
        ])
        .collect();
    let mut total = 0.0;
    for (name, colour) in &series {
        let share = with.share(*colour);
        assert!(
            share > 0.0002,
            "{name} ({}) covers {share:.5} of the page",
            colour.hex()
        );
        total += with.share(*colour);
    }
    let bars: f64 = PALETTE[..sample.mail.buckets.len()]
        .iter()
        .map(|c| with.share(*c))
        .sum();
    assert!(bars > 0.03, "the bars cover {bars:.4} of the page");
    let bare = screenshot(&without_charts(&html)).await?;
    let none: f64 = series.iter().map(|(_, c)| bare.share(*c)).sum();
    assert!(
        none < 0.0005,
        "without charts the series colours cover {none:.5} (with them {total:.4})"
    );
    Ok(())
}

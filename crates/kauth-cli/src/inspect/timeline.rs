//! A token's life drawn to scale as SVG, made on the server: iat, nbf, warnafter, exp, the band
//! in which a validator with the given leeway accepts it, the validator's now and this
//! machine's. A year-long token around a 90-second skew cannot show both on one linear axis, so
//! when the life is much longer than what happens around now, a second track zooms in on the
//! validator's now, to the same rules.

use std::fmt::Write as _;

use kauth::token::{span, utc};

use super::html::esc;

/// What the timeline shows (Unix seconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct Marks {
    /// Issued at.
    pub iat: Option<i64>,
    /// Not before.
    pub nbf: Option<i64>,
    /// Stale after (bound tokens with an extended life).
    pub warnafter: Option<i64>,
    /// Expires.
    pub exp: Option<i64>,
    /// The validator's clock (this machine's plus the skew).
    pub validator_now: i64,
    /// This machine's clock.
    pub machine_now: i64,
    /// The leeway in seconds.
    pub leeway: i64,
}

impl Marks {
    /// The band a validator accepts: from the later of nbf and iat less the leeway (go-jose
    /// refuses an iat in the future as it refuses an nbf) to exp plus the leeway. `None` ends
    /// are open.
    pub fn accepted(&self) -> (Option<i64>, Option<i64>) {
        let start = match (self.nbf, self.iat) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        (start.map(|s| s - self.leeway), self.exp.map(|e| e + self.leeway))
    }

    fn points(&self) -> Vec<i64> {
        let (start, end) = self.accepted();
        [self.iat, self.nbf, self.warnafter, self.exp, start, end, Some(self.validator_now), Some(self.machine_now)]
            .into_iter()
            .flatten()
            .collect()
    }
}

const WIDTH: f64 = 1000.0;
const TRACK: f64 = 110.0;
const LEFT: f64 = 10.0;
const RIGHT: f64 = 990.0;

/// The timeline as an `<svg>` element with a text alternative.
pub fn svg(m: &Marks) -> String {
    let points = m.points();
    let (lo, hi) = (
        points.iter().copied().min().unwrap_or(m.validator_now),
        points.iter().copied().max().unwrap_or(m.validator_now),
    );
    let whole = pad(lo, hi);
    let zoom = zoom_window(m);
    let show_zoom = (whole.1 - whole.0) > 8 * (zoom.1 - zoom.0);
    let tracks = if show_zoom { 2.0 } else { 1.0 };
    let mut out = format!(
        "<svg role=\"img\" aria-labelledby=\"timeline-title\" viewBox=\"0 0 {WIDTH} {}\" xmlns=\"http://www.w3.org/2000/svg\"><title id=\"timeline-title\">{}</title>",
        TRACK * tracks,
        esc(&describe(m))
    );
    track(&mut out, m, whole, 0.0, &format!("the whole life ({})", span(whole.1 - whole.0)));
    if show_zoom {
        track(&mut out, m, zoom, TRACK, &format!("around the validator's now (±{})", span((zoom.1 - zoom.0) / 2)));
    }
    out.push_str("</svg>");
    out
}

/// Pads a range by 6% each side (at least 10 s), so marks at its ends stay visible.
fn pad(lo: i64, hi: i64) -> (i64, i64) {
    let p = ((hi - lo) / 16).max(10);
    (lo - p, hi + p)
}

/// The window around the validator's now: wide enough for the leeway twice and for the nearest
/// start of the band, nbf, iat and this machine's now when they are within a day.
fn zoom_window(m: &Marks) -> (i64, i64) {
    let now = m.validator_now;
    let (start, end) = m.accepted();
    let near = [m.iat, m.nbf, start, end, Some(m.machine_now)]
        .into_iter()
        .flatten()
        .map(|t| (t - now).abs())
        .filter(|d| *d <= 86_400)
        .max()
        .unwrap_or(0);
    let half = (2 * m.leeway).max(near + near / 3).max(120);
    (now - half, now + half)
}

fn describe(m: &Marks) -> String {
    let (start, end) = m.accepted();
    format!(
        "Timeline: accepted from {} to {} (leeway {}s); the validator's now is {}",
        start.map(utc).unwrap_or_else(|| "any time".into()),
        end.map(utc).unwrap_or_else(|| "forever".into()),
        m.leeway,
        utc(m.validator_now)
    )
}

fn track(out: &mut String, m: &Marks, (lo, hi): (i64, i64), y0: f64, title: &str) {
    let x = |t: i64| -> f64 {
        let f = (t.clamp(lo, hi) - lo) as f64 / ((hi - lo).max(1)) as f64;
        LEFT + f * (RIGHT - LEFT)
    };
    let axis = y0 + 78.0;
    let _ = write!(
        out,
        "<rect class=\"outside\" x=\"{LEFT}\" y=\"{}\" width=\"{}\" height=\"18\"/>",
        axis - 9.0,
        RIGHT - LEFT
    );
    let (start, end) = m.accepted();
    let (bx0, bx1) = (start.map_or(LEFT, x), end.map_or(RIGHT, x));
    if start.is_none_or(|s| s < hi) && end.is_none_or(|e| e > lo) {
        let _ = write!(out, "<rect class=\"band\" x=\"{bx0:.1}\" y=\"{}\" width=\"{:.1}\" height=\"18\"><title>accepted (leeway {}s)</title></rect>", axis - 9.0, (bx1 - bx0).max(1.0), m.leeway);
    }
    let _ = write!(out, "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{axis}\" x2=\"{RIGHT}\" y2=\"{axis}\"/>");
    let _ = write!(out, "<text x=\"{LEFT}\" y=\"{}\">{}</text>", y0 + 13.0, esc(title));
    let _ = write!(out, "<text class=\"tick\" x=\"{LEFT}\" y=\"{}\">{}</text>", axis + 24.0, esc(&utc(lo)));
    let _ = write!(
        out,
        "<text class=\"tick\" x=\"{RIGHT}\" y=\"{}\" text-anchor=\"end\">{}</text>",
        axis + 24.0,
        esc(&utc(hi))
    );
    // Marks that fall on the same second share a line and a label.
    let mut marks: Vec<(i64, String, &str)> = Vec::new();
    let mut add = |t: Option<i64>, label: &str, class: &'static str| {
        let Some(t) = t else { return };
        match marks.iter_mut().find(|(at, _, c)| *at == t && *c == "mark") {
            Some(existing) if class == "mark" => existing.1 = format!("{} = {label}", existing.1),
            _ => marks.push((t, label.to_owned(), class)),
        }
    };
    add(m.iat, "iat", "mark");
    add(m.nbf, "nbf", "mark");
    add(m.warnafter, "warnafter", "mark");
    add(m.exp, "exp", "mark");
    if m.machine_now != m.validator_now {
        add(Some(m.machine_now), "this machine's now", "mark machine");
    }
    add(Some(m.validator_now), "validator's now", "mark now");
    marks.sort_by_key(|(t, _, _)| *t);
    let visible: Vec<(f64, &String, &str)> = marks
        .iter()
        .filter(|(t, _, _)| (lo..=hi).contains(t))
        .map(|(t, label, class)| (x(*t), label, *class))
        .collect();
    for (px, _, class) in &visible {
        let _ = write!(
            out,
            "<line class=\"{class}\" x1=\"{px:.1}\" y1=\"{}\" x2=\"{px:.1}\" y2=\"{}\"/>",
            axis - 12.0,
            axis + 9.0
        );
    }
    // Marks closer than a label's height share one label, so none is written over another.
    let mut clusters: Vec<(f64, Vec<&str>)> = Vec::new();
    for (px, label, _) in &visible {
        match clusters.last_mut() {
            Some((first, labels)) if px - *first < 12.0 => labels.push(label.as_str()),
            _ => clusters.push((*px, vec![label.as_str()])),
        }
    }
    let mut row_end = [f64::MIN; 3];
    for (px, labels) in clusters {
        let label = labels.join(", ");
        let width = label.chars().count() as f64 * 6.5;
        let anchor_end = px + width > RIGHT;
        let (from, to) = if anchor_end { (px - width, px) } else { (px, px + width) };
        let row = row_end
            .iter()
            .position(|end| from > *end + 8.0)
            .unwrap_or_else(|| row_end.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i));
        row_end[row] = to;
        let ty = axis - 16.0 - 14.0 * row as f64;
        let _ = write!(
            out,
            "<line class=\"leader\" x1=\"{px:.1}\" y1=\"{}\" x2=\"{px:.1}\" y2=\"{}\"/>",
            ty + 3.0,
            axis - 12.0
        );
        let _ = write!(
            out,
            "<text x=\"{px:.1}\" y=\"{ty}\" text-anchor=\"{}\">{}</text>",
            if anchor_end { "end" } else { "start" },
            esc(&label)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 000: issued (iat = nbf) by a node 90 s ahead, extended to a year.
    fn seed(skew: i64) -> Marks {
        let nbf = 1_669_536_841;
        Marks {
            iat: Some(nbf),
            nbf: Some(nbf),
            warnafter: Some(nbf + 3607),
            exp: Some(nbf + 365 * 86_400),
            validator_now: nbf - 90 + skew,
            machine_now: nbf - 90,
            leeway: 60,
        }
    }

    #[test]
    fn the_band_starts_a_leeway_before_nbf_and_ends_a_leeway_after_exp() {
        let m = seed(0);
        assert_eq!(m.accepted(), (Some(1_669_536_841 - 60), Some(1_669_536_841 + 365 * 86_400 + 60)));
        let none = Marks { validator_now: 5, machine_now: 5, leeway: 60, ..Marks::default() };
        assert_eq!(none.accepted(), (None, None));
    }

    #[test]
    fn a_year_long_token_gets_a_zoomed_track_around_now() {
        let s = svg(&seed(0));
        assert!(s.starts_with("<svg role=\"img\""));
        assert!(s.contains("around the validator&#39;s now (±2m)"), "{s}");
        assert!(s.contains(">iat = nbf</text>"), "equal times share one label");
        assert!(s.contains(">validator&#39;s now, iat = nbf, warnafter</text>"), "near marks share one label: {s}");
        assert!(!s.contains(">this machine&#39;s now</text>"), "no skew: one now");
        assert!(s.contains("the validator&#39;s now is 2022-11-27T08:12:31Z"));
        let skewed = svg(&seed(90));
        assert!(skewed.contains(">this machine&#39;s now</text>"));
        assert!(skewed.contains("the validator&#39;s now is 2022-11-27T08:14:01Z"));
        // A token of a few minutes needs no zoom.
        let short = Marks { exp: Some(1_669_536_841 + 600), warnafter: None, ..seed(0) };
        assert!(!svg(&short).contains("around the validator"));
    }

    #[test]
    fn the_zoom_is_to_scale() {
        // In a ±120 s window over 980 px, the band's start (nbf - 60 = now + 30) is 122.5 px
        // right of the centre.
        let (lo, hi) = zoom_window(&seed(0));
        assert_eq!(hi - lo, 240);
        let s = svg(&seed(0));
        assert!(s.contains("<rect class=\"band\" x=\"622.5\""), "{s}");
    }
}

//! Hand-written SVG bar charts for the suite's report: one group of horizontal bars per case,
//! one bar per client, each labelled with its value. No dependencies; plain text out.

use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const LABEL: f64 = 300.0;
const BAR: f64 = 14.0;
const GAP: f64 = 10.0;
const TOP: f64 = 40.0;
const COLOURS: [&str; 5] = ["#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e"];

/// Groups of (client, value) bars under a label; clients keep one colour across groups.
pub(crate) fn bar_chart(title: &str, groups: &[(String, Vec<(String, f64)>)]) -> String {
    let mut clients: Vec<&str> = Vec::new();
    for (_, bars) in groups {
        for (c, _) in bars {
            if !clients.contains(&c.as_str()) {
                clients.push(c);
            }
        }
    }
    let max = groups
        .iter()
        .flat_map(|(_, b)| b.iter().map(|(_, v)| *v))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let bars: usize = groups.iter().map(|(_, b)| b.len()).sum();
    let legend = 20.0 * clients.len() as f64;
    let height = TOP + bars as f64 * BAR + groups.len() as f64 * GAP + legend + 20.0;
    let span = WIDTH - LABEL - 80.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="22" font-size="14" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let mut y = TOP;
    for (label, group) in groups {
        let mid = y + group.len() as f64 * BAR / 2.0 + 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{:.0}" y="{mid:.1}" text-anchor="end">{}</text>"#,
            LABEL - 8.0,
            escape(label)
        );
        for (client, value) in group {
            let i = clients.iter().position(|c| c == client).unwrap_or(0);
            let colour = COLOURS.get(i % COLOURS.len()).copied().unwrap_or("#888");
            let w = if value.is_finite() {
                value / max * span
            } else {
                0.0
            };
            let _ = writeln!(
                s,
                r#"<rect x="{LABEL}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{colour}"><title>{}: {value:.2}</title></rect><text x="{:.1}" y="{:.1}">{}</text>"#,
                BAR - 2.0,
                escape(client),
                LABEL + w + 4.0,
                y + BAR - 4.0,
                number(*value)
            );
            y += BAR;
        }
        y += GAP;
    }
    for (i, client) in clients.iter().enumerate() {
        let colour = COLOURS.get(i % COLOURS.len()).copied().unwrap_or("#888");
        let ly = y + 10.0 + 20.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<rect x="{LABEL}" y="{:.1}" width="12" height="12" fill="{colour}"/><text x="{:.0}" y="{ly:.1}">{}</text>"#,
            ly - 10.0,
            LABEL + 18.0,
            escape(client)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn number(v: f64) -> String {
    if !v.is_finite() {
        "–".to_owned()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

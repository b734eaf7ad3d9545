//! The soak chart: a multi-panel SVG line chart of the relay's tasks, connections, fds, RSS and
//! threads over time, with warm-up shaded and the end of the load marked.
//!
//! Owns: the SVG text. Must never: read or write files.

use super::Row;
use std::fmt::Write;

const W: f64 = 900.0;
const PANEL_H: f64 = 150.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const GAP: f64 = 30.0;
const COLORS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

type Getter = fn(&Row) -> f64;

struct Panel {
    title: &'static str,
    lines: Vec<(&'static str, Getter)>,
}

fn panels() -> Vec<Panel> {
    vec![
        Panel {
            title: "live tasks",
            lines: vec![("live_tasks", |r| r.s.live_tasks as f64)],
        },
        Panel {
            title: "connections and streams",
            lines: vec![
                ("inbound", |r| r.s.inbound_connections as f64),
                ("upstream", |r| r.s.upstream_connections as f64),
                ("open streams", |r| r.s.open_streams as f64),
                ("CLOSE_WAIT", |r| r.s.tcp_close_wait as f64),
            ],
        },
        Panel {
            title: "open fds",
            lines: vec![("fds", |r| r.s.open_fds as f64)],
        },
        Panel {
            title: "RSS (MiB)",
            lines: vec![("RSS", |r| r.s.rss_bytes as f64 / 1048576.0)],
        },
        Panel {
            title: "threads",
            lines: vec![("threads", |r| r.s.threads as f64)],
        },
    ]
}

/// The chart; `warm_end` and `load_end` are times (s) marked on every panel.
pub fn svg(rows: &[Row], warm_end: f64, load_end: f64, title: &str) -> String {
    let panels = panels();
    let h = TOP + panels.len() as f64 * (PANEL_H + GAP) + 20.0;
    let t_max = rows.last().map_or(1.0, |r| r.t).max(1.0);
    let plot_w = W - LEFT - RIGHT;
    let x = |t: f64| LEFT + t / t_max * plot_w;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{LEFT}" y="20" font-size="14">{}</text>
"#,
        escape(title)
    );
    for (i, p) in panels.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL_H + GAP);
        let bottom = top + PANEL_H;
        let ys: Vec<f64> = rows
            .iter()
            .flat_map(|r| p.lines.iter().map(move |(_, g)| g(r)))
            .collect();
        let y_max = ys.iter().copied().fold(0.0f64, f64::max).max(1.0) * 1.1;
        let y = |v: f64| bottom - v / y_max * PANEL_H;
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{top}" width="{}" height="{PANEL_H}" fill="#fafafa" stroke="#999"/>"##,
            x(t_max) - LEFT
        );
        let _ = writeln!(
            out,
            r##"<rect x="{LEFT}" y="{top}" width="{}" height="{PANEL_H}" fill="#eee"/>"##,
            (x(warm_end.min(t_max)) - LEFT).max(0.0)
        );
        let _ = writeln!(
            out,
            r##"<line x1="{0}" y1="{top}" x2="{0}" y2="{bottom}" stroke="#555" stroke-dasharray="4 3"/>"##,
            x(load_end.min(t_max))
        );
        let _ = writeln!(
            out,
            r#"<text x="{LEFT}" y="{}" font-weight="bold">{}</text>"#,
            top - 5.0,
            escape(p.title)
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text><text x="{}" y="{}" text-anchor="end">0</text>"#,
            LEFT - 5.0,
            top + 10.0,
            fmt_num(y_max),
            LEFT - 5.0,
            bottom
        );
        for (j, (name, get)) in p.lines.iter().enumerate() {
            let color = COLORS[j % COLORS.len()];
            let pts: Vec<String> = rows
                .iter()
                .map(|r| format!("{:.1},{:.1}", x(r.t), y(get(r))))
                .collect();
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
                pts.join(" ")
            );
            let ly = top + 15.0 + j as f64 * 15.0;
            let last = rows.last().map_or(0.0, get);
            let _ = writeln!(
                out,
                r#"<text x="{}" y="{ly}" fill="{color}">{} (last {})</text>"#,
                W - RIGHT + 10.0,
                escape(name),
                fmt_num(last)
            );
        }
    }
    let axis_y = h - 10.0;
    let _ = writeln!(
        out,
        r#"<text x="{LEFT}" y="{axis_y}">0 s</text><text x="{}" y="{axis_y}" text-anchor="end">{} s (shaded: warm-up; dashed: load stops)</text>"#,
        x(t_max),
        fmt_num(t_max)
    );
    out.push_str("</svg>\n");
    out
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

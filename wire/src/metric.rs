//! The shape of a metric definition, shared by the crates' `metrics.rs` lists so that
//! docs/operations.md is checked against one rendering of them.

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric: name, type, labels and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    pub name: &'static str,
    pub kind: MetricKind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

/// Markdown table rows (`| name | type | labels | meaning |`) of `defs`, in order.
pub fn markdown_rows(defs: &[MetricDef]) -> String {
    let mut out = String::new();
    for d in defs {
        let labels = if d.labels.is_empty() { "—".to_owned() } else { d.labels.join(", ") };
        out.push_str(&format!("| `{}` | {} | {} | {} |\n", d.name, d.kind.as_str(), labels, d.help));
    }
    out
}

//! The report as text for people (what was checked, then each finding with its cause and fix);
//! JSON is the report's own serialization (`-o json`).

use std::fmt::Write as _;

use super::finding::{Report, Severity};

/// The report as text.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "kauth doctor: {} (context {:?}, server {})", r.kubeconfig, r.context, r.server);
    let _ = writeln!(out);
    for n in &r.notes {
        let _ = writeln!(out, "  ok    {:<18} {}", n.check.name(), n.text);
    }
    let _ = writeln!(out);
    if r.findings.is_empty() {
        let _ = writeln!(out, "No findings: this credential works against this server.");
        return out;
    }
    let errors = r.findings.iter().filter(|f| f.severity == Severity::Error).count();
    let _ = writeln!(
        out,
        "{} finding{} ({errors} error{}, {} warning{}):",
        r.findings.len(),
        plural(r.findings.len()),
        plural(errors),
        r.findings.len() - errors,
        plural(r.findings.len() - errors)
    );
    for f in &r.findings {
        let sev = match f.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "warn ",
        };
        let _ = writeln!(out, "\n  {sev} {}", f.check.name());
        let _ = writeln!(out, "        cause: {}", f.cause);
        let _ = writeln!(out, "        fix:   {}", f.fix);
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::super::finding::Check;
    use super::*;

    #[test]
    fn text_lists_notes_then_findings_with_cause_and_fix() {
        let mut r = Report::new("admin.conf".into(), "ctx".into(), "https://127.0.0.1:6443".into());
        r.note(Check::Kubeconfig, "parsed");
        assert!(text(&r).contains("No findings"), "{}", text(&r));
        r.error(Check::Clock, "the server is 1m30s ahead", "run chrony");
        let t = text(&r);
        assert!(t.contains("  ok    kubeconfig         parsed"), "{t}");
        assert!(t.contains("1 finding (1 error, 0 warnings):"), "{t}");
        assert!(t.contains("ERROR clock\n        cause: the server is 1m30s ahead\n        fix:   run chrony"), "{t}");
    }
}

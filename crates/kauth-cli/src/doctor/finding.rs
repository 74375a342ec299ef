//! What `kauth doctor` reports: one [`Finding`] per problem (severity, the check that found
//! it, the cause and the fix), and [`Note`]s on what was checked and found sound.

use serde::Serialize;

/// The check groups, in the order doctor runs and prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The kubeconfig: parses, the context, the files it names, their permissions.
    Kubeconfig,
    /// The server: reachable, its TLS certificate chain, names and expiry.
    Server,
    /// The client certificate: expiry, EKU, identity, the CAs the server asks for.
    ClientCertificate,
    /// A bearer token: expiry, audience, issuer, key, staleness.
    Token,
    /// An exec credential plugin.
    ExecPlugin,
    /// Clock skew between this machine and the server.
    Clock,
    /// Who the server says the credential is, and what it may do.
    Identity,
    /// Proxies from the environment or the kubeconfig.
    Proxy,
}

impl Check {
    /// The name printed and used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Check::Kubeconfig => "kubeconfig",
            Check::Server => "server",
            Check::ClientCertificate => "client-certificate",
            Check::Token => "token",
            Check::ExecPlugin => "exec-plugin",
            Check::Clock => "clock",
            Check::Identity => "identity",
            Check::Proxy => "proxy",
        }
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The credential does not work, or will not for some requests.
    Error,
    /// It works, but is a risk or will stop working.
    Warning,
}

/// One problem, with its cause and its fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// The check that found it.
    pub check: Check,
    /// What is wrong, with the values compared.
    pub cause: String,
    /// What to do.
    pub fix: String,
}

/// Something checked and found sound, or a fact worth seeing (the identity, the chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// The check.
    pub check: Check,
    /// What was seen.
    pub text: String,
}

/// Everything doctor found about one kubeconfig context.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The kubeconfig file.
    pub kubeconfig: String,
    /// The context examined.
    pub context: String,
    /// Its server.
    pub server: String,
    /// True when there are no findings.
    pub healthy: bool,
    /// What was checked, in order.
    pub notes: Vec<Note>,
    /// The problems, in the order of the checks.
    pub findings: Vec<Finding>,
}

impl Report {
    /// An empty report on `context` of `kubeconfig`.
    pub fn new(kubeconfig: String, context: String, server: String) -> Self {
        Report { kubeconfig, context, server, healthy: true, notes: Vec::new(), findings: Vec::new() }
    }

    /// Records a sound observation.
    pub fn note(&mut self, check: Check, text: impl Into<String>) {
        self.notes.push(Note { check, text: text.into() });
    }

    /// Records a problem.
    pub fn find(&mut self, severity: Severity, check: Check, cause: impl Into<String>, fix: impl Into<String>) {
        self.findings.push(Finding { severity, check, cause: cause.into(), fix: fix.into() });
        self.healthy = false;
    }

    /// An error finding.
    pub fn error(&mut self, check: Check, cause: impl Into<String>, fix: impl Into<String>) {
        self.find(Severity::Error, check, cause, fix);
    }

    /// A warning finding.
    pub fn warn(&mut self, check: Check, cause: impl Into<String>, fix: impl Into<String>) {
        self.find(Severity::Warning, check, cause, fix);
    }

    /// Orders notes and findings by check (stable within a check), errors first among findings.
    pub fn sort(&mut self) {
        self.notes.sort_by_key(|n| n.check);
        self.findings.sort_by_key(|f| (f.check, f.severity));
    }

    /// The exit code: 0 healthy, 1 with findings.
    pub fn exit_code(&self) -> u8 {
        u8::from(!self.findings.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_sort_by_check_then_severity_and_set_the_exit_code() {
        let mut r = Report::new("k".into(), "c".into(), "https://s".into());
        assert_eq!(r.exit_code(), 0);
        r.warn(Check::Proxy, "p", "f");
        r.warn(Check::Server, "w", "f");
        r.error(Check::Server, "e", "f");
        r.note(Check::Clock, "n2");
        r.note(Check::Kubeconfig, "n1");
        r.sort();
        let order: Vec<(&str, Severity)> = r.findings.iter().map(|f| (f.cause.as_str(), f.severity)).collect();
        assert_eq!(order, [("e", Severity::Error), ("w", Severity::Warning), ("p", Severity::Warning)]);
        assert_eq!(r.notes[0].check, Check::Kubeconfig);
        assert!(!r.healthy);
        assert_eq!(r.exit_code(), 1);
    }
}

//! The checks a token went through, for `kauth token explain --authentication-config`: each
//! passed check with what it found. A failed check is the rejection itself. Recording costs
//! nothing when off (the authenticator's path passes a disabled trace).

/// One passed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The check (`issuer`, `signature`, `audience`, `username`, ...).
    pub check: &'static str,
    /// What it found.
    pub detail: String,
}

/// The passed checks, when recording.
#[derive(Debug, Default)]
pub struct Trace {
    steps: Option<Vec<Step>>,
}

impl Trace {
    /// A trace that records nothing (the authentication path).
    pub fn off() -> Self {
        Trace { steps: None }
    }

    /// A trace that records.
    pub fn recording() -> Self {
        Trace { steps: Some(Vec::new()) }
    }

    /// Records a passed check.
    pub fn pass(&mut self, check: &'static str, detail: impl Into<String>) {
        if let Some(steps) = &mut self.steps {
            steps.push(Step { check, detail: detail.into() });
        }
    }

    /// The recorded steps.
    pub fn into_steps(self) -> Vec<Step> {
        self.steps.unwrap_or_default()
    }
}

//! Spec errors and the list of validation problems, each naming file, key and line.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One thing wrong with a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based line in the spec file, when known.
    pub line: Option<usize>,
    pub message: String,
}

/// Every problem found in a spec, printed one per line as `FILE:LINE: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems {
    pub path: PathBuf,
    pub items: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.items.len();
        write!(f, "{} has {n} problem{}:", self.path.display(), if n == 1 { "" } else { "s" })?;
        for p in &self.items {
            match p.line {
                Some(line) => write!(f, "\n  {}:{line}: {}", self.path.display(), p.message)?,
                None => write!(f, "\n  {}: {}", self.path.display(), p.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

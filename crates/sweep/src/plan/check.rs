//! Everything `sweep run` checks before it trains, in one pass so that every problem is
//! reported at once: the spec (keys, types), every run's settings, the corpus (a readable
//! source, tokenized or counted, long enough for each block_size) and the sample prompts.
//! One problem never hides another: an empty grid list does not stop the data check.

use crate::error::{Problem, Problems};
use crate::plan::Plan;
use crate::plan::corpus::{self, Access, Corpus};
use crate::plan::spec::{Places, Spec};
use std::path::Path;

/// A spec that passed every check: what `sweep run` trains.
pub struct Checked {
    pub spec: Spec,
    pub places: Places,
    pub plan: Plan,
    pub corpus: Corpus,
}

/// Reads the spec at `path` and checks it, its runs and its corpus, which `access` says
/// how to reach (tokenize into the cache, or only look).
pub fn check(path: &Path, access: &Access) -> Result<Checked, Problems> {
    let fail = |items: Vec<Problem>| Problems { path: path.to_path_buf(), items };
    let parsed = Spec::from_path(path).map_err(|e| fail(vec![Problem { line: None, message: format!("{:#}", anyhow::Error::from(e)) }]))?;
    let syntax_error = parsed.problems.iter().any(|p| p.message.starts_with("YAML syntax error"));
    let (mut spec, places, mut problems) = (parsed.spec, parsed.places, parsed.problems);
    if syntax_error {
        return Err(fail(problems));
    }
    corpus::settle(&mut spec, &places);
    let (plan, plan_problems) = Plan::build(&spec, &places);
    problems.extend(plan_problems);
    // With other problems found already, nothing will be tokenized into the cache: look at
    // a small corpus in memory so that its problems (prompts, block sizes) show with them.
    let look;
    let access = match access {
        Access::Validate { root } if !problems.is_empty() => {
            look = Access::Look { root: root.clone() };
            &look
        }
        other => other,
    };
    let corpus = if spec.data.path.is_empty() {
        None
    } else {
        match corpus::load(&spec, &places, access) {
            Ok(c) => {
                problems.extend(corpus::check(&c, &plan, &spec, &places));
                Some(c)
            }
            Err(p) => {
                problems.push(p);
                None
            }
        }
    };
    if corpus.is_none() && problems.is_empty() {
        problems.push(Problem {
            line: places.line("data.path"),
            message: "data.path is missing or empty; give the text file, shards or nanoGPT folder to train on".into(),
        });
    }
    match corpus {
        Some(corpus) if problems.is_empty() => Ok(Checked { spec, places, plan, corpus }),
        _ => {
            // In file order; problems without a line last.
            problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
            Err(fail(problems))
        }
    }
}

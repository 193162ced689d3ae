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
    for (i, source) in spec.warm_start.iter().enumerate() {
        let line = places.line(&format!("warm_start[{i}]")).or(places.line("warm_start"));
        if !Path::new(source).is_dir() {
            problems.push(Problem { line, message: format!("warm_start: {source} is not a folder; give an earlier sweep's folder, such as runs/<name>") });
        } else if Path::new(source).file_name().is_some_and(|n| n == spec.name.as_str()) && Path::new(source).parent().is_some_and(|p| p.ends_with("runs")) {
            problems.push(Problem { line, message: format!("warm_start: {source} is this sweep's own folder; a rerun continues it without warm_start") });
        }
    }
    // Built again once the corpus is known, for the constraints that need its facts.
    let (mut plan, mut plan_problems) = Plan::build(&spec, &places);
    // With other problems found already, nothing will be tokenized into the cache: look at
    // a small corpus in memory so that its problems (prompts, block sizes) show with them.
    let look;
    let access = match access {
        Access::Validate { root } if !problems.is_empty() || !plan_problems.is_empty() => {
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
                let facts = crate::plan::constraints::Facts { vocab_size: c.counts.vocab_size, n_train: c.counts.n_train };
                (plan, plan_problems) = Plan::build_with(&spec, &places, Some(facts));
                problems.append(&mut plan_problems);
                problems.extend(corpus::check(&c, &plan, &spec, &places));
                Some(c)
            }
            Err(p) => {
                problems.push(p);
                None
            }
        }
    };
    problems.append(&mut plan_problems);
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

//! Memorisation: train loss near zero, or samples that reproduce long verbatim spans of
//! the training text (longest verbatim overlap, share of sample n-grams found in training).

use crate::thresholds::*;
use crate::{Evidence, Finding, Severity};
use std::collections::HashSet;

/// Length in characters of the longest span of `sample` found verbatim in `train`.
pub fn longest_verbatim(sample: &str, train: &str) -> usize {
    let chars: Vec<(usize, char)> = sample.char_indices().collect();
    let byte_at = |i: usize| chars.get(i).map_or(sample.len(), |c| c.0);
    let mut best = 0;
    let mut i = 0;
    // Greedy: only a span longer than the best so far matters, so test best+1 chars at
    // each start and extend on success. Each `contains` is a fast substring search.
    while i + best < chars.len() {
        let mut len = best + 1;
        while i + len <= chars.len() && train.contains(&sample[byte_at(i)..byte_at(i + len)]) {
            best = len;
            len += 1;
        }
        i += 1;
    }
    best
}

/// Share of the sample's `n`-character spans that occur in `train` (0 when the sample is shorter).
pub fn ngram_share(sample: &str, train: &str, n: usize) -> f64 {
    let s: Vec<char> = sample.chars().collect();
    if s.len() < n {
        return 0.0;
    }
    let t: Vec<char> = train.chars().collect();
    let known: HashSet<&[char]> = t.windows(n).collect();
    let grams: Vec<&[char]> = s.windows(n).collect();
    grams.iter().filter(|g| known.contains(*g)).count() as f64 / grams.len() as f64
}

/// Pushes the finding and returns its message when the run memorised its data.
pub fn check(e: &Evidence, out: &mut Vec<Finding>) -> Option<String> {
    let final_train = e.evals.last().map(|v| v.train).or_else(|| e.iters.last().map(|i| i.loss)).filter(|x| x.is_finite());
    let low_loss = final_train.filter(|l| *l < MEMORISED_TRAIN_LOSS);
    let overlap = e.train_text.as_deref().filter(|_| !e.samples.is_empty()).map(|train| {
        let longest = e.samples.iter().map(|s| longest_verbatim(s, train)).max().unwrap_or(0);
        let all: String = e.samples.join("\n");
        (longest, ngram_share(&all, train, NGRAM_CHARS))
    });
    let copying = overlap.filter(|(longest, share)| *longest >= VERBATIM_CHARS || *share >= NGRAM_SHARE);
    if low_loss.is_none() && copying.is_none() {
        return None;
    }
    let mut evidence = Vec::new();
    if let Some(l) = final_train {
        evidence.push(format!("final train loss {l:.5}"));
    }
    if let Some((longest, share)) = overlap {
        evidence.push(format!("longest verbatim span of training text in the samples: {longest} characters; {:.0}% of the samples' {NGRAM_CHARS}-character spans occur in the training text", share * 100.0));
    }
    let message = match (low_loss, copying) {
        (Some(l), Some(_)) => format!("memorised: train loss is {l:.5} and the samples recite the training text"),
        (Some(l), None) => format!("memorised: train loss is {l:.5}, the model has stored its training text"),
        (None, _) => "memorised: the samples reproduce long verbatim spans of the training text".to_string(),
    };
    out.push(Finding::new(
        "memorisation",
        Severity::Problem,
        message.clone(),
        evidence.join("; "),
        "the data is too small for this model: use far more text, a much smaller model, fewer steps, or dropout".into(),
    ));
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_overlap() {
        let train = "the quick brown fox jumps over the lazy dog";
        assert_eq!(longest_verbatim("xx brown fox jumps yy", train), " brown fox jumps ".len());
        assert_eq!(longest_verbatim("zzz", train), 1); // 'z' occurs in "lazy"
        assert_eq!(longest_verbatim("夏天的飞鸟来了", "夏天的飞鸟，飞到"), 5);
        assert_eq!(ngram_share("abcdef", "xxabcdxx", 4), 1.0 / 3.0);
        assert_eq!(ngram_share("ab", "ab", 4), 0.0);
    }
}

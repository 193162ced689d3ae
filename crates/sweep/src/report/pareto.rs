//! The Pareto front of a sweep judged by several objectives (`objectives:` in the spec,
//! or `sweep report --pareto`): the finished runs that no other run beats on every
//! objective, as a terminal table, a Markdown/HTML table and a chart of the first two.

use crate::output::summary::{Status, Summary};
use crate::plan::objectives::{Objective, pareto_ranks};
use crate::plan::run_id::format_value;

/// The finished runs with every objective's value, and their non-domination ranks.
pub struct Front<'a> {
    pub objectives: Vec<Objective>,
    /// (run, values as reported, rank: 0 on the front), front first, then by the first objective.
    pub rows: Vec<(&'a Summary, Vec<f64>, usize)>,
}

/// The front over `runs` (done runs with a finite value of every objective), or None
/// with fewer than two objectives or no such run.
pub fn of_runs<'a>(runs: &'a [Summary], objectives: &[Objective]) -> Option<Front<'a>> {
    if objectives.len() < 2 {
        return None;
    }
    let judged: Vec<(&Summary, Vec<f64>)> = runs
        .iter()
        .filter(|s| s.status == Status::Done)
        .filter_map(|s| Some((s, objectives.iter().map(|o| o.value(s)).collect::<Option<Vec<f64>>>()?)))
        .collect();
    if judged.is_empty() {
        return None;
    }
    let costs: Vec<Vec<f64>> = judged.iter().map(|(s, _)| objectives.iter().filter_map(|o| o.cost(s)).collect()).collect();
    let ranks = pareto_ranks(&costs);
    let mut rows: Vec<(&Summary, Vec<f64>, usize)> = judged.into_iter().zip(ranks).map(|((s, v), r)| (s, v, r)).collect();
    rows.sort_by(|a, b| a.2.cmp(&b.2).then(a.1[0].total_cmp(&b.1[0])));
    Some(Front { objectives: objectives.to_vec(), rows })
}

impl Front<'_> {
    pub fn front(&self) -> impl Iterator<Item = &(&Summary, Vec<f64>, usize)> {
        self.rows.iter().filter(|r| r.2 == 0)
    }

    pub fn headline(&self) -> String {
        format!(
            "Pareto front over {}: {} of {} finished runs are beaten by no other run on every objective",
            self.objectives
                .iter()
                .map(|o| if o.maximize { format!("{} (highest)", o.name) } else { format!("{} (lowest)", o.name) })
                .collect::<Vec<_>>()
                .join(", "),
            self.front().count(),
            self.rows.len()
        )
    }

    /// The front as rows of cells: run, each objective, the swept values.
    pub fn cells(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut head = vec!["run".to_string()];
        head.extend(self.objectives.iter().map(|o| o.label()));
        head.push("settings".into());
        let rows = self
            .front()
            .map(|(s, values, _)| {
                let mut row = vec![s.run_id.clone()];
                row.extend(values.iter().zip(&self.objectives).map(|(v, o)| number(*v, o)));
                row.push(s.params.iter().map(|(k, v)| format!("{k}={}", format_value(v))).collect::<Vec<_>>().join(" "));
                row
            })
            .collect();
        (head, rows)
    }

    /// `sweep report --pareto`'s text.
    pub fn text(&self) -> String {
        let (head, rows) = self.cells();
        format!("{}\n\n{}\n", self.headline(), crate::report::text_table::table(crate::report::text_table::PLAIN, head, rows))
    }

    /// The chart's points: first two objectives as reported, and whether on the front.
    pub fn points(&self) -> Vec<(f64, f64, bool)> {
        self.rows.iter().map(|(_, v, r)| (v[0], v[1], *r == 0)).collect()
    }
}

fn number(v: f64, o: &Objective) -> String {
    match o.field() {
        "n_params" | "n_params_no_pos" | "tokens_seen" | "steps" => format!("{}", v as u64),
        _ if v.abs() >= 1e5 || (v != 0.0 && v.abs() < 1e-3) => format!("{v:.3e}"),
        _ => format!("{v:.4}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, loss: f64, params: u64) -> Summary {
        let mut s = Summary::failed(id, Default::default(), 1.0, String::new());
        (s.status, s.error, s.best_val_loss, s.n_params) = (Status::Done, None, Some(loss), Some(params));
        s
    }

    #[test]
    fn the_front_is_the_runs_no_other_beats_on_every_objective() {
        let runs = vec![run("a", 2.0, 100), run("b", 1.8, 300), run("c", 2.1, 200), run("d", 1.9, 200), run("e", 1.7, 900)];
        let f = of_runs(&runs, &[Objective::min("val_loss"), Objective::min("params")]).unwrap();
        let ids: Vec<&str> = f.front().map(|r| r.0.run_id.as_str()).collect();
        assert_eq!(ids, ["e", "b", "d", "a"], "c is beaten by d on both");
        assert!(f.text().starts_with("Pareto front over val_loss (lowest), params (lowest): 4 of 5 finished runs"), "{}", f.text());
        // Maximising params instead keeps only the runs with the most for their loss.
        let f = of_runs(&runs, &[Objective::min("val_loss"), Objective { name: "params".into(), maximize: true }]).unwrap();
        assert_eq!(f.front().map(|r| r.0.run_id.as_str()).collect::<Vec<_>>(), ["e"]);
        assert!(of_runs(&runs, &[Objective::min("val_loss")]).is_none());
    }
}

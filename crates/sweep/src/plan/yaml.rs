//! Reading YAML with the line of every value (marked-yaml keeps each scalar's text and
//! position): typing a scalar by the kind of value its setting takes, with messages in a
//! person's words ("must be a whole number, got 3.5") rather than a deserializer's.

use crate::error::Problem;
use marked_yaml::{LoadError, Node};
use serde_json::Value;
use sweep_config::ValueKind;

/// The document's root node, or the one syntax problem that stops reading it.
pub fn parse(text: &str) -> Result<Node, Problem> {
    let options = marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true).prevent_coercion(true);
    marked_yaml::parse_yaml_with_options(0, text, options).map_err(|e| {
        let (marker, what) = match &e {
            LoadError::ScanError(m, scan) => (Some(*m), scan.info().to_string()),
            LoadError::DuplicateKey(inner) => {
                let first = inner.prev_key.span().start().map_or(String::new(), |m| format!(" (first on line {})", m.line()));
                (inner.key.span().start().copied(), format!("{} appears twice in the same mapping{first}; keep one", inner.key.as_str()))
            }
            LoadError::UnexpectedAnchor(m) => (Some(*m), "anchors (&name) are not supported in specs; write the values out".into()),
            LoadError::UnexpectedTag(m) => (Some(*m), "tags (!name) are not supported in specs; write plain values".into()),
            LoadError::MappingKeyMustBeScalar(m) => (Some(*m), "a key must be a plain name".into()),
            LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => {
                (Some(*m), "a spec is a mapping of keys: name:, data:, grid:, …".into())
            }
        };
        match (marker, &e) {
            (Some(m), LoadError::ScanError(..)) => Problem { line: Some(m.line()), message: format!("YAML syntax error at column {}: {what}", m.column()) },
            (m, _) => Problem { line: m.map(|m| m.line()), message: what },
        }
    })
}

/// The 1-based line where a node starts.
pub fn line(node: &Node) -> Option<usize> {
    node.span().start().map(|m| m.line())
}

pub fn line_of_key(key: &marked_yaml::types::MarkedScalarNode) -> Option<usize> {
    key.span().start().map(|m| m.line())
}

/// A node as the user wrote it, for messages: a scalar's text (quoted when it was
/// quoted), "a list" or "a mapping".
pub fn shown(node: &Node) -> String {
    match node {
        Node::Scalar(s) if s.may_coerce() && s.as_str().is_empty() => "nothing".to_string(),
        Node::Scalar(s) if s.may_coerce() => s.as_str().to_string(),
        Node::Scalar(s) => format!("{:?}", s.as_str()),
        Node::Sequence(_) => "a list".to_string(),
        Node::Mapping(_) => "a mapping".to_string(),
    }
}

/// An empty value (`key:` with nothing after it), `~` or `null`.
pub fn is_null(node: &Node) -> bool {
    matches!(node, Node::Scalar(s) if s.may_coerce() && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL"))
}

/// A scalar read as `kind`; `nullable` lets an empty value mean "the default". The error
/// is the rest of a sentence that starts with the key: "must be a number, got big".
pub fn scalar(node: &Node, kind: ValueKind, nullable: bool) -> Result<Value, String> {
    if nullable && is_null(node) {
        return Ok(Value::Null);
    }
    let wrong = || {
        let quoted = matches!(node, Node::Scalar(s) if !s.may_coerce()) && kind != ValueKind::Text;
        let negative = kind == ValueKind::Whole && matches!(node, Node::Scalar(s) if s.as_str().parse::<i64>().is_ok_and(|n| n < 0));
        let kind = if negative { "a whole number of 0 or more" } else { kind.describe() };
        format!("must be {kind}, got {}{}", shown(node), if quoted { " (quoted, so it is text)" } else { "" })
    };
    let Node::Scalar(s) = node else { return Err(wrong()) };
    let text = s.as_str();
    let plain = s.may_coerce();
    let value = match kind {
        ValueKind::Text if !is_null(node) => Some(Value::String(text.to_string())),
        ValueKind::Text => None,
        ValueKind::Bool => s.as_bool().map(Value::Bool),
        ValueKind::Whole => plain.then(|| text.strip_prefix('+').unwrap_or(text).parse::<u64>().ok()).flatten().map(Value::from),
        ValueKind::Number => plain.then(|| number(text)).flatten().and_then(|x| serde_json::Number::from_f64(x).map(Value::Number)),
    };
    value.ok_or_else(wrong)
}

/// A YAML number as a float: `3e-4`, `0.1`, `.5`, `+2`; not `inf` or `nan`.
fn number(text: &str) -> Option<f64> {
    let x: f64 = text.parse().ok()?;
    (text.bytes().any(|b| b.is_ascii_digit()) && x.is_finite()).then_some(x)
}

/// The shape of a key of a fixed section (`data:`, `sample:`).
#[derive(Debug, Clone, Copy)]
pub enum Field {
    /// One value of this kind; `true` lets it be empty.
    Scalar(ValueKind, bool),
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A list of values of this kind.
    List(ValueKind),
}

impl Field {
    /// The value, or the line of the bad part (a list item) and the rest of the sentence.
    pub fn read(&self, node: &Node) -> Result<Value, (Option<usize>, String)> {
        match *self {
            Field::Scalar(kind, nullable) => scalar(node, kind, nullable).map_err(|rule| (None, rule)),
            Field::Choice(words) => match scalar(node, ValueKind::Text, false) {
                Ok(Value::String(w)) if words.contains(&w.as_str()) => Ok(Value::String(w)),
                _ => Err((None, format!("must be one of {}, got {}", words.join(", "), shown(node)))),
            },
            Field::List(kind) => {
                let Some(items) = node.as_sequence() else { return Err((None, format!("must be a list like [a, b], got {}", shown(node)))) };
                items.iter().map(|item| scalar(item, kind, false).map_err(|rule| (line(item), rule))).collect::<Result<Vec<_>, _>>().map(Value::Array)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, kind: ValueKind) -> Result<Value, String> {
        let root = parse(&format!("k: {text}\n")).unwrap();
        let node = root.as_mapping().unwrap().get_node("k").unwrap().clone();
        scalar(&node, kind, true)
    }

    #[test]
    fn scalars_are_typed_by_kind() {
        assert_eq!(value("3e-4", ValueKind::Number), Ok(serde_json::json!(3e-4)));
        assert_eq!(value("2", ValueKind::Number), Ok(serde_json::json!(2.0)));
        assert_eq!(value("+7", ValueKind::Whole), Ok(serde_json::json!(7)));
        assert_eq!(value("~", ValueKind::Whole), Ok(Value::Null));
        assert_eq!(value("cuda:1", ValueKind::Text), Ok(serde_json::json!("cuda:1")));
        assert_eq!(value("3.5", ValueKind::Whole), Err("must be a whole number, got 3.5".into()));
        assert_eq!(value(".inf", ValueKind::Number), Err("must be a number, got .inf".into()));
        assert_eq!(value("'7'", ValueKind::Whole), Err("must be a whole number, got \"7\" (quoted, so it is text)".into()));
        assert_eq!(value("[1, 2]", ValueKind::Number), Err("must be a number, got a list".into()));
    }

    #[test]
    fn duplicate_keys_are_problems() {
        let p = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(p.line, Some(3));
        assert_eq!(p.message, "a appears twice in the same mapping (first on line 1); keep one");
    }
}

//! Char, byte-level BPE and GPT-2 tokenizers, saved to and loaded from one `tokenizer.json`
//! (GPT-2's as a one-line marker: its vocabulary is compiled in).

use crate::DataError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use sweep_config::{DataConfig, TokenizerKind};

/// Default BPE vocabulary when the spec gives none: the 256 bytes plus 256 merges.
pub const DEFAULT_BPE_VOCAB: usize = 512;

pub enum Tokenizer {
    /// One token per Unicode scalar value seen in the training text, in sorted order (nanoGPT's
    /// shakespeare_char prepare.py).
    Char { chars: Vec<char>, index: HashMap<char, u32> },
    /// A HuggingFace tokenizer (trained here, or loaded from a tokenizer.json).
    Bpe(Box<tokenizers::Tokenizer>),
    /// GPT-2's BPE from the shipped vocabulary (`crate::gpt2`).
    Gpt2(Box<tokenizers::Tokenizer>),
}

#[derive(Serialize, Deserialize)]
struct CharFile {
    #[serde(rename = "type")]
    kind: String,
    chars: String,
}

/// tokenizer.json of a run trained with GPT-2's tokenizer.
const GPT2_JSON: &str = r#"{"type":"gpt2"}"#;

fn tok_err(e: impl std::fmt::Display) -> DataError {
    DataError::Tokenizer(e.to_string())
}

impl Tokenizer {
    /// Builds the tokenizer the data config asks for, from the corpus text.
    pub fn build(cfg: &DataConfig, text: &str) -> Result<Self, DataError> {
        match (cfg.tokenizer, &cfg.tokenizer_path) {
            (TokenizerKind::Char, _) => Ok(Self::char_from_text(text)),
            (TokenizerKind::Bpe, Some(path)) => Self::load(Path::new(path)),
            (TokenizerKind::Bpe, None) => Self::train_bpe(text, cfg.vocab_size.unwrap_or(DEFAULT_BPE_VOCAB)),
            (TokenizerKind::Gpt2, _) => Self::gpt2(),
        }
    }

    pub fn gpt2() -> Result<Self, DataError> {
        Ok(Tokenizer::Gpt2(Box::new(crate::gpt2::tokenizer()?)))
    }

    pub fn char_from_text(text: &str) -> Self {
        let set: BTreeSet<char> = text.chars().collect();
        Self::from_chars(set.into_iter().collect())
    }

    /// A char tokenizer whose id `i` is `chars[i]` (sorted for one built from text; in
    /// `itos` order for nanoGPT's meta.pkl).
    pub fn from_chars(chars: Vec<char>) -> Self {
        let index = chars.iter().enumerate().map(|(i, c)| (*c, i as u32)).collect();
        Tokenizer::Char { chars, index }
    }

    /// Trains a byte-level BPE on `text` up to `vocab_size` tokens.
    pub fn train_bpe(text: &str, vocab_size: usize) -> Result<Self, DataError> {
        use tokenizers::models::TrainerWrapper;
        use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
        use tokenizers::pre_tokenizers::byte_level::ByteLevel;
        let byte_level = ByteLevel::new(false, true, true);
        let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(0)
            .show_progress(false)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build()
            .into();
        let mut tok = tokenizers::Tokenizer::new(BPE::default());
        tok.with_pre_tokenizer(Some(byte_level));
        tok.with_decoder(Some(byte_level));
        tok.train(&mut trainer, text.lines()).map_err(tok_err)?;
        Ok(Tokenizer::Bpe(Box::new(tok)))
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Char { chars, .. } => chars.len(),
            Tokenizer::Bpe(t) => t.get_vocab_size(true),
            Tokenizer::Gpt2(_) => crate::gpt2::VOCAB_SIZE,
        }
    }

    /// The token that ends a document, when the tokenizer has one (GPT-2's `<|endoftext|>`,
    /// or a loaded tokenizer's).
    pub fn end_of_text(&self) -> Option<u32> {
        match self {
            Tokenizer::Char { .. } => None,
            Tokenizer::Bpe(t) => t.token_to_id("<|endoftext|>"),
            Tokenizer::Gpt2(_) => Some(crate::gpt2::EOT),
        }
    }

    /// What follows each document (parquet row, JSONL line): the end-of-text token, else a
    /// newline.
    pub fn document_separator(&self) -> Result<Vec<u32>, DataError> {
        match self.end_of_text() {
            Some(id) => Ok(vec![id]),
            None => self.encode("\n"),
        }
    }

    /// A stable fingerprint of the tokenizer (BLAKE3 of its JSON), to tell caches apart.
    pub fn fingerprint(&self) -> Result<String, DataError> {
        Ok(blake3::hash(self.to_json()?.as_bytes()).to_hex()[..16].to_string())
    }

    pub fn encode(&self, text: &str) -> Result<Vec<u32>, DataError> {
        match self {
            Tokenizer::Char { index, .. } => {
                let mut unknown = BTreeSet::new();
                let ids = text
                    .chars()
                    .filter_map(|c| {
                        index.get(&c).copied().or_else(|| {
                            unknown.insert(c);
                            None
                        })
                    })
                    .collect();
                if unknown.is_empty() {
                    Ok(ids)
                } else {
                    Err(DataError::UnknownChars { chars: unknown.into_iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(" ") })
                }
            }
            Tokenizer::Bpe(t) | Tokenizer::Gpt2(t) => Ok(t.encode_fast(text, false).map_err(tok_err)?.get_ids().to_vec()),
        }
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        match self {
            Tokenizer::Char { chars, .. } => ids.iter().filter_map(|&i| chars.get(i as usize)).collect(),
            Tokenizer::Bpe(t) | Tokenizer::Gpt2(t) => t.decode(ids, false).unwrap_or_default(),
        }
    }

    /// Writes the tokenizer as JSON: `{"type":"char","chars":...}`, `{"type":"gpt2"}` or
    /// HuggingFace's format.
    pub fn to_json(&self) -> Result<String, DataError> {
        match self {
            Tokenizer::Gpt2(_) => Ok(GPT2_JSON.to_string()),
            Tokenizer::Char { chars, .. } => serde_json::to_string(&CharFile { kind: "char".into(), chars: chars.iter().collect() }).map_err(tok_err),
            Tokenizer::Bpe(t) => t.to_string(false).map_err(tok_err),
        }
    }

    pub fn from_json(json: &str) -> Result<Self, DataError> {
        if json.trim() == GPT2_JSON {
            return Self::gpt2();
        }
        if let Ok(f) = serde_json::from_str::<CharFile>(json)
            && f.kind == "char"
        {
            return Ok(Self::from_chars(f.chars.chars().collect()));
        }
        let t: tokenizers::Tokenizer = json.parse().map_err(tok_err)?;
        Ok(Tokenizer::Bpe(Box::new(t)))
    }

    pub fn load(path: &Path) -> Result<Self, DataError> {
        let json = crate::read_text(path)?;
        Self::from_json(&json).map_err(|e| DataError::Tokenizer(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEINIAO: &str = "夏天的飞鸟，飞到我的窗前唱歌，又飞去了。\n秋天的黄叶，它们没有什么可唱，只叹息一声，飞落在那里。";

    #[test]
    fn char_round_trip_on_chinese() {
        let tok = Tokenizer::char_from_text(FEINIAO);
        let ids = tok.encode(FEINIAO).unwrap();
        assert_eq!(ids.len(), FEINIAO.chars().count());
        assert_eq!(tok.decode(&ids), FEINIAO);
        let reloaded = Tokenizer::from_json(&tok.to_json().unwrap()).unwrap();
        assert_eq!(reloaded.encode(FEINIAO).unwrap(), ids);
        assert_eq!(reloaded.vocab_size(), tok.vocab_size());
    }

    #[test]
    fn char_rejects_unseen_characters() {
        let tok = Tokenizer::char_from_text(FEINIAO);
        let err = tok.encode("飞鸟x").unwrap_err().to_string();
        assert!(err.contains("'x'"), "{err}");
    }

    #[test]
    fn gpt2_saves_as_a_marker_and_separates_documents_with_end_of_text() {
        let tok = Tokenizer::gpt2().unwrap();
        assert_eq!(tok.to_json().unwrap(), r#"{"type":"gpt2"}"#);
        let back = Tokenizer::from_json(&tok.to_json().unwrap()).unwrap();
        assert_eq!(back.encode(FEINIAO).unwrap(), tok.encode(FEINIAO).unwrap());
        assert_eq!(back.decode(&tok.encode(FEINIAO).unwrap()), FEINIAO);
        assert_eq!(tok.document_separator().unwrap(), vec![50256]);
        assert_eq!(Tokenizer::char_from_text("a\nb").document_separator().unwrap(), vec![0]);
        assert_ne!(tok.fingerprint().unwrap(), Tokenizer::char_from_text("ab").fingerprint().unwrap());
    }

    #[test]
    fn bpe_round_trip_on_chinese() {
        let text = FEINIAO.repeat(5);
        let tok = Tokenizer::train_bpe(&text, 300).unwrap();
        let ids = tok.encode(FEINIAO).unwrap();
        assert!(ids.len() < FEINIAO.len(), "BPE should merge some of the {} bytes, got {} ids", FEINIAO.len(), ids.len());
        assert_eq!(tok.decode(&ids), FEINIAO);
        let reloaded = Tokenizer::from_json(&tok.to_json().unwrap()).unwrap();
        assert_eq!(reloaded.encode(FEINIAO).unwrap(), ids);
    }
}

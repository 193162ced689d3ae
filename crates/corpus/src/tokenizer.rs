//! Char and byte-level BPE tokenizers, saved to and loaded from one `tokenizer.json`.

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
}

#[derive(Serialize, Deserialize)]
struct CharFile {
    #[serde(rename = "type")]
    kind: String,
    chars: String,
}

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
        }
    }

    pub fn char_from_text(text: &str) -> Self {
        let set: BTreeSet<char> = text.chars().collect();
        Self::from_chars(set.into_iter().collect())
    }

    fn from_chars(chars: Vec<char>) -> Self {
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
        }
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
            Tokenizer::Bpe(t) => Ok(t.encode(text, false).map_err(tok_err)?.get_ids().to_vec()),
        }
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        match self {
            Tokenizer::Char { chars, .. } => ids.iter().filter_map(|&i| chars.get(i as usize)).collect(),
            Tokenizer::Bpe(t) => t.decode(ids, false).unwrap_or_default(),
        }
    }

    /// Writes the tokenizer as JSON: `{"type":"char","chars":...}` or HuggingFace's format.
    pub fn to_json(&self) -> Result<String, DataError> {
        match self {
            Tokenizer::Char { chars, .. } => serde_json::to_string(&CharFile { kind: "char".into(), chars: chars.iter().collect() }).map_err(tok_err),
            Tokenizer::Bpe(t) => t.to_string(false).map_err(tok_err),
        }
    }

    pub fn from_json(json: &str) -> Result<Self, DataError> {
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

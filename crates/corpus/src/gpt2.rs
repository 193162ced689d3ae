//! GPT-2's byte-level BPE (50,257 tokens), built from the vocabulary shipped in
//! `data/gpt2/` (encoder.json and vocab.bpe, as OpenAI published them; provenance and
//! licence in data/README.md) and compiled into the binary, so `tokenizer: gpt2` works
//! with no network. Its ids equal tiktoken's `gpt2` encoding (tests/gpt2_tiktoken.rs).

use crate::DataError;
use std::collections::HashMap;

const ENCODER_JSON: &str = include_str!("../../../data/gpt2/encoder.json");
const VOCAB_BPE: &str = include_str!("../../../data/gpt2/vocab.bpe");

/// GPT-2's vocabulary size: 50,000 merges, 256 bytes and `<|endoftext|>`.
pub const VOCAB_SIZE: usize = 50257;
/// `<|endoftext|>`: nanoGPT's openwebtext and fineweb preparations put it between documents.
pub const EOT: u32 = 50256;

pub fn tokenizer() -> Result<tokenizers::Tokenizer, DataError> {
    use tokenizers::models::bpe::BPE;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    let fail = |e: String| DataError::Tokenizer(format!("the shipped GPT-2 vocabulary: {e}"));
    let vocab: HashMap<String, u32> = serde_json::from_str(ENCODER_JSON).map_err(|e| fail(e.to_string()))?;
    let vocab: tokenizers::models::bpe::Vocab = vocab.into_iter().collect();
    // vocab.bpe: a "#version" line, then one merge per line.
    let merges: Vec<(String, String)> = VOCAB_BPE
        .lines()
        .filter(|l| !l.starts_with("#version") && !l.is_empty())
        .filter_map(|l| l.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect();
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|e| fail(e.to_string()))?;
    let mut tok = tokenizers::Tokenizer::new(bpe);
    // GPT-2's pre-tokenizer: its regex, no prefix space; bytes mapped to printable characters.
    tok.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tok.with_decoder(Some(ByteLevel::new(false, true, true)));
    Ok(tok)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids from tiktoken 0.14's `gpt2` encoding (`tiktoken.get_encoding("gpt2").encode_ordinary`),
    /// the full comparison on kilobytes of text is tests/gpt2_tiktoken.rs.
    #[test]
    fn hello_world_as_tiktoken_encodes_it() {
        let tok = tokenizer().unwrap();
        assert_eq!(tok.get_vocab_size(true), VOCAB_SIZE);
        let ids = tok.encode("Hello world", false).unwrap().get_ids().to_vec();
        assert_eq!(ids, vec![15496, 995]);
        assert_eq!(tok.decode(&ids, false).unwrap(), "Hello world");
    }
}

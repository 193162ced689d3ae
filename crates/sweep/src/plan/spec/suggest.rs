//! The closest known name to a word that is not one: a typo, or nanoGPT's name for one of
//! our settings.

/// nanoGPT's and common names for our settings, so that its users are pointed the right way.
const ALIASES: &[(&str, &str)] = &[
    ("n_embd", "embed_dim"),
    ("n_embed", "embed_dim"),
    ("d_model", "embed_dim"),
    ("n_layer", "n_layers"),
    ("n_head", "n_heads"),
    ("learning_rate", "lr"),
    ("gradient_accumulation_steps", "grad_accum_steps"),
    ("max_steps", "max_iters"),
    ("warmup_steps", "warmup_iters"),
    ("context_length", "block_size"),
];

/// The closest known name to `word`, if it is close enough to be a typo (or a nanoGPT name).
pub fn did_you_mean<S: AsRef<str>>(word: &str, known: &[S]) -> Option<String> {
    if let Some((_, ours)) = ALIASES.iter().find(|(alias, ours)| *alias == word && known.iter().any(|k| k.as_ref() == *ours)) {
        return Some(ours.to_string());
    }
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k.as_ref()), k.as_ref()))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.to_string())
}

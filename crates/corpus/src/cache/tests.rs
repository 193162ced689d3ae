//! The cache against in-memory tokenizing: same ids; reuse, rebuild and resume.

use super::*;
use crate::source::parquet::write_for_tests;
use crate::tokens::Dtype;
use sweep_config::RunConfig;

fn hidden() -> indicatif::ProgressBar {
    indicatif::ProgressBar::hidden()
}

fn config(path: &Path) -> DataConfig {
    RunConfig::with_data(path.display().to_string()).data
}

fn shakespeare() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/tinyshakespeare.txt")).unwrap()
}

/// The shipped Shakespeare splits exactly as nanoGPT's shakespeare_char/prepare.py (65
/// characters, 1,003,854 train and 111,540 val tokens, as data/README.md says), cached or not.
#[test]
fn a_text_file_caches_to_the_ids_of_tokenizing_it_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let text = shakespeare();
    let path = tmp.path().join("shakespeare.txt");
    std::fs::write(&path, &text).unwrap();
    let data = config(&path);
    let p = prepare(&data, &tmp.path().join("cache"), &hidden()).unwrap();
    assert!(p.built.is_some());
    assert_eq!(p.manifest.dtype, Dtype::U16);
    let cached = p.token_data(0.1).unwrap();
    assert_eq!((cached.vocab_size, cached.train.len(), cached.val.len()), (65, 1_003_854, 111_540));
    let whole = TokenData::split(&Tokenizer::char_from_text(&text), &text, 0.1).unwrap();
    assert_eq!(cached.train.to_vec(), whole.train.to_vec());
    assert_eq!(cached.val.to_vec(), whole.val.to_vec());
    assert_eq!(p.counts(0.1), (1_003_854, 111_540));
    let (tok, mem) = in_memory(&data).unwrap();
    assert_eq!((tok.vocab_size(), mem.train.to_vec()), (65, whole.train.to_vec()));
}

/// Cutting at the text source's safe newlines and tokenizing the chunks with GPT-2 gives
/// the ids of the whole text, so parallel tokenizing changes nothing.
#[test]
fn chunks_cut_at_safe_newlines_tokenize_as_the_whole_text() {
    let text = shakespeare();
    let text = &text[..200_000];
    let tok = Tokenizer::gpt2().unwrap();
    let cuts = crate::source::text::cut_points(text.as_bytes(), 5_000);
    assert!(cuts.len() > 30, "{} cuts", cuts.len());
    let mut bounds = vec![0];
    bounds.extend(cuts);
    bounds.push(text.len());
    let chunked: Vec<u32> = bounds.windows(2).flat_map(|w| tok.encode(&text[w[0]..w[1]]).unwrap()).collect();
    assert_eq!(chunked, tok.encode(text).unwrap());
}

#[test]
fn a_second_prepare_reuses_a_touched_file_and_rebuilds_an_edited_one() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("poem.txt");
    std::fs::write(&path, "the birds of summer come to my window\n".repeat(50)).unwrap();
    let (data, root) = (config(&path), tmp.path().join("cache"));
    assert!(prepare(&data, &root, &hidden()).unwrap().built.is_some());
    assert!(prepare(&data, &root, &hidden()).unwrap().built.is_none(), "unchanged: reused");
    // Same bytes, new mtime: hashed again, still the same text.
    std::fs::write(&path, "the birds of summer come to my window\n".repeat(50)).unwrap();
    let t = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(t).unwrap();
    assert!(prepare(&data, &root, &hidden()).unwrap().built.is_none(), "touched: reused");
    assert!(open(&data, &root).is_ok());
    // Edited: a trial refuses the old tokens, prepare makes new ones.
    std::fs::write(&path, "the yellow leaves of autumn sigh and fall\n".repeat(50)).unwrap();
    let err = open(&data, &root).err().unwrap().to_string();
    assert!(err.contains("poem.txt changed after it was tokenized (it was 1900 bytes and is now 2100)"), "{err}");
    let p = prepare(&data, &root, &hidden()).unwrap();
    assert!(p.built.is_some());
    assert_eq!(p.tokenizer.decode(&p.token_data(0.0).unwrap().train.to_vec()[..9]), "the yello");
    let other = config(&tmp.path().join("missing.txt"));
    assert!(open(&other, &root).is_err());
    std::fs::write(tmp.path().join("new.txt"), "abc".repeat(10)).unwrap();
    let err = open(&config(&tmp.path().join("new.txt")), &root).err().unwrap().to_string();
    assert!(err.contains("has not been tokenized yet"), "{err}");
}

#[test]
fn a_build_killed_half_way_keeps_its_whole_shards() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..4 {
        std::fs::write(tmp.path().join(format!("part{i}.txt")), format!("shard number {i} says hello\n").repeat(20)).unwrap();
    }
    let data = config(&tmp.path().join("*.txt"));
    let root = tmp.path().join("cache");
    let first = prepare(&data, &root, &hidden()).unwrap();
    let all = first.token_data(0.0).unwrap().train.to_vec();
    assert_eq!(first.built.as_ref().unwrap().units, 4);
    // As a kill leaves it: no manifest, one shard not yet renamed into place.
    std::fs::remove_file(first.dir.join("manifest.json")).unwrap();
    std::fs::remove_file(first.dir.join("train/000002.bin")).unwrap();
    assert!(look(&data, &root).unwrap().is_none(), "no manifest: nothing a trial would read");
    let again = prepare(&data, &root, &hidden()).unwrap();
    assert_eq!(again.built.as_ref().map(|b| (b.units, b.reused)), Some((4, 3)));
    assert_eq!(again.token_data(0.0).unwrap().train.to_vec(), all);
}

#[test]
fn parquet_and_jsonl_documents_end_with_gpt2_end_of_text() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = ["The first document.", "A second, longer one.", "第三"];
    write_for_tests(&tmp.path().join("a.parquet"), "text", &docs[..2], 1).unwrap();
    write_for_tests(&tmp.path().join("b.parquet"), "text", &docs[2..], 1).unwrap();
    let jsonl: String = docs.iter().map(|d| format!("{}\n", serde_json::json!({ "text": d }))).collect();
    std::fs::write(tmp.path().join("docs.jsonl"), jsonl).unwrap();
    let tok = Tokenizer::gpt2().unwrap();
    let want: Vec<u32> = docs.iter().flat_map(|d| tok.encode(d).unwrap().into_iter().chain([50256])).collect();
    for path in [tmp.path().join("*.parquet"), tmp.path().join("docs.jsonl")] {
        let mut data = config(&path);
        data.tokenizer = sweep_config::TokenizerKind::Gpt2;
        let p = prepare(&data, &tmp.path().join("cache"), &hidden()).unwrap();
        assert_eq!(p.token_data(0.0).unwrap().train.to_vec(), want, "{}", path.display());
        assert_eq!(p.manifest.vocab_size, 50257);
    }
}

#[test]
fn a_validation_source_of_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("train.txt"), "abcabcabc").unwrap();
    std::fs::write(tmp.path().join("val.txt"), "cabx").unwrap();
    let mut data = config(&tmp.path().join("train.txt"));
    data.val = Some(tmp.path().join("val.txt").display().to_string());
    let p = prepare(&data, &tmp.path().join("cache"), &hidden()).unwrap();
    let d = p.token_data(0.5).unwrap();
    assert_eq!((d.train.len(), d.val.len(), d.vocab_size), (9, 4, 4), "val_fraction unused; x is in the vocabulary");
    assert_eq!(p.tokenizer.decode(&d.val.to_vec()), "cabx");
}

/// nanoGPT's shakespeare_char layout: uint16 ids with meta.pkl; without it, GPT-2's ids.
#[test]
fn a_nanogpt_folder_is_used_in_place_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shakespeare_char");
    std::fs::create_dir(&dir).unwrap();
    let chars = ['\n', ' ', 'a', 'b'];
    crate::source::nanogpt::tests::write_meta(&dir.join("meta.pkl"), &chars);
    std::fs::write(dir.join("train.bin"), Dtype::U16.encode(&[2, 3, 1, 2, 3, 0, 2, 2])).unwrap();
    std::fs::write(dir.join("val.bin"), Dtype::U16.encode(&[3, 2, 1])).unwrap();
    let data = config(&dir);
    let root = tmp.path().join("cache");
    let p = prepare(&data, &root, &hidden()).unwrap();
    let d = p.token_data(0.1).unwrap();
    assert_eq!((d.train.len(), d.val.len(), d.vocab_size), (8, 3, 4));
    assert_eq!(p.tokenizer.decode(&d.train.to_vec()), "ab ab\naa");
    assert!(!p.dir.join("train").exists(), "no copy of the tokens");
    // An id at or above meta.pkl's vocabulary.
    std::fs::write(dir.join("train.bin"), Dtype::U16.encode(&[2, 3, 9])).unwrap();
    let err = prepare(&data, &root, &hidden()).err().unwrap().to_string();
    assert!(err.contains("train.bin: token id 9 at position 2 is not below the vocabulary size 4 (meta.pkl's)"), "{err}");
    std::fs::write(dir.join("train.bin"), [1u8, 0, 2]).unwrap();
    let err = prepare(&data, &root, &hidden()).err().unwrap().to_string();
    assert!(err.contains("train.bin is 3 bytes, not a whole number of 2-byte token ids"), "{err}");
    // Without meta.pkl: GPT-2's ids, which the spec must say.
    std::fs::remove_file(dir.join("meta.pkl")).unwrap();
    std::fs::write(dir.join("train.bin"), Dtype::U16.encode(&[15496, 995, 50256])).unwrap();
    let err = prepare(&data, &root, &hidden()).err().unwrap().to_string();
    assert!(err.contains("has no meta.pkl, so its ids are GPT-2's: write data.tokenizer: gpt2"), "{err}");
    let mut gpt2 = data.clone();
    gpt2.tokenizer = sweep_config::TokenizerKind::Gpt2;
    let p = prepare(&gpt2, &root, &hidden()).unwrap();
    assert_eq!(p.tokenizer.decode(&p.token_data(0.1).unwrap().train.to_vec()[..2]), "Hello world");
}

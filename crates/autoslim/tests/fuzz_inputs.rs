//! Fuzzing of the parsers a user's files reach: the TOML config, MMRazor's channel YAML and
//! IDX data. Arbitrary inputs, and valid inputs with random edits, must give `Ok` or `Err` —
//! never a panic (proptest counts a panic as a failure and shrinks it to a minimal input).
//!
//! `cargo test -p autoslim --test fuzz_inputs` tries proptest's default 256 inputs per
//! property; `scripts/fuzz.sh` runs many more (`PROPTEST_CASES`) and records the count.

use std::path::Path;

use autoslim::channels::{ChannelSpace, Subnet};
use autoslim::config::Config;
use autoslim::data::parse_idx;
use autoslim::model::SlimmableModel;
use autoslim::models::{SlimCnnConfig, SlimMobileNetV2Config};
use burn::backend::NdArray;
use proptest::prelude::*;

const CONFIG: &str = include_str!("../../../configs/autoslim_cnn_fashion_mnist.toml");
const FOLDER_CONFIG: &str = include_str!("../../../configs/autoslim_mbv2_1.5x_supernet_imagenet.toml");
const MBV2_YAML: &str = include_str!("../fixtures/mmrazor-autoslim-mbv2/AUTOSLIM_MBV2_320M_OFFICIAL.yaml");

/// Pieces that matter to the parsers, spliced into valid inputs.
const TOKENS: &[&str] = &[
    "=", "[", "]", "{", "}", "\"", "'", ":", ",", "\n", " ", "-", "#", "type", "ratios", "\"1/0\"", "\"0/0\"",
    "-1", "0", "1e309", "nan", "inf", "18446744073709551616", "99999999999", "\"\"", "true", "[[x]]", "[data]",
    "out_channels", "raw_in_channels", "in_channels: 0", "  ", "\t", "~", "null", "&a", "*a", "!!binary", "…", "\u{0}",
];

/// A random edit: delete a range, insert a token, or overwrite a byte, at a relative position.
#[derive(Debug, Clone)]
enum Edit {
    Delete(f64, usize),
    Insert(f64, usize),
    Byte(f64, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0.0..1.0f64, 1..40usize).prop_map(|(p, n)| Edit::Delete(p, n)),
        (0.0..1.0f64, 0..TOKENS.len()).prop_map(|(p, t)| Edit::Insert(p, t)),
        (0.0..1.0f64, any::<u8>()).prop_map(|(p, b)| Edit::Byte(p, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let at = |p: f64, len: usize| ((p * len as f64) as usize).min(len);
    for e in edits {
        match *e {
            Edit::Delete(p, n) => {
                let i = at(p, bytes.len());
                let j = (i + n).min(bytes.len());
                bytes.drain(i..j);
            }
            Edit::Insert(p, t) => {
                let i = at(p, bytes.len());
                bytes.splice(i..i, TOKENS[t].bytes());
            }
            Edit::Byte(p, b) => {
                if !bytes.is_empty() {
                    let i = at(p, bytes.len() - 1);
                    bytes[i] = b;
                }
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn cnn_space() -> ChannelSpace {
    SlimCnnConfig::new(vec![16, 32, 32, 64], vec![1, 2, 2, 1]).init::<NdArray>(&Default::default()).space().clone()
}

fn mbv2_space() -> ChannelSpace {
    SlimMobileNetV2Config::new().with_widen_factor(1.5).try_init::<NdArray>(&Default::default()).unwrap().space().clone()
}

thread_local! {
    static CNN: ChannelSpace = cnn_space();
    static MBV2: ChannelSpace = mbv2_space();
}

/// Valid IDX bytes: a `[2, 3, 3]` image array.
fn idx_images() -> Vec<u8> {
    let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3];
    bytes.extend(0..18u8);
    bytes
}

proptest! {
    #[test]
    fn config_text_never_panics(text in ".{0,400}") {
        let _ = Config::parse(&text);
    }

    #[test]
    fn edited_configs_never_panic(edits in prop::collection::vec(edit(), 1..6), which in any::<bool>()) {
        let base = if which { CONFIG } else { FOLDER_CONFIG };
        let _ = Config::parse(&apply(base, &edits));
    }

    #[test]
    fn channel_yaml_never_panics(text in ".{0,300}") {
        CNN.with(|space| { let _ = Subnet::from_yaml(space, &text); });
    }

    #[test]
    fn edited_channel_files_never_panic(edits in prop::collection::vec(edit(), 1..6)) {
        let text = apply(MBV2_YAML, &edits);
        MBV2.with(|space| { let _ = Subnet::from_yaml(space, &text); });
    }

    #[test]
    fn idx_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = parse_idx(&bytes, Path::new("fuzz"));
    }

    #[test]
    fn edited_idx_files_never_panic(edits in prop::collection::vec((0..34usize, any::<u8>()), 1..4), cut in 1..40usize) {
        let mut bytes = idx_images();
        for (i, b) in edits {
            bytes[i] = b;
        }
        bytes.truncate(cut.min(bytes.len()));
        let _ = parse_idx(&bytes, Path::new("fuzz"));
    }
}

#[test]
fn the_unedited_inputs_are_valid() {
    // The edits start from inputs that reach deep into each parser.
    Config::parse(CONFIG).unwrap();
    Config::parse(FOLDER_CONFIG).unwrap();
    Subnet::from_yaml(&mbv2_space(), MBV2_YAML).unwrap();
    assert_eq!(parse_idx(&idx_images(), Path::new("ok")).unwrap().dims, vec![2, 3, 3]);
}

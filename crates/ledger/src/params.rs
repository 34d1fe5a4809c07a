//! Protocol parameters the phase-1 transaction rules and block limits need.
//!
//! Field names follow Cardano's genesis files (`protocolParams` of shelley-genesis.json, the
//! alonzo-genesis.json limits) and accept the names `cardano-cli query protocol-parameters`
//! prints, so either file can be read. Missing fields keep their mainnet values.

use serde::{Deserialize, Serialize};

/// Plutus execution budget: memory units and CPU steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExUnits {
    /// Memory units (`memory`, or `exUnitsMem` in older alonzo-genesis files).
    #[serde(alias = "exUnitsMem")]
    pub memory: u64,
    /// CPU steps (`steps`, or `exUnitsSteps` in older alonzo-genesis files).
    #[serde(alias = "exUnitsSteps")]
    pub steps: u64,
}

/// The protocol parameters the emulated ledger enforces.
///
/// `Default` gives mainnet's values at the start of the Conway era.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RawParams", rename_all = "camelCase")]
pub struct ProtocolParams {
    /// Largest block body in bytes (`maxBlockBodySize`).
    pub max_block_body_size: u64,
    /// Largest transaction in bytes (`maxTxSize`).
    pub max_tx_size: u64,
    /// Fee per transaction byte in lovelace (`minFeeA`).
    pub min_fee_a: u64,
    /// Constant fee per transaction in lovelace (`minFeeB`).
    pub min_fee_b: u64,
    /// Script budget of one transaction (`maxTxExUnits`).
    pub max_tx_ex_units: ExUnits,
    /// Script budget of one block (`maxBlockExUnits`).
    pub max_block_ex_units: ExUnits,
    /// Lovelace per byte of an output, for the minimum-ada rule (`coinsPerUTxOByte`).
    #[serde(rename = "coinsPerUTxOByte")]
    pub coins_per_utxo_byte: u64,
    /// Largest serialized value of one output in bytes (`maxValueSize`).
    pub max_value_size: u64,
}

impl Default for ProtocolParams {
    fn default() -> Self {
        Self {
            max_block_body_size: 90_112,
            max_tx_size: 16_384,
            min_fee_a: 44,
            min_fee_b: 155_381,
            max_tx_ex_units: ExUnits {
                memory: 14_000_000,
                steps: 10_000_000_000,
            },
            max_block_ex_units: ExUnits {
                memory: 62_000_000,
                steps: 20_000_000_000,
            },
            coins_per_utxo_byte: 4_310,
            max_value_size: 5_000,
        }
    }
}

impl ProtocolParams {
    /// The linear fee a transaction of `size` bytes must pay at least: `minFeeA * size + minFeeB`.
    pub fn min_fee(&self, size: usize) -> u64 {
        min_fee(size, self)
    }

    /// The least lovelace an output whose CBOR is `output_size` bytes must hold (Babbage's
    /// `(160 + size) * coinsPerUTxOByte`; 160 bytes stand for the UTxO map entry's overhead).
    pub fn min_lovelace(&self, output_size: usize) -> u64 {
        (160 + output_size as u64).saturating_mul(self.coins_per_utxo_byte)
    }
}

/// The linear fee a transaction of `size` bytes must pay at least: `minFeeA * size + minFeeB`.
///
/// Conway adds a fee for reference scripts and script execution; transactions with scripts are
/// rejected before fees matter, so the linear part is the whole minimum here.
pub fn min_fee(size: usize, params: &ProtocolParams) -> u64 {
    params
        .min_fee_a
        .saturating_mul(size as u64)
        .saturating_add(params.min_fee_b)
}

/// What the genesis files and `cardano-cli` may say; every field optional.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawParams {
    max_block_body_size: Option<u64>,
    max_tx_size: Option<u64>,
    #[serde(alias = "txFeePerByte")]
    min_fee_a: Option<u64>,
    #[serde(alias = "txFeeFixed")]
    min_fee_b: Option<u64>,
    #[serde(alias = "maxTxExecutionUnits")]
    max_tx_ex_units: Option<ExUnits>,
    #[serde(alias = "maxBlockExecutionUnits")]
    max_block_ex_units: Option<ExUnits>,
    #[serde(rename = "coinsPerUTxOByte", alias = "utxoCostPerByte")]
    coins_per_utxo_byte: Option<u64>,
    /// Alonzo's per-8-byte-word price; Babbage translated it as `word / 8`.
    #[serde(rename = "lovelacePerUTxOWord", alias = "coinsPerUTxOWord")]
    lovelace_per_utxo_word: Option<u64>,
    max_value_size: Option<u64>,
}

impl From<RawParams> for ProtocolParams {
    fn from(raw: RawParams) -> Self {
        let d = ProtocolParams::default();
        let per_byte = raw
            .coins_per_utxo_byte
            .or(raw.lovelace_per_utxo_word.map(|w| w / 8));
        Self {
            max_block_body_size: raw.max_block_body_size.unwrap_or(d.max_block_body_size),
            max_tx_size: raw.max_tx_size.unwrap_or(d.max_tx_size),
            min_fee_a: raw.min_fee_a.unwrap_or(d.min_fee_a),
            min_fee_b: raw.min_fee_b.unwrap_or(d.min_fee_b),
            max_tx_ex_units: raw.max_tx_ex_units.unwrap_or(d.max_tx_ex_units),
            max_block_ex_units: raw.max_block_ex_units.unwrap_or(d.max_block_ex_units),
            coins_per_utxo_byte: per_byte.unwrap_or(d.coins_per_utxo_byte),
            max_value_size: raw.max_value_size.unwrap_or(d.max_value_size),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_shelley_genesis_protocol_params() {
        let json = r#"{"a0": 0.3, "decentralisationParam": 0, "eMax": 18,
            "maxBlockBodySize": 65536, "maxBlockHeaderSize": 1100, "maxTxSize": 16384,
            "minFeeA": 44, "minFeeB": 155381, "minUTxOValue": 1000000,
            "protocolVersion": {"major": 10, "minor": 0}}"#;
        let p: ProtocolParams = serde_json::from_str(json).expect("valid params");
        assert_eq!(p.max_block_body_size, 65_536);
        assert_eq!(p.min_fee_a, 44);
        assert_eq!(p.min_fee_b, 155_381);
        // Not in the shelley file: mainnet's value.
        assert_eq!(p.coins_per_utxo_byte, 4_310);
    }

    #[test]
    fn reads_alonzo_genesis_and_cli_names() {
        let alonzo = r#"{"lovelacePerUTxOWord": 34482, "maxValueSize": 5000,
            "maxTxExUnits": {"exUnitsMem": 10000000, "exUnitsSteps": 10000000000},
            "maxBlockExUnits": {"memory": 50000000, "steps": 40000000000}}"#;
        let p: ProtocolParams = serde_json::from_str(alonzo).expect("valid params");
        assert_eq!(p.coins_per_utxo_byte, 4_310);
        assert_eq!(
            p.max_tx_ex_units,
            ExUnits {
                memory: 10_000_000,
                steps: 10_000_000_000
            }
        );
        assert_eq!(p.max_block_ex_units.memory, 50_000_000);

        let cli = r#"{"txFeePerByte": 45, "txFeeFixed": 1000, "utxoCostPerByte": 4000,
            "maxTxExecutionUnits": {"memory": 1, "steps": 2}}"#;
        let p: ProtocolParams = serde_json::from_str(cli).expect("valid params");
        assert_eq!(
            (p.min_fee_a, p.min_fee_b, p.coins_per_utxo_byte),
            (45, 1000, 4000)
        );
        assert_eq!(
            p.max_tx_ex_units,
            ExUnits {
                memory: 1,
                steps: 2
            }
        );
    }

    #[test]
    fn round_trips_through_json_with_genesis_names() {
        let p = ProtocolParams {
            max_tx_size: 1234,
            ..ProtocolParams::default()
        };
        let json = serde_json::to_value(&p).expect("serializable");
        assert_eq!(json["maxTxSize"], 1234);
        assert_eq!(json["coinsPerUTxOByte"], 4310);
        assert_eq!(json["maxTxExUnits"]["memory"], 14_000_000);
        let back: ProtocolParams = serde_json::from_value(json).expect("valid params");
        assert_eq!(back, p);
    }

    #[test]
    fn min_fee_is_linear_in_size() {
        let p = ProtocolParams::default();
        assert_eq!(min_fee(0, &p), 155_381);
        assert_eq!(min_fee(300, &p), 155_381 + 44 * 300);
        assert_eq!(p.min_lovelace(65), (160 + 65) * 4_310);
    }
}

//! Conway transactions: decoding real CBOR with pallas into an owned [`Tx`], and the
//! [`TxError`] every phase-1 rule reports.
//!
//! Decoding keeps what validation needs and nothing that borrows the input: the id is the
//! blake2b-256 of the body's *original* bytes (pallas `KeepRaw`), so re-encoding can never
//! change it. Features the emulated ledger does not implement yet (scripts, certificates,
//! governance) still decode; [`Tx::scripts`] and [`Tx::unsupported`] say why validation will
//! refuse them.

use std::collections::BTreeMap;
use std::fmt;

use pallas_codec::minicbor::{self, Decoder, data::Type};
use pallas_codec::utils::Nullable;
use pallas_primitives::{alonzo, babbage, conway};

/// A reference to a transaction output: the producing transaction's id and the output's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxIn {
    /// Id of the transaction that created the output.
    pub tx_id: [u8; 32],
    /// Position of the output in that transaction.
    pub index: u64,
}

impl fmt::Display for TxIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", Hex(&self.tx_id), self.index)
    }
}

/// A native asset: its minting policy (a script hash) and its name (at most 32 bytes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetId {
    /// The minting policy id.
    pub policy: [u8; 28],
    /// The asset name.
    pub name: Vec<u8>,
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", Hex(&self.policy), Hex(&self.name))
    }
}

/// Native assets of an output; quantities are never zero.
pub type Assets = BTreeMap<AssetId, u64>;

/// What a transaction mints (positive) and burns (negative); quantities are never zero.
pub type Mint = BTreeMap<AssetId, i64>;

/// The datum attached to an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datum {
    /// Only the datum's hash (Alonzo style).
    Hash([u8; 32]),
    /// The datum itself, as its original CBOR (Babbage inline datum).
    Inline(Vec<u8>),
}

/// A transaction output as the UTxO set keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOut {
    /// The raw address bytes (header byte first).
    pub address: Vec<u8>,
    /// Ada in lovelace.
    pub lovelace: u64,
    /// Native assets.
    pub assets: Assets,
    /// Datum, if any.
    pub datum: Option<Datum>,
    /// A reference script's CBOR (`[language, script]`), if any.
    pub script_ref: Option<Vec<u8>>,
}

impl TxOut {
    /// An ada-only output without datum or script.
    pub fn new(address: Vec<u8>, lovelace: u64) -> Self {
        Self {
            address,
            lovelace,
            assets: Assets::new(),
            datum: None,
            script_ref: None,
        }
    }
}

/// A verification-key witness: the key and its signature over the transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VKeyWitness {
    /// Ed25519 verification key.
    pub vkey: [u8; 32],
    /// Ed25519 signature of the transaction id.
    pub signature: [u8; 64],
}

/// The auxiliary data (metadata) of a transaction, as validation needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuxiliaryData {
    /// blake2b-256 of its original bytes, to compare with the body's declared hash.
    pub hash: [u8; 32],
    /// Every text and byte-string metadatum is at most 64 bytes (the ledger's `validMetadatum`).
    pub metadata_valid: bool,
}

/// Why a transaction needs script evaluation, which the emulated ledger does not do yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptUse {
    /// The witness set carries native scripts.
    NativeScriptWitness,
    /// The witness set carries Plutus scripts of this language version.
    PlutusScriptWitness(u8),
    /// The witness set carries redeemers.
    Redeemers,
    /// The witness set carries datums.
    DatumWitnesses,
    /// The body mints or burns assets, which needs a minting-policy script.
    Mint,
    /// The body has collateral, which only Plutus transactions use.
    Collateral,
    /// The auxiliary data carries scripts.
    AuxiliaryDataScripts,
    /// This spent input is locked by a script.
    ScriptLockedInput(TxIn),
    /// This spent or referenced output carries a reference script (Conway charges for those).
    ReferenceScript(TxIn),
}

impl fmt::Display for ScriptUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NativeScriptWitness => f.write_str("the witness set has native scripts"),
            Self::PlutusScriptWitness(v) => write!(f, "the witness set has Plutus V{v} scripts"),
            Self::Redeemers => f.write_str("the witness set has redeemers"),
            Self::DatumWitnesses => f.write_str("the witness set has datums"),
            Self::Mint => f.write_str("the transaction mints or burns (a minting policy script)"),
            Self::Collateral => f.write_str("the transaction has collateral (Plutus only)"),
            Self::AuxiliaryDataScripts => f.write_str("the auxiliary data has scripts"),
            Self::ScriptLockedInput(i) => write!(f, "input {i} is locked by a script"),
            Self::ReferenceScript(i) => write!(f, "input {i} carries a reference script"),
        }
    }
}

/// Transaction features outside the emulated ledger (no stake, rewards or governance state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// Certificates (stake, pool, DRep, committee).
    Certificates,
    /// Reward withdrawals.
    Withdrawals,
    /// Governance votes.
    VotingProcedures,
    /// Governance proposals.
    ProposalProcedures,
    /// The current-treasury-value field.
    TreasuryValue,
    /// A treasury donation.
    Donation,
    /// Byron bootstrap witnesses.
    BootstrapWitnesses,
    /// This spent input is at a Byron (bootstrap) address.
    ByronInput(TxIn),
    /// This spent input's address is neither a Shelley nor a Byron address.
    UnspendableInput(TxIn),
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certificates => f.write_str("certificates"),
            Self::Withdrawals => f.write_str("reward withdrawals"),
            Self::VotingProcedures => f.write_str("governance votes"),
            Self::ProposalProcedures => f.write_str("governance proposals"),
            Self::TreasuryValue => f.write_str("the current treasury value field"),
            Self::Donation => f.write_str("treasury donations"),
            Self::BootstrapWitnesses => f.write_str("Byron bootstrap witnesses"),
            Self::ByronInput(i) => write!(f, "spending input {i} at a Byron address"),
            Self::UnspendableInput(i) => write!(f, "spending input {i} at a malformed address"),
        }
    }
}

/// Sums of lovelace and assets on one side of the balance equation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueSum {
    /// Lovelace.
    pub lovelace: u128,
    /// Native assets.
    pub assets: BTreeMap<AssetId, u128>,
}

impl fmt::Display for ValueSum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} lovelace", self.lovelace)?;
        if !self.assets.is_empty() {
            write!(f, " and {} assets", self.assets.len())?;
        }
        Ok(())
    }
}

/// An output below the minimum ada for its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmallOutput {
    /// Position of the output in the transaction.
    pub index: usize,
    /// The lovelace it holds.
    pub lovelace: u64,
    /// The lovelace it must hold at least.
    pub min_lovelace: u64,
}

/// An output whose value serializes to more than `maxValueSize` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigOutput {
    /// Position of the output in the transaction.
    pub index: usize,
    /// The value's serialized size.
    pub value_size: u64,
    /// The protocol's `maxValueSize`.
    pub max: u64,
}

/// Why a transaction is not valid. Rule variants are named after cardano-ledger's predicate
/// failures so traces read like a real node's; `Display` is one line naming the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// The bytes are not a well-formed Conway transaction.
    #[error("DecoderError: not a valid Conway transaction: {0}")]
    Decode(String),
    /// The transaction spends nothing.
    #[error("InputSetEmptyUTxO: the transaction spends no inputs")]
    InputSetEmptyUTxO,
    /// Spent or referenced outputs that are not in the UTxO set (never created or already spent).
    #[error("BadInputsUTxO: {} not in the UTxO set: {}", count(.0.len(), "input"), List(.0))]
    BadInputsUTxO(Vec<TxIn>),
    /// The slot is outside `[validity_start, ttl)`.
    #[error(
        "OutsideValidityIntervalUTxO: slot {slot} is outside the validity interval [{}, {})",
        Bound(*.start, "-inf"), Bound(*.ttl, "+inf")
    )]
    OutsideValidityIntervalUTxO {
        /// The current slot.
        slot: u64,
        /// The first valid slot, if any.
        start: Option<u64>,
        /// The first slot no longer valid, if any.
        ttl: Option<u64>,
    },
    /// The transaction is larger than `maxTxSize`.
    #[error("MaxTxSizeUTxO: the transaction is {size} bytes, the maximum is {max}")]
    MaxTxSizeUTxO {
        /// Its size in bytes.
        size: u64,
        /// The protocol's `maxTxSize`.
        max: u64,
    },
    /// The fee is below `minFeeA * size + minFeeB`.
    #[error("FeeTooSmallUTxO: the fee is {fee} lovelace, the minimum is {min_fee}")]
    FeeTooSmallUTxO {
        /// The least fee for the transaction's size.
        min_fee: u64,
        /// The fee it pays.
        fee: u64,
    },
    /// Inputs (and mint) do not equal outputs plus fee (and burn).
    #[error(
        "ValueNotConservedUTxO: consumed {consumed} but produced {produced}{}",
        AssetDiff(consumed, produced)
    )]
    ValueNotConservedUTxO {
        /// Inputs plus minted assets.
        consumed: ValueSum,
        /// Outputs plus fee plus burned assets.
        produced: ValueSum,
    },
    /// Outputs holding less than the minimum ada for their size.
    #[error("OutputTooSmallUTxO: {}", List(.0))]
    OutputTooSmallUTxO(Vec<SmallOutput>),
    /// Outputs whose value serializes to more than `maxValueSize` bytes.
    #[error("OutputTooBigUTxO: {}", List(.0))]
    OutputTooBigUTxO(Vec<BigOutput>),
    /// Key hashes that must sign (spent key-locked inputs, required signers) but did not.
    #[error("MissingVKeyWitnessesUTXOW: no signature from {}", List(.0.iter().map(|h| Hex(h))))]
    MissingVKeyWitnessesUTXOW(Vec<[u8; 28]>),
    /// Verification keys whose signature does not verify over the transaction id.
    #[error("InvalidWitnessesUTXOW: bad signature by {}", List(.0.iter().map(|k| Hex(k))))]
    InvalidWitnessesUTXOW(Vec<[u8; 32]>),
    /// Auxiliary data is present but the body does not commit to its hash.
    #[error("MissingTxBodyMetadataHash: the body lacks the auxiliary data hash {}", Hex(.0))]
    MissingTxBodyMetadataHash([u8; 32]),
    /// The body commits to auxiliary data that is absent.
    #[error("MissingTxMetadata: the body names auxiliary data {} that is absent", Hex(.0))]
    MissingTxMetadata([u8; 32]),
    /// The body's auxiliary data hash differs from the hash of the auxiliary data.
    #[error("ConflictingMetadataHash: the body says {}, the auxiliary data hashes to {}",
        Hex(.body), Hex(.computed))]
    ConflictingMetadataHash {
        /// The hash in the body.
        body: [u8; 32],
        /// The hash of the auxiliary data.
        computed: [u8; 32],
    },
    /// Outputs at Shelley addresses of another network.
    #[error("WrongNetwork: outputs {} are not for network {expected}", List(.outputs))]
    WrongNetwork {
        /// The ledger's network id.
        expected: u8,
        /// Positions of the offending outputs.
        outputs: Vec<usize>,
    },
    /// The body's network id field names another network.
    #[error("WrongNetworkInTxBody: the body says network {found}, the ledger is {expected}")]
    WrongNetworkInTxBody {
        /// The ledger's network id.
        expected: u8,
        /// The body's network id.
        found: u8,
    },
    /// A text or byte-string metadatum is longer than 64 bytes.
    #[error("InvalidMetadata: a text or bytes metadatum is longer than 64 bytes")]
    InvalidMetadata,
    /// The body has a script data hash although the transaction has no script data.
    #[error("PPViewHashesDontMatch: script data hash {} given, none expected", Hex(.0))]
    PPViewHashesDontMatch([u8; 32]),
    /// The transaction claims to fail phase 2 (`is_valid = false`) but has no scripts.
    #[error("ValidationTagMismatch: is_valid is false but there are no scripts to fail")]
    ValidationTagMismatch,
    /// The transaction needs script evaluation, which is not implemented yet.
    #[error("ScriptsNotSupported: {0}; Plutus/native script inputs arrive with issue 9")]
    ScriptsNotSupported(ScriptUse),
    /// The transaction uses a feature outside the emulated ledger.
    #[error("NotSupported: the emulated ledger does not support {0}")]
    NotSupported(Unsupported),
}

/// A decoded Conway transaction, owning everything validation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tx {
    /// blake2b-256 of the body's original bytes.
    pub id: [u8; 32],
    /// Size of the whole transaction CBOR in bytes (what the fee and size rules measure).
    pub size: usize,
    /// Spent outputs, in the body's order (no duplicates).
    pub inputs: Vec<TxIn>,
    /// Outputs only read (Babbage reference inputs).
    pub reference_inputs: Vec<TxIn>,
    /// Created outputs; output `i` becomes `TxIn { tx_id: id, index: i }`.
    pub outputs: Vec<TxOut>,
    /// CBOR size of each output as it appears in the transaction (for the minimum-ada rule).
    pub output_sizes: Vec<usize>,
    /// The fee in lovelace.
    pub fee: u64,
    /// First slot the transaction is valid in.
    pub validity_start: Option<u64>,
    /// First slot the transaction is no longer valid in.
    pub ttl: Option<u64>,
    /// Minted (positive) and burned (negative) assets.
    pub mint: Mint,
    /// Verification-key witnesses.
    pub vkey_witnesses: Vec<VKeyWitness>,
    /// Key hashes the body requires signatures from.
    pub required_signers: Vec<[u8; 28]>,
    /// The body's network id, if given.
    pub network_id: Option<u8>,
    /// The phase-2 validity flag.
    pub is_valid: bool,
    /// The auxiliary data hash the body declares.
    pub auxiliary_data_hash: Option<[u8; 32]>,
    /// The auxiliary data, if present.
    pub auxiliary_data: Option<AuxiliaryData>,
    /// The body's script data hash, if given.
    pub script_data_hash: Option<[u8; 32]>,
    /// Why the transaction needs scripts, as far as the transaction alone shows it.
    pub scripts: Option<ScriptUse>,
    /// An unsupported feature the transaction uses.
    pub unsupported: Option<Unsupported>,
    /// The transaction's CBOR as received.
    pub bytes: Vec<u8>,
}

impl Tx {
    /// Whether the transaction itself shows it needs scripts (spent inputs may add to that).
    pub fn has_scripts(&self) -> bool {
        self.scripts.is_some()
    }

    /// The ledger's network rules, for a ledger on `network_id` (0 = testnet, 1 = mainnet):
    /// every Shelley output address and the body's network id, if given, name that network.
    /// Byron addresses carry a protocol magic instead and are not checked. Kept apart from
    /// [`UtxoSet::validate`](crate::utxo::UtxoSet::validate) because the network comes from
    /// the genesis, not the protocol parameters.
    pub fn check_network(&self, network_id: u8) -> Result<(), TxError> {
        let outputs: Vec<usize> = (self.outputs.iter().enumerate())
            .filter(|(_, o)| {
                o.address
                    .first()
                    .is_some_and(|h| h >> 4 <= 7 && h & 0x0f != network_id)
            })
            .map(|(i, _)| i)
            .collect();
        if !outputs.is_empty() {
            return Err(TxError::WrongNetwork {
                expected: network_id,
                outputs,
            });
        }
        match self.network_id {
            Some(found) if found != network_id => Err(TxError::WrongNetworkInTxBody {
                expected: network_id,
                found,
            }),
            _ => Ok(()),
        }
    }
}

/// Decodes a Conway transaction (`[body, witnesses, is_valid, auxiliary_data]`).
///
/// Fails on malformed CBOR, trailing bytes, duplicate inputs, malformed output addresses,
/// witnesses of the wrong length, zero asset quantities and asset names over 32 bytes.
pub fn decode_tx(bytes: &[u8]) -> Result<Tx, TxError> {
    let mut d = Decoder::new(bytes);
    let tx: conway::Tx = d.decode().map_err(|e| TxError::Decode(e.to_string()))?;
    if d.position() != bytes.len() {
        return Err(TxError::Decode(format!(
            "{} trailing bytes",
            bytes.len() - d.position()
        )));
    }
    let body = &tx.transaction_body;
    let wits = &tx.transaction_witness_set;

    let inputs = tx_ins(body.inputs.iter())?;
    let reference_inputs = tx_ins(body.reference_inputs.iter().flat_map(|s| s.iter()))?;

    let mut outputs = Vec::with_capacity(body.outputs.len());
    let mut output_sizes = Vec::with_capacity(body.outputs.len());
    for (index, out) in body.outputs.iter().enumerate() {
        let (out, size) =
            tx_out(out).map_err(|e| TxError::Decode(format!("output {index}: {e}")))?;
        outputs.push(out);
        output_sizes.push(size);
    }

    let mut mint = Mint::new();
    for (policy, names) in body.mint.iter().flatten() {
        for (name, qty) in names {
            let id = asset_id(policy, name).map_err(TxError::Decode)?;
            mint.insert(id, i64::from(qty));
        }
    }

    let mut vkey_witnesses = Vec::new();
    for w in wits.vkeywitness.iter().flat_map(|s| s.iter()) {
        let vkey = w.vkey.as_slice().try_into();
        let signature = w.signature.as_slice().try_into();
        let (Ok(vkey), Ok(signature)) = (vkey, signature) else {
            return Err(TxError::Decode(
                "a vkey witness is not a 32-byte key and a 64-byte signature".into(),
            ));
        };
        vkey_witnesses.push(VKeyWitness { vkey, signature });
    }
    if has_duplicates(vkey_witnesses.iter().map(|w| (w.vkey, w.signature))) {
        return Err(TxError::Decode("duplicate vkey witnesses".into()));
    }

    let required_signers = body
        .required_signers
        .iter()
        .flat_map(|s| s.iter())
        .map(|h| **h)
        .collect();

    let auxiliary_data = match &tx.auxiliary_data {
        Nullable::Some(aux) => Some(aux),
        Nullable::Null => None,
        Nullable::Undefined => {
            return Err(TxError::Decode(
                "auxiliary data is `undefined`, not null".into(),
            ));
        }
    };
    let aux_scripts = match auxiliary_data {
        Some(aux) => aux_has_scripts(aux.raw_cbor(), aux).map_err(TxError::Decode)?,
        None => false,
    };

    let scripts = if wits.native_script.is_some() {
        Some(ScriptUse::NativeScriptWitness)
    } else if wits.plutus_v1_script.is_some() {
        Some(ScriptUse::PlutusScriptWitness(1))
    } else if wits.plutus_v2_script.is_some() {
        Some(ScriptUse::PlutusScriptWitness(2))
    } else if wits.plutus_v3_script.is_some() {
        Some(ScriptUse::PlutusScriptWitness(3))
    } else if wits.redeemer.is_some() {
        Some(ScriptUse::Redeemers)
    } else if wits.plutus_data.is_some() {
        Some(ScriptUse::DatumWitnesses)
    } else if !mint.is_empty() {
        Some(ScriptUse::Mint)
    } else if body.collateral.is_some()
        || body.collateral_return.is_some()
        || body.total_collateral.is_some()
    {
        Some(ScriptUse::Collateral)
    } else if aux_scripts {
        Some(ScriptUse::AuxiliaryDataScripts)
    } else {
        None
    };

    let unsupported = if body.certificates.is_some() {
        Some(Unsupported::Certificates)
    } else if body.withdrawals.as_ref().is_some_and(|w| !w.is_empty()) {
        Some(Unsupported::Withdrawals)
    } else if body.voting_procedures.is_some() {
        Some(Unsupported::VotingProcedures)
    } else if body.proposal_procedures.is_some() {
        Some(Unsupported::ProposalProcedures)
    } else if body.treasury_value.is_some() {
        Some(Unsupported::TreasuryValue)
    } else if body.donation.is_some() {
        Some(Unsupported::Donation)
    } else if wits.bootstrap_witness.is_some() {
        Some(Unsupported::BootstrapWitnesses)
    } else {
        None
    };

    Ok(Tx {
        id: blake2b_256(body.raw_cbor()),
        size: bytes.len(),
        inputs,
        reference_inputs,
        outputs,
        output_sizes,
        fee: body.fee,
        validity_start: body.validity_interval_start,
        ttl: body.ttl,
        mint,
        vkey_witnesses,
        required_signers,
        network_id: body.network_id.map(u8::from),
        is_valid: tx.success,
        auxiliary_data_hash: body.auxiliary_data_hash.map(|h| *h),
        auxiliary_data: auxiliary_data.map(|aux| AuxiliaryData {
            hash: blake2b_256(aux.raw_cbor()),
            metadata_valid: metadata_valid(aux),
        }),
        script_data_hash: body.script_data_hash.map(|h| *h),
        scripts,
        unsupported,
        bytes: bytes.to_vec(),
    })
}

/// blake2b-256, the hash of transaction bodies and auxiliary data.
pub(crate) fn blake2b_256(data: &[u8]) -> [u8; 32] {
    let hash = blake2b_simd::Params::new().hash_length(32).hash(data);
    let mut out = [0; 32];
    out.copy_from_slice(hash.as_bytes());
    out
}

/// blake2b-224, the hash of verification keys in addresses and signer lists.
pub(crate) fn blake2b_224(data: &[u8]) -> [u8; 28] {
    let hash = blake2b_simd::Params::new().hash_length(28).hash(data);
    let mut out = [0; 28];
    out.copy_from_slice(hash.as_bytes());
    out
}

/// The payment part of an address, as far as spending it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payment {
    /// Locked by a verification key with this hash.
    Key([u8; 28]),
    /// Locked by a script with this hash.
    Script,
    /// A Byron (bootstrap) address.
    Byron,
    /// Not a valid payment address.
    Invalid,
}

/// Classifies an address by its header's type nibble (CIP-19).
pub(crate) fn payment_part(address: &[u8]) -> Payment {
    let Some(&header) = address.first() else {
        return Payment::Invalid;
    };
    let hash = || {
        address
            .get(1..29)
            .and_then(|h| <[u8; 28]>::try_from(h).ok())
    };
    match header >> 4 {
        0 | 2 | 4 | 6 => hash().map_or(Payment::Invalid, Payment::Key),
        1 | 3 | 5 | 7 => hash().map_or(Payment::Invalid, |_| Payment::Script),
        8 => Payment::Byron,
        _ => Payment::Invalid,
    }
}

/// Checks an output address the way the ledger's decoder does: exact lengths for Shelley
/// addresses, network 0 or 1, a well-formed Byron address, and no reward addresses.
fn check_output_address(address: &[u8]) -> Result<(), String> {
    let Some(&header) = address.first() else {
        return Err("empty address".into());
    };
    let kind = header >> 4;
    if kind <= 7 && header & 0x0f > 1 {
        return Err(format!(
            "address network {} is neither 0 nor 1",
            header & 0x0f
        ));
    }
    let ok = match kind {
        0..=3 => address.len() == 57,
        4 | 5 => {
            address.len() > 29 && pallas_addresses::Pointer::parse_strict(&address[29..]).is_ok()
        }
        6 | 7 => address.len() == 29,
        8 => matches!(
            pallas_addresses::Address::from_bytes(address),
            Ok(pallas_addresses::Address::Byron(_))
        ),
        14 | 15 => return Err("a reward address cannot hold an output".into()),
        _ => return Err(format!("unknown address header {header:#04x}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("malformed address {}", Hex(address)))
    }
}

fn tx_ins<'a>(
    inputs: impl Iterator<Item = &'a pallas_primitives::TransactionInput>,
) -> Result<Vec<TxIn>, TxError> {
    let ins: Vec<TxIn> = inputs
        .map(|i| TxIn {
            tx_id: *i.transaction_id,
            index: i.index,
        })
        .collect();
    if has_duplicates(ins.iter().copied()) {
        // Conway's decoder rejects repeated set elements; counting an input twice would
        // also break the balance rule.
        return Err(TxError::Decode("an input set repeats an input".into()));
    }
    Ok(ins)
}

fn has_duplicates<T: Ord + Copy>(items: impl Iterator<Item = T>) -> bool {
    let mut v: Vec<T> = items.collect();
    if v.len() < 2 {
        return false;
    }
    v.sort_unstable();
    v.windows(2).any(|w| w[0] == w[1])
}

fn asset_id(policy: &pallas_primitives::Hash<28>, name: &[u8]) -> Result<AssetId, String> {
    if name.len() > 32 {
        return Err(format!("asset name of {} bytes (at most 32)", name.len()));
    }
    Ok(AssetId {
        policy: **policy,
        name: name.to_vec(),
    })
}

fn add_assets<'a, Q: Copy + Into<u64> + 'a>(
    assets: &mut Assets,
    multi: impl Iterator<
        Item = (
            &'a pallas_primitives::Hash<28>,
            &'a BTreeMap<pallas_primitives::Bytes, Q>,
        ),
    >,
) -> Result<(), String> {
    for (policy, names) in multi {
        for (name, qty) in names {
            let qty: u64 = (*qty).into();
            if qty == 0 {
                return Err("zero asset quantity".into());
            }
            assets.insert(asset_id(policy, name)?, qty);
        }
    }
    Ok(())
}

/// Converts a pallas output; returns it with its original CBOR size.
fn tx_out(out: &conway::TransactionOutput) -> Result<(TxOut, usize), String> {
    match out {
        babbage::GenTransactionOutput::Legacy(o) => {
            check_output_address(&o.address)?;
            let mut txo = TxOut::new(o.address.to_vec(), 0);
            match &o.amount {
                alonzo::Value::Coin(c) => txo.lovelace = *c,
                alonzo::Value::Multiasset(c, multi) => {
                    txo.lovelace = *c;
                    add_assets(&mut txo.assets, multi.iter())?;
                }
            }
            txo.datum = o.datum_hash.map(|h| Datum::Hash(*h));
            Ok((txo, o.raw_cbor().len()))
        }
        babbage::GenTransactionOutput::PostAlonzo(o) => {
            check_output_address(&o.address)?;
            let mut txo = TxOut::new(o.address.to_vec(), 0);
            match &o.value {
                conway::Value::Coin(c) => txo.lovelace = *c,
                conway::Value::Multiasset(c, multi) => {
                    txo.lovelace = *c;
                    add_assets(&mut txo.assets, multi.iter())?;
                }
            }
            txo.datum = o.datum_option.as_ref().map(|d| match &**d {
                babbage::DatumOption::Hash(h) => Datum::Hash(**h),
                babbage::DatumOption::Data(data) => Datum::Inline(data.0.raw_cbor().to_vec()),
            });
            if let Some(script) = &o.script_ref {
                let raw = minicbor::to_vec(&script.0).map_err(|e| e.to_string())?;
                txo.script_ref = Some(raw);
            }
            Ok((txo, o.raw_cbor().len()))
        }
    }
}

/// Whether the auxiliary data carries scripts. pallas' Alonzo-shaped type drops Plutus V2/V3
/// script keys, so the tagged (post-Alonzo) form is read from its raw map keys.
fn aux_has_scripts(raw: &[u8], aux: &alonzo::AuxiliaryData) -> Result<bool, String> {
    match aux {
        alonzo::AuxiliaryData::Shelley(_) => Ok(false),
        alonzo::AuxiliaryData::ShelleyMa(ma) => Ok(ma.auxiliary_scripts.is_some()),
        alonzo::AuxiliaryData::PostAlonzo(_) => {
            let map_keys = || -> Result<bool, minicbor::decode::Error> {
                let mut d = Decoder::new(raw);
                d.tag()?;
                let len = d.map()?;
                let mut seen = 0;
                loop {
                    match len {
                        Some(n) if seen >= n => return Ok(false),
                        None if d.datatype()? == Type::Break => return Ok(false),
                        _ => {}
                    }
                    if d.u64()? != 0 {
                        return Ok(true);
                    }
                    d.skip()?;
                    seen += 1;
                }
            };
            map_keys().map_err(|e| format!("auxiliary data: {e}"))
        }
    }
}

/// The ledger's `validMetadatum`: text and byte strings are at most 64 bytes. Walks with an
/// explicit stack because metadata nesting is attacker-controlled.
fn metadata_valid(aux: &alonzo::AuxiliaryData) -> bool {
    let metadata = match aux {
        alonzo::AuxiliaryData::Shelley(m) => Some(m),
        alonzo::AuxiliaryData::ShelleyMa(ma) => Some(&ma.transaction_metadata),
        alonzo::AuxiliaryData::PostAlonzo(pa) => pa.metadata.as_ref(),
    };
    let mut stack: Vec<&pallas_primitives::Metadatum> =
        metadata.into_iter().flat_map(|m| m.values()).collect();
    while let Some(m) = stack.pop() {
        use pallas_primitives::Metadatum as M;
        match m {
            M::Int(_) => {}
            M::Bytes(b) if b.len() > 64 => return false,
            M::Text(t) if t.len() > 64 => return false,
            M::Bytes(_) | M::Text(_) => {}
            M::Array(items) => stack.extend(items.iter()),
            M::Map(pairs) => stack.extend(pairs.iter().flat_map(|(k, v)| [k, v])),
        }
    }
    true
}

/// Size of a CBOR head (an unsigned integer, a length or a tag) with argument `n`, in the
/// shortest form: what fee and size computations need before encoding.
pub fn cbor_head_len(n: u64) -> usize {
    match n {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Serialized size of an output value as the ledger encodes it: a bare coin, or
/// `[coin, {policy => {name => quantity}}]`.
pub(crate) fn value_size(lovelace: u64, assets: &Assets) -> usize {
    if assets.is_empty() {
        return cbor_head_len(lovelace);
    }
    let mut policies = 0;
    let mut size = 0;
    let mut iter = assets.iter().peekable();
    while let Some((id, _)) = iter.peek() {
        let policy = id.policy;
        let mut names = 0;
        while let Some((id, qty)) = iter.next_if(|(id, _)| id.policy == policy) {
            names += 1;
            size += cbor_head_len(id.name.len() as u64) + id.name.len() + cbor_head_len(*qty);
        }
        policies += 1;
        size += 2 + 28 + cbor_head_len(names);
    }
    1 + cbor_head_len(lovelace) + cbor_head_len(policies) + size
}

/// Lowercase hex of a byte string, for messages.
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A comma-separated list of at most five items, then how many more.
struct List<I>(I);

impl<I, T> fmt::Display for List<I>
where
    I: IntoIterator<Item = T> + Clone,
    T: fmt::Display,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 5;
        let mut n = 0;
        for item in self.0.clone() {
            if n < SHOWN {
                write!(f, "{}{item}", if n > 0 { ", " } else { "" })?;
            }
            n += 1;
        }
        if n > SHOWN {
            write!(f, " and {} more", n - SHOWN)?;
        }
        Ok(())
    }
}

impl fmt::Display for SmallOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            index,
            lovelace,
            min_lovelace,
        } = self;
        write!(
            f,
            "output {index} holds {lovelace} lovelace, the minimum is {min_lovelace}"
        )
    }
}

impl fmt::Display for BigOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            index,
            value_size,
            max,
        } = self;
        write!(
            f,
            "output {index} has a {value_size}-byte value, the maximum is {max}"
        )
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what} is")
    } else {
        format!("{n} {what}s are")
    }
}

struct Bound(Option<u64>, &'static str);

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(slot) => write!(f, "{slot}"),
            None => f.write_str(self.1),
        }
    }
}

/// Names the first few assets whose consumed and produced amounts differ.
struct AssetDiff<'a>(&'a ValueSum, &'a ValueSum);

impl fmt::Display for AssetDiff<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (c, p) = (&self.0.assets, &self.1.assets);
        let differ = c
            .iter()
            .filter(|(id, q)| p.get(*id) != Some(q))
            .map(|(id, _)| id)
            .chain(p.keys().filter(|id| !c.contains_key(*id)));
        let ids: Vec<&AssetId> = differ.collect();
        if ids.is_empty() {
            Ok(())
        } else {
            write!(f, " (assets differ: {})", List(ids))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_payment_parts() {
        let mut enterprise = vec![0x60];
        enterprise.extend([7; 28]);
        assert_eq!(payment_part(&enterprise), Payment::Key([7; 28]));
        enterprise[0] = 0x71;
        assert_eq!(payment_part(&enterprise), Payment::Script);
        assert_eq!(payment_part(&[0x82, 0xd8]), Payment::Byron);
        assert_eq!(payment_part(&[0x60, 1, 2]), Payment::Invalid);
        assert_eq!(payment_part(&[]), Payment::Invalid);
        assert_eq!(
            payment_part(&enterprise.iter().map(|_| 0xe1).collect::<Vec<_>>()),
            Payment::Invalid
        );
    }

    #[test]
    fn output_addresses_are_checked_strictly() {
        let mut enterprise = vec![0x61];
        enterprise.extend([7; 28]);
        assert!(check_output_address(&enterprise).is_ok());
        let mut long = enterprise.clone();
        long.push(0);
        assert!(check_output_address(&long).is_err());
        let mut base = vec![0x00];
        base.extend([1; 56]);
        assert!(check_output_address(&base).is_ok());
        let mut pointer = vec![0x40];
        pointer.extend([1; 28]);
        pointer.extend([0x81, 0x00, 2, 3]);
        assert!(check_output_address(&pointer).is_ok());
        let mut reward = vec![0xe0];
        reward.extend([1; 28]);
        assert!(check_output_address(&reward).is_err());
        enterprise[0] = 0x62;
        assert!(check_output_address(&enterprise).is_err());
        assert!(check_output_address(&[]).is_err());
    }

    #[test]
    fn value_size_matches_pallas_encoding() {
        let mut assets = Assets::new();
        for (p, name, q) in [
            (1u8, &b"a"[..], 5u64),
            (1, b"bbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 70_000),
            (2, b"", 1 << 40),
        ] {
            assets.insert(
                AssetId {
                    policy: [p; 28],
                    name: name.to_vec(),
                },
                q,
            );
        }
        let mut multi: BTreeMap<
            pallas_primitives::Hash<28>,
            BTreeMap<pallas_primitives::Bytes, u64>,
        > = BTreeMap::new();
        for (id, q) in &assets {
            multi
                .entry(id.policy.into())
                .or_default()
                .insert(id.name.clone().into(), *q);
        }
        for coin in [0, 23, 24, 1_000_000, u64::MAX] {
            let v = alonzo::Value::Multiasset(coin, multi.clone());
            let encoded = minicbor::to_vec(&v).expect("encodable");
            assert_eq!(value_size(coin, &assets), encoded.len());
            let encoded = minicbor::to_vec(alonzo::Value::Coin(coin)).expect("encodable");
            assert_eq!(value_size(coin, &Assets::new()), encoded.len());
        }
    }

    #[test]
    fn errors_read_as_one_line_naming_the_rule() {
        let tx_in = TxIn {
            tx_id: [0xab; 32],
            index: 3,
        };
        let e = TxError::BadInputsUTxO(vec![tx_in; 7]);
        let s = e.to_string();
        assert!(
            s.starts_with("BadInputsUTxO: 7 inputs are not in the UTxO set: abab"),
            "{s}"
        );
        assert!(s.ends_with("#3 and 2 more"), "{s}");
        let e = TxError::OutsideValidityIntervalUTxO {
            slot: 9,
            start: None,
            ttl: Some(5),
        };
        assert_eq!(
            e.to_string(),
            "OutsideValidityIntervalUTxO: slot 9 is outside the validity interval [-inf, 5)"
        );
        let e = TxError::ScriptsNotSupported(ScriptUse::ScriptLockedInput(tx_in));
        assert!(e.to_string().contains("is locked by a script"));
        assert!(e.to_string().contains("issue 9"));
        let id = AssetId {
            policy: [1; 28],
            name: b"x".to_vec(),
        };
        let consumed = ValueSum {
            lovelace: 5,
            assets: [(id.clone(), 1)].into(),
        };
        let produced = ValueSum {
            lovelace: 5,
            assets: [(id, 2)].into(),
        };
        let e = TxError::ValueNotConservedUTxO { consumed, produced };
        assert!(e.to_string().contains("assets differ: 0101"), "{e}");
        for e in [
            e,
            TxError::InvalidMetadata,
            TxError::NotSupported(Unsupported::Certificates),
        ] {
            assert!(!e.to_string().contains('\n'));
        }
    }
}

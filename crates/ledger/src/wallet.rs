//! Keys and signed value transfers in real Conway CBOR, for tests, the transaction generator
//! and genesis.
//!
//! The CBOR is written by hand (it is a handful of maps and arrays) in the canonical shape
//! `cardano-cli` produces: inputs sorted in a tag-258 set, post-Alonzo map outputs, witnesses
//! in a tag-258 set, `is_valid = true`, no auxiliary data.

use crate::cbor_out::{ARRAY, MAP, UINT, bytes, head, set};
use std::fmt;

use ed25519_dalek::{Signer, SigningKey};

use crate::params::ProtocolParams;
pub use crate::params::min_fee;
use crate::tx::{TxIn, VKeyWitness, blake2b_224, blake2b_256, cbor_head_len};

/// A payment key and the network its addresses are for.
#[derive(Clone)]
pub struct Wallet {
    signing: SigningKey,
    vkey: [u8; 32],
    key_hash: [u8; 28],
    network: u8,
}

impl fmt::Debug for Wallet {
    // Never prints the secret key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field("key_hash", &crate::tx::Hex(&self.key_hash).to_string())
            .field("network", &self.network)
            .finish()
    }
}

/// Why a payment could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// The inputs hold less than the payments plus the fee.
    #[error("insufficient funds: the inputs hold {available} lovelace, {needed} are needed")]
    InsufficientFunds {
        /// Lovelace in the inputs.
        available: u128,
        /// Payments plus fee.
        needed: u128,
    },
}

impl Wallet {
    /// The wallet whose ed25519 secret key is `seed`, with addresses for `network`
    /// (0 = testnet, 1 = mainnet; only the low four bits are used).
    pub fn from_seed(seed: [u8; 32], network: u8) -> Wallet {
        let signing = SigningKey::from_bytes(&seed);
        let vkey = signing.verifying_key().to_bytes();
        Wallet {
            signing,
            vkey,
            key_hash: blake2b_224(&vkey),
            network: network & 0x0f,
        }
    }

    /// The ed25519 verification key.
    pub fn vkey(&self) -> [u8; 32] {
        self.vkey
    }

    /// blake2b-224 of the verification key: the payment credential and signer id.
    pub fn key_hash(&self) -> [u8; 28] {
        self.key_hash
    }

    /// The network id of the wallet's addresses.
    pub fn network(&self) -> u8 {
        self.network
    }

    /// The enterprise address (header type 6: key payment credential, no stake part).
    pub fn address(&self) -> Vec<u8> {
        let mut address = Vec::with_capacity(29);
        address.push(0x60 | self.network);
        address.extend_from_slice(&self.key_hash);
        address
    }

    /// Signs a transaction id.
    pub fn sign(&self, tx_id: &[u8; 32]) -> VKeyWitness {
        VKeyWitness {
            vkey: self.vkey,
            signature: self.signing.sign(tx_id).to_bytes(),
        }
    }

    /// A transaction spending `inputs` into `outputs` (address, lovelace) with this fee and
    /// time-to-live, signed by this wallet. Nothing is checked: unbalanced or otherwise invalid
    /// transactions can be built on purpose.
    pub fn build_transfer(
        &self,
        inputs: &[TxIn],
        outputs: &[(Vec<u8>, u64)],
        fee: u64,
        ttl: Option<u64>,
    ) -> Vec<u8> {
        let body = TxBody {
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            fee,
            ttl,
            ..TxBody::default()
        };
        body.sign(&[self])
    }

    /// A balanced payment: spends `inputs` (with their lovelace), pays `to`, returns the change
    /// to this wallet's address and pays the minimum fee for the signed size. Change too small
    /// for an output of its own (below the minimum ada) goes to the fee, as wallets do.
    /// Returns the transaction and its fee.
    pub fn build_payment(
        &self,
        inputs: &[(TxIn, u64)],
        to: &[(Vec<u8>, u64)],
        ttl: Option<u64>,
        params: &ProtocolParams,
    ) -> Result<(Vec<u8>, u64), WalletError> {
        let available: u128 = inputs.iter().map(|(_, v)| u128::from(*v)).sum();
        let paid: u128 = to.iter().map(|(_, v)| u128::from(*v)).sum();
        let address = self.address();
        let mut body = TxBody {
            inputs: inputs.iter().map(|(i, _)| *i).collect(),
            ttl,
            ..TxBody::default()
        };
        // The fee changes the size only through its own and the change's encoded lengths, so
        // raising it to the minimum for the last size converges in a few rounds.
        let mut fee = 0;
        loop {
            let needed = paid + u128::from(fee);
            let change = available
                .checked_sub(needed)
                .and_then(|c| u64::try_from(c).ok());
            let Some(change) = change else {
                return Err(WalletError::InsufficientFunds { available, needed });
            };
            body.outputs = to.to_vec();
            body.fee = fee;
            if change > 0 {
                // {0: address, 1: change}
                let size = 3 + cbor_head_len(address.len() as u64) + address.len();
                if change >= params.min_lovelace(size + cbor_head_len(change)) {
                    body.outputs.push((address.clone(), change));
                } else {
                    body.fee = fee + change;
                }
            }
            let tx = body.sign(&[self]);
            let min = params.min_fee(tx.len());
            if min <= body.fee {
                return Ok((tx, body.fee));
            }
            fee = min;
        }
    }
}

/// The body of a simple transfer, for building transactions field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxBody {
    /// Spent outputs (encoded sorted, as a set).
    pub inputs: Vec<TxIn>,
    /// Created ada-only outputs: raw address and lovelace.
    pub outputs: Vec<(Vec<u8>, u64)>,
    /// The fee in lovelace.
    pub fee: u64,
    /// First slot the transaction is no longer valid in.
    pub ttl: Option<u64>,
    /// First slot the transaction is valid in.
    pub validity_start: Option<u64>,
    /// Key hashes whose signatures the body requires (omitted when empty).
    pub required_signers: Vec<[u8; 28]>,
}

impl TxBody {
    /// The body's CBOR: a map with keys 0 (inputs), 1 (outputs), 2 (fee), 3 (ttl),
    /// 8 (validity start) and 14 (required signers), in that order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + 48 * self.inputs.len() + 72 * self.outputs.len());
        let entries = 3
            + u64::from(self.ttl.is_some())
            + u64::from(self.validity_start.is_some())
            + u64::from(!self.required_signers.is_empty());
        head(&mut out, MAP, entries);

        head(&mut out, UINT, 0);
        let mut inputs = self.inputs.clone();
        inputs.sort_unstable();
        set(&mut out, inputs.len());
        for i in &inputs {
            head(&mut out, ARRAY, 2);
            bytes(&mut out, &i.tx_id);
            head(&mut out, UINT, i.index);
        }

        head(&mut out, UINT, 1);
        head(&mut out, ARRAY, self.outputs.len() as u64);
        for (address, lovelace) in &self.outputs {
            head(&mut out, MAP, 2);
            head(&mut out, UINT, 0);
            bytes(&mut out, address);
            head(&mut out, UINT, 1);
            head(&mut out, UINT, *lovelace);
        }

        head(&mut out, UINT, 2);
        head(&mut out, UINT, self.fee);
        if let Some(ttl) = self.ttl {
            head(&mut out, UINT, 3);
            head(&mut out, UINT, ttl);
        }
        if let Some(start) = self.validity_start {
            head(&mut out, UINT, 8);
            head(&mut out, UINT, start);
        }
        if !self.required_signers.is_empty() {
            head(&mut out, UINT, 14);
            set(&mut out, self.required_signers.len());
            for signer in &self.required_signers {
                bytes(&mut out, signer);
            }
        }
        out
    }

    /// The whole transaction, signed by each of `signers` over the body's id.
    pub fn sign(&self, signers: &[&Wallet]) -> Vec<u8> {
        let body = self.encode();
        let id = tx_id(&body);
        let witnesses: Vec<VKeyWitness> = signers.iter().map(|w| w.sign(&id)).collect();
        assemble_tx(&body, &witnesses)
    }
}

/// The transaction id of a body: blake2b-256 of its CBOR.
pub fn tx_id(body: &[u8]) -> [u8; 32] {
    blake2b_256(body)
}

/// A whole transaction `[body, {0: witnesses}, true, null]` from a body's CBOR (copied as is)
/// and vkey witnesses (the witness set is omitted-empty `{}` when there are none).
pub fn assemble_tx(body: &[u8], witnesses: &[VKeyWitness]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8 + 100 * witnesses.len());
    head(&mut out, ARRAY, 4);
    out.extend_from_slice(body);
    if witnesses.is_empty() {
        head(&mut out, MAP, 0);
    } else {
        head(&mut out, MAP, 1);
        head(&mut out, UINT, 0);
        set(&mut out, witnesses.len());
        for w in witnesses {
            head(&mut out, ARRAY, 2);
            bytes(&mut out, &w.vkey);
            bytes(&mut out, &w.signature);
        }
    }
    out.push(0xf5); // true: phase-2 valid
    out.push(0xf6); // null: no auxiliary data
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tx::decode_tx;

    #[test]
    fn cbor_heads_are_shortest_form() {
        for (n, len) in [
            (0, 1),
            (23, 1),
            (24, 2),
            (255, 2),
            (256, 3),
            (65_536, 5),
            (1 << 32, 9),
        ] {
            let mut out = Vec::new();
            head(&mut out, UINT, n);
            assert_eq!(out.len(), len, "{n}");
            let back: u64 = minicbor::decode(&out).expect("a uint");
            assert_eq!(back, n);
        }
    }

    #[test]
    fn address_is_enterprise_with_key_hash() {
        let w = Wallet::from_seed([3; 32], 1);
        let a = w.address();
        assert_eq!(a.len(), 29);
        assert_eq!(a[0], 0x61);
        assert_eq!(&a[1..], &w.key_hash());
        assert!(!format!("{w:?}").contains("signing"));
    }

    #[test]
    fn payment_pays_exactly_the_min_fee_and_returns_change() {
        let w = Wallet::from_seed([4; 32], 0);
        let p = ProtocolParams::default();
        let input = (
            TxIn {
                tx_id: [1; 32],
                index: 0,
            },
            10_000_000,
        );
        let to = vec![(Wallet::from_seed([5; 32], 0).address(), 2_000_000)];
        let (bytes, fee) = w
            .build_payment(&[input], &to, Some(100), &p)
            .expect("enough funds");
        assert_eq!(fee, p.min_fee(bytes.len()));
        let tx = decode_tx(&bytes).expect("decodes");
        assert_eq!(tx.fee, fee);
        assert_eq!(tx.outputs[1].lovelace, 10_000_000 - 2_000_000 - fee);
        assert_eq!(tx.outputs[1].address, w.address());

        // Change below the minimum ada is not worth an output: it goes to the fee.
        let dust = 2_000_000 + p.min_fee(bytes.len()) + 10_000;
        let (bytes, fee) = w
            .build_payment(&[(input.0, dust)], &to, None, &p)
            .expect("enough");
        let tx = decode_tx(&bytes).expect("decodes");
        assert_eq!(tx.outputs.len(), 1);
        assert_eq!(fee, dust - 2_000_000);
        assert!(fee >= p.min_fee(bytes.len()));

        let err = w
            .build_payment(&[(input.0, 100)], &to, None, &p)
            .expect_err("too poor");
        assert!(matches!(
            err,
            WalletError::InsufficientFunds { available: 100, .. }
        ));
    }
}

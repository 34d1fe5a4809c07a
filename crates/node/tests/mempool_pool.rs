//! The mempool against real Conway transactions: chains, double spends, capacity, block
//! selection, re-validation after the chain changes, tickets, and 10,000 additions.

use std::time::Instant;

use wb_ledger::block::body_bytes;
use wb_ledger::params::ProtocolParams;
use wb_ledger::tx::{Tx, TxError, TxIn, TxOut, decode_tx};
use wb_ledger::utxo::UtxoSet;
use wb_ledger::wallet::Wallet;
use wb_node::mempool::{AddError, Mempool};

const ADA: u64 = 1_000_000;

fn wallet() -> Wallet {
    Wallet::from_seed([7; 32], 0)
}

/// `n` genesis outputs of `lovelace` each at the wallet's address.
fn genesis(w: &Wallet, n: u32, lovelace: u64) -> (UtxoSet, Vec<(TxIn, u64)>) {
    let funds: Vec<(TxIn, u64)> = (0..n)
        .map(|i| {
            let mut tx_id = [0xee; 32];
            tx_id[..4].copy_from_slice(&i.to_be_bytes());
            (TxIn { tx_id, index: 0 }, lovelace)
        })
        .collect();
    let utxo = funds
        .iter()
        .map(|(i, v)| (*i, TxOut::new(w.address(), *v)))
        .collect();
    (utxo, funds)
}

/// Pays `amount` back to the wallet from `input`, with change; `ttl` optional.
fn pay(w: &Wallet, input: (TxIn, u64), amount: u64, ttl: Option<u64>) -> Tx {
    let to = vec![(w.address(), amount)];
    let (bytes, _) = w
        .build_payment(&[input], &to, ttl, &ProtocolParams::default())
        .expect("enough funds");
    decode_tx(&bytes).expect("decodes")
}

/// The change output of a payment built by [`pay`].
fn change(tx: &Tx) -> (TxIn, u64) {
    let index = tx.outputs.len() as u64 - 1;
    (
        TxIn {
            tx_id: tx.id,
            index,
        },
        tx.outputs[index as usize].lovelace,
    )
}

/// A chain of `n` payments, each spending the previous one's change.
fn chain(w: &Wallet, from: (TxIn, u64), n: usize) -> Vec<Tx> {
    let mut txs: Vec<Tx> = Vec::with_capacity(n);
    let mut input = from;
    for _ in 0..n {
        let tx = pay(w, input, 2 * ADA, None);
        input = change(&tx);
        txs.push(tx);
    }
    txs
}

/// The ledger after a block with `txs`.
fn adopt(utxo: &UtxoSet, txs: &[&Tx]) -> UtxoSet {
    let mut next = utxo.clone();
    for tx in txs {
        let _undo = next.apply(tx);
    }
    next
}

#[test]
fn chains_are_accepted_in_order_and_double_spends_refused() {
    let w = wallet();
    let p = ProtocolParams::default();
    let (utxo, funds) = genesis(&w, 2, 1_000 * ADA);
    let txs = chain(&w, funds[0], 3);
    let mut m = Mempool::new(1 << 20);

    // Out of order, the child's input does not exist yet.
    assert!(matches!(
        m.add(txs[1].clone(), &utxo, 0, &p),
        Err(AddError::Invalid(TxError::BadInputsUTxO(_)))
    ));
    for tx in &txs {
        m.add(tx.clone(), &utxo, 0, &p).expect("valid in order");
    }
    // Spending what a mempool transaction already spent, from the tip or from the mempool.
    let twin = pay(&w, funds[0], 5 * ADA, None);
    let err = m.add(twin, &utxo, 0, &p).expect_err("double spend");
    assert_eq!(
        err,
        AddError::Invalid(TxError::BadInputsUTxO(vec![funds[0].0]))
    );
    assert!(err.to_string().starts_with("BadInputsUTxO: "), "{err}");
    let twin_child = pay(&w, change(&txs[0]), 5 * ADA, None);
    assert!(m.add(twin_child, &utxo, 0, &p).is_err());
    // Other rules still apply: the fee is checked on the combined view too.
    let mut poor = pay(&w, funds[1], 5 * ADA, None);
    poor.fee = 1;
    assert!(matches!(
        m.add(poor, &utxo, 0, &p),
        Err(AddError::Invalid(TxError::FeeTooSmallUTxO { .. }))
    ));
    assert_eq!(
        m.add(txs[2].clone(), &utxo, 0, &p),
        Err(AddError::AlreadyInMempool(txs[2].id))
    );
    let size = m.size();
    assert_eq!(size.num_txs, 3);
    assert_eq!(size.bytes, txs.iter().map(|t| t.size as u64).sum::<u64>());
    let order: Vec<[u8; 32]> = m.iter().map(|t| t.id).collect();
    assert_eq!(order, txs.iter().map(|t| t.id).collect::<Vec<_>>());
    assert!(m.contains(&txs[1].id) && m.get(&txs[1].id) == Some(&txs[1]));
    assert_eq!(m.get(&[0; 32]), None);
}

#[test]
fn capacity_is_enforced_in_bytes() {
    let w = wallet();
    let p = ProtocolParams::default();
    let (utxo, funds) = genesis(&w, 3, 100 * ADA);
    let a = pay(&w, funds[0], 2 * ADA, None);
    let b = pay(&w, funds[1], 2 * ADA, None);
    let mut m = Mempool::new((a.size + b.size) as u64 - 1);
    m.add(a.clone(), &utxo, 0, &p).expect("fits");
    assert_eq!(
        m.add(b.clone(), &utxo, 0, &p),
        Err(AddError::MempoolFull {
            tx_size: b.size as u64,
            used: a.size as u64,
            capacity: m.capacity_bytes(),
        })
    );
    assert_eq!(m.len(), 1);
    // Room comes back when the block with `a` is adopted.
    let next = adopt(&utxo, &[&a]);
    assert_eq!(m.sync_with_ledger(&next, 1, &p), vec![a.id]);
    m.add(b, &next, 1, &p).expect("fits now");
}

#[test]
fn blocks_take_the_longest_prefix_that_fits() {
    let w = wallet();
    let p = ProtocolParams::default();
    let (utxo, funds) = genesis(&w, 30, 100 * ADA);
    let mut m = Mempool::new(1 << 20);
    let txs: Vec<Tx> = funds.iter().map(|f| pay(&w, *f, 2 * ADA, None)).collect();
    for tx in &txs {
        m.add(tx.clone(), &utxo, 0, &p).expect("valid");
    }
    let body = |txs: &[&Tx]| body_bytes(&txs.iter().map(|t| t.bytes.clone()).collect::<Vec<_>>());
    let all = body(&m.take_for_block(u64::MAX));
    assert_eq!(m.take_for_block(u64::MAX).len(), 30);
    // 30 transactions: a 2-byte list head.
    assert_eq!(all.len(), 2 + txs.iter().map(|t| t.size).sum::<usize>());
    assert_eq!(m.take_for_block(all.len() as u64).len(), 30);
    assert_eq!(m.take_for_block(all.len() as u64 - 1).len(), 29);
    // 23 fit with a 1-byte head; the 24th needs a 2-byte head.
    let first_23 = 1 + txs[..23].iter().map(|t| t.size as u64).sum::<u64>();
    assert_eq!(m.take_for_block(first_23).len(), 23);
    assert_eq!(m.take_for_block(first_23 + txs[23].size as u64).len(), 23);
    assert_eq!(
        m.take_for_block(first_23 + txs[23].size as u64 + 1).len(),
        24
    );
    for limit in [0, 1, 50, 1000, 5000, p.max_block_body_size] {
        let taken = m.take_for_block(limit);
        assert!(body(&taken).len() as u64 <= limit || taken.is_empty());
        assert!(
            taken.iter().zip(&txs).all(|(a, b)| a.id == b.id),
            "a prefix"
        );
    }
    assert!(m.take_for_block(0).is_empty());
    assert_eq!(m.len(), 30, "taking removes nothing");
}

#[test]
fn sync_drops_included_conflicting_and_expired_transactions() {
    let w = wallet();
    let p = ProtocolParams::default();
    let (utxo, funds) = genesis(&w, 3, 1_000 * ADA);
    let txs = chain(&w, funds[0], 3);
    let other = pay(&w, funds[1], 3 * ADA, None);
    let expiring = pay(&w, funds[2], 3 * ADA, Some(50));
    let mut m = Mempool::new(1 << 20);
    for tx in txs.iter().chain([&other, &expiring]) {
        m.add(tx.clone(), &utxo, 10, &p).expect("valid");
    }
    let tickets: Vec<u64> = m.ids_after(0, 100).iter().map(|t| t.ticket).collect();
    assert_eq!(tickets, vec![1, 2, 3, 4, 5]);

    // A block with the first of the chain: the rest of it now spends the tip's outputs.
    let tip1 = adopt(&utxo, &[&txs[0]]);
    assert_eq!(m.sync_with_ledger(&tip1, 20, &p), vec![txs[0].id]);
    assert_eq!(m.len(), 4);
    // The mempool's view of the new tip is right: spending the chain's head again is refused,
    // spending its change through the mempool too.
    assert!(
        m.add(pay(&w, change(&txs[0]), 2 * ADA, None), &tip1, 20, &p)
            .is_err()
    );

    // Another node's block spends `other`'s input differently: `other` goes. The slot passes
    // `expiring`'s time to live: it goes too.
    let rival = pay(&w, funds[1], 7 * ADA, None);
    let tip2 = adopt(&tip1, &[&rival]);
    assert_eq!(
        m.sync_with_ledger(&tip2, 50, &p),
        vec![other.id, expiring.id]
    );
    assert_eq!(m.size().num_txs, 2);
    assert_eq!(
        m.size().bytes,
        (txs[1].size + txs[2].size) as u64,
        "size recomputed"
    );

    // A rival spending the chain's second input takes its dependant with it.
    let rival2 = pay(&w, change(&txs[0]), 9 * ADA, None);
    let tip3 = adopt(&tip2, &[&rival2]);
    assert_eq!(
        m.sync_with_ledger(&tip3, 51, &p),
        vec![txs[1].id, txs[2].id]
    );
    assert!(m.is_empty());
    assert_eq!(m.size().bytes, 0);
    // Tickets never repeat.
    let next = pay(&w, change(&rival2), 2 * ADA, None);
    m.add(next.clone(), &tip3, 51, &p).expect("valid");
    assert_eq!(m.ids_after(0, 10)[0].ticket, 6);
    assert_eq!(m.last_ticket(), 6);
}

#[test]
fn ids_after_serves_tx_submission_in_ticket_order() {
    let w = wallet();
    let p = ProtocolParams::default();
    let (utxo, funds) = genesis(&w, 6, 100 * ADA);
    let txs: Vec<Tx> = funds.iter().map(|f| pay(&w, *f, 2 * ADA, None)).collect();
    let mut m = Mempool::new(1 << 20);
    for tx in &txs[..4] {
        m.add(tx.clone(), &utxo, 0, &p).expect("valid");
    }
    let first = m.ids_after(0, 3);
    assert_eq!(first.len(), 3);
    assert_eq!(first[2].id, txs[2].id);
    assert_eq!(first[0].size as usize, txs[0].size);
    // The second transaction leaves in a block; the server asks after the last it handed out.
    let tip = adopt(&utxo, &[&txs[1]]);
    m.sync_with_ledger(&tip, 1, &p);
    for tx in &txs[4..] {
        m.add(tx.clone(), &tip, 1, &p).expect("valid");
    }
    let next = m.ids_after(first[2].ticket, 10);
    let ids: Vec<[u8; 32]> = next.iter().map(|t| t.id).collect();
    assert_eq!(ids, vec![txs[3].id, txs[4].id, txs[5].id]);
    assert!(m.ids_after(m.last_ticket(), 10).is_empty());
    assert!(m.ids_after(0, 0).is_empty());
}

#[test]
fn new_parameters_revalidate_every_rule() {
    let w = wallet();
    let p = ProtocolParams::default();
    let (utxo, funds) = genesis(&w, 2, 100 * ADA);
    let a = pay(&w, funds[0], 2 * ADA, None);
    let b = pay(&w, funds[1], 2 * ADA, None);
    let mut m = Mempool::new(1 << 20);
    m.add(a, &utxo, 0, &p).expect("valid");
    m.add(b, &utxo, 0, &p).expect("valid");
    assert!(m.sync_with_ledger(&utxo, 1, &p).is_empty());
    // A protocol update raises the fee: both transactions now pay too little.
    let dearer = ProtocolParams {
        min_fee_b: p.min_fee_b + 1,
        ..p.clone()
    };
    assert_eq!(m.sync_with_ledger(&utxo, 2, &dearer).len(), 2);
}

#[test]
fn ten_thousand_additions_are_fast() {
    let w = wallet();
    let p = ProtocolParams::default();
    let (utxo, funds) = genesis(&w, 5_000, 100 * ADA);
    // Half independent payments, half one long chain.
    let mut txs: Vec<Tx> = funds[1..]
        .iter()
        .map(|f| pay(&w, *f, 2 * ADA, None))
        .collect();
    txs.extend(chain(&w, (funds[0].0, 100_000 * ADA), 5_001));
    assert_eq!(txs.len(), 10_000);
    let utxo = {
        let mut u = utxo;
        u.insert(funds[0].0, TxOut::new(w.address(), 100_000 * ADA));
        u
    };
    let mut m = Mempool::new(u64::MAX);
    let start = Instant::now();
    for tx in txs {
        m.add(tx, &utxo, 0, &p).expect("valid");
    }
    let added = start.elapsed();
    assert_eq!(m.len(), 10_000);
    let start = Instant::now();
    assert!(m.sync_with_ledger(&utxo, 1, &p).is_empty());
    let synced = start.elapsed();
    eprintln!("10,000 adds: {added:?}; re-validation: {synced:?}");
    // Signature checks dominate; the bound leaves room for unoptimized test builds.
    assert!(added.as_secs() < 20, "{added:?}");
}

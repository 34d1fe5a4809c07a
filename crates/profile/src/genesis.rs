//! Genesis for a profile: pool keys, stake, the generator's funds and the chain parameters,
//! derived deterministically from the profile and a seed. Key material depends only on the
//! inputs that matter for it, so it is kept in a cache under a hash of those inputs; per run only
//! the system start is patched in.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use wb_ledger::crypto::{self, PoolKey};
use wb_ledger::wallet::Wallet;

use crate::profile::Profile;

/// What a run needs besides `genesis.json`: the secrets, by node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// Pool key seeds, one per producer (`node-i`).
    pub pools: Vec<[u8; 32]>,
    /// The generator's funds key seed.
    pub funds: [u8; 32],
}

/// The key seeds for `profile` and `seed`.
pub fn keys(profile: &Profile, seed: u64) -> Keys {
    let derive = |what: &str, i: u64| {
        crypto::blake2b_256_parts(&[
            b"wb-genesis ",
            what.as_bytes(),
            &seed.to_be_bytes(),
            &i.to_be_bytes(),
        ])
    };
    Keys {
        pools: (0..profile.composition.n_pools as u64)
            .map(|i| derive("pool", i))
            .collect(),
        funds: derive("funds", 0),
    }
}

/// The genesis JSON (as `wb node` reads it) with `system_start` (Unix seconds).
pub fn genesis_json(profile: &Profile, keys: &Keys, seed: u64, system_start: u64) -> Value {
    let g = &profile.genesis;
    let pools: Vec<Value> = keys
        .pools
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"name": format!("node-{i}"), "vkey": crypto::hex(&PoolKey::from_seed(*s).verification_key()), "stake": g.per_pool_balance}))
        .collect();
    let funds_address = crypto::hex(&Wallet::from_seed(keys.funds, 0).address());
    // The block size limit is always written (the node's default when the profile has none),
    // so that the genesis says it: the analysis's fullness filters are relative to it.
    let mut params = serde_json::Map::new();
    let max = g
        .max_block_size
        .unwrap_or(wb_ledger::params::ProtocolParams::default().max_block_body_size);
    params.insert("maxBlockBodySize".into(), json!(max));
    json!({
        "systemStart": wb_trace::time::machine_time(system_start * 1_000_000_000),
        "networkMagic": g.network_magic,
        "slotLength": g.slot_duration,
        "epochLength": g.epoch_length,
        "activeSlotsCoeff": g.active_slots_coeff,
        "securityParam": g.parameter_k,
        "protocolParams": params,
        "pools": pools,
        "initialFunds": { funds_address: g.funds_balance },
        "nonce": crypto::hex(&crypto::blake2b_256_parts(&[b"wb-genesis nonce", &seed.to_be_bytes()])),
    })
}

/// The cache key: a hash of exactly the inputs the key material and stake depend on.
pub fn cache_key(profile: &Profile, seed: u64) -> String {
    let g = &profile.genesis;
    let input = json!({
        "seed": seed,
        "n_pools": profile.composition.n_pools,
        "network_magic": g.network_magic,
        "funds_balance": g.funds_balance,
        "per_pool_balance": g.per_pool_balance,
        "layout": 1,
    });
    let h = crypto::blake2b_256(input.to_string().as_bytes());
    format!(
        "k{}-{}",
        profile.composition.n_pools,
        &crypto::hex(&h)[..12]
    )
}

/// Writes `genesis.json`, `pools/pool-i.skey` and `funds.skey` into `dir`, taking the key
/// material from `cache` (creating the entry, atomically, if it is missing). Returns the cache
/// entry used.
pub fn write(
    dir: &Path,
    cache: &Path,
    profile: &Profile,
    seed: u64,
    system_start: u64,
) -> std::io::Result<PathBuf> {
    let entry = cache.join(cache_key(profile, seed));
    if !entry.join("keys.json").exists() {
        let tmp = cache.join(format!(
            ".tmp-{}-{}",
            std::process::id(),
            cache_key(profile, seed)
        ));
        std::fs::create_dir_all(&tmp)?;
        let k = keys(profile, seed);
        let doc = json!({"pools": k.pools.iter().map(|s| crypto::hex(s)).collect::<Vec<_>>(), "funds": crypto::hex(&k.funds)});
        std::fs::write(tmp.join("keys.json"), serde_json::to_string_pretty(&doc)?)?;
        match std::fs::rename(&tmp, &entry) {
            Ok(()) => {}
            // Another run made it first: theirs is as good as ours.
            Err(_) if entry.join("keys.json").exists() => {
                let _ = std::fs::remove_dir_all(&tmp);
            }
            Err(e) => return Err(e),
        }
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(entry.join("keys.json"))?)?;
    let seed_of = |v: &Value| {
        crypto::from_hex::<32>(v.as_str().unwrap_or_default())
            .ok_or_else(|| std::io::Error::other(format!("{}: bad key", entry.display())))
    };
    let pools = doc["pools"]
        .as_array()
        .map(|a| a.iter().map(seed_of).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .unwrap_or_default();
    let k = Keys {
        pools,
        funds: seed_of(&doc["funds"])?,
    };
    std::fs::create_dir_all(dir.join("pools"))?;
    for (i, s) in k.pools.iter().enumerate() {
        std::fs::write(
            dir.join("pools").join(format!("pool-{i}.skey")),
            crypto::hex(s),
        )?;
    }
    std::fs::write(dir.join("funds.skey"), crypto::hex(&k.funds))?;
    std::fs::write(
        dir.join("genesis.json"),
        serde_json::to_string_pretty(&genesis_json(profile, &k, seed, system_start))?,
    )?;
    Ok(entry)
}

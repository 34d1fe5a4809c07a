//! The node-to-client socket: a Unix socket speaking the node-to-client handshake and local
//! tx-submission (mini-protocol 6), as cardano-node's `--socket-path`, so a transaction
//! generator written against cardano-node works against ours. Other node-to-client protocols
//! (local chain-sync, state query, tx monitor) are not served: their frames close the connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::UnixListener;
use wb_forward::{Mode, MuxError, MuxReader, MuxWriter};

use crate::node::Shared;
use crate::txproto::{
    CONWAY_ERA, LocalTxSubmission, N2cHandshake, RejectReason, n2c_negotiate, n2c_num,
};

/// A bound node-to-client socket; the file is removed when it is dropped.
pub(crate) struct LocalListener {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for LocalListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the socket, replacing a stale socket file a previous run left.
pub(crate) fn bind(path: &Path) -> std::io::Result<LocalListener> {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    Ok(LocalListener {
        listener: UnixListener::bind(path)?,
        path: path.to_owned(),
    })
}

/// Serves local clients until the task is dropped.
pub(crate) async fn serve(shared: Arc<Shared>, listener: LocalListener) {
    // Connections live in the set: when the node stops (this task is aborted), they close too.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        let shared = shared.clone();
        connections.spawn(async move {
            let _ = client(shared, stream).await;
        });
    }
}

/// Highest mini-protocol number on a node-to-client connection, plus one.
const N2C_PROTOCOLS: u16 = 10;

async fn client(shared: Arc<Shared>, stream: tokio::net::UnixStream) -> Result<(), MuxError> {
    let (r, w) = stream.into_split();
    let mut reader = MuxReader::new(r, Mode::Responder, N2C_PROTOCOLS);
    let mut writer = MuxWriter::new(w, Mode::Responder);
    let (p, bytes) = reader.recv().await?;
    let proposal = match (p, N2cHandshake::decode(&bytes)) {
        (n2c_num::HANDSHAKE, Ok(N2cHandshake::Propose(vs))) => vs,
        _ => {
            return Err(MuxError::Unexpected(
                "expected a node-to-client handshake proposal".into(),
            ));
        }
    };
    let answer = n2c_negotiate(&proposal, shared.genesis.network_magic);
    writer.send(n2c_num::HANDSHAKE, &answer.encode()).await?;
    if !matches!(answer, N2cHandshake::Accept(..)) {
        return Ok(());
    }
    loop {
        let (p, bytes) = reader.recv().await?;
        if p != n2c_num::LOCAL_TX_SUBMISSION {
            return Err(MuxError::Unexpected(format!(
                "node-to-client mini-protocol {p} is not served"
            )));
        }
        let reply = match LocalTxSubmission::decode(&bytes)
            .map_err(|e| MuxError::Unexpected(e.to_string()))?
        {
            LocalTxSubmission::SubmitTx(tx) if tx.era != CONWAY_ERA => {
                LocalTxSubmission::RejectTx(RejectReason::from_messages(
                    tx.era,
                    &[format!(
                        "era {} is not supported; only Conway ({CONWAY_ERA})",
                        tx.era
                    )],
                ))
            }
            LocalTxSubmission::SubmitTx(tx) => match shared.submit_tx_local(&tx.bytes).await {
                Ok(_) => LocalTxSubmission::AcceptTx,
                Err(reason) => {
                    LocalTxSubmission::RejectTx(RejectReason::from_messages(CONWAY_ERA, &[reason]))
                }
            },
            LocalTxSubmission::Done => return Ok(()),
            other => {
                return Err(MuxError::Unexpected(format!(
                    "{other:?} sent to a local tx-submission server"
                )));
            }
        };
        writer
            .send(n2c_num::LOCAL_TX_SUBMISSION, &reply.encode())
            .await?;
    }
}

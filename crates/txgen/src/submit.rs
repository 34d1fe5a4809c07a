//! Submitting transactions to a node over its node-to-client socket (local tx-submission), as a
//! client of a real cardano-node would: handshake, then one `SubmitTx` at a time, each answered
//! with `AcceptTx` or `RejectTx` and its reason.

use std::path::Path;

use wb_forward::{Mode, MuxError, MuxReader, MuxWriter};
use wb_node::txproto::{EraTx, LocalTxSubmission, N2cHandshake, N2cVersionData, n2c_num};

/// A connection to one node's local tx-submission.
pub struct LocalSubmitter {
    reader: MuxReader<tokio::net::unix::OwnedReadHalf>,
    writer: MuxWriter<tokio::net::unix::OwnedWriteHalf>,
}

/// Why submission failed (the connection, not the transaction).
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Connecting or talking to the node.
    #[error("{0}")]
    Mux(#[from] MuxError),
    /// Writing to the node.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The node refused the handshake or answered out of turn.
    #[error("{0}")]
    Protocol(String),
}

impl LocalSubmitter {
    /// Connects and does the node-to-client handshake.
    pub async fn connect(socket: &Path, magic: u32) -> Result<LocalSubmitter, SubmitError> {
        let stream = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
            SubmitError::Protocol(format!("cannot connect to {}: {e}", socket.display()))
        })?;
        let (r, w) = stream.into_split();
        let mut reader = MuxReader::new(r, Mode::Initiator, 10);
        let mut writer = MuxWriter::new(w, Mode::Initiator);
        let versions = (16..=20)
            .map(|v| {
                (
                    v,
                    N2cVersionData {
                        network_magic: magic,
                        query: false,
                    },
                )
            })
            .collect();
        writer
            .send(
                n2c_num::HANDSHAKE,
                &N2cHandshake::Propose(versions).encode(),
            )
            .await?;
        let (_, answer) = reader.recv().await?;
        match N2cHandshake::decode(&answer).map_err(|e| SubmitError::Protocol(e.to_string()))? {
            N2cHandshake::Accept(..) => Ok(LocalSubmitter { reader, writer }),
            other => Err(SubmitError::Protocol(format!(
                "{}: handshake {other:?}",
                socket.display()
            ))),
        }
    }

    /// Submits one transaction: `Ok(Ok(()))` accepted, `Ok(Err(reason))` rejected.
    pub async fn submit(&mut self, tx: Vec<u8>) -> Result<Result<(), String>, SubmitError> {
        self.writer
            .send(
                n2c_num::LOCAL_TX_SUBMISSION,
                &LocalTxSubmission::SubmitTx(EraTx::conway(tx)).encode(),
            )
            .await?;
        let (_, reply) = self.reader.recv().await?;
        match LocalTxSubmission::decode(&reply).map_err(|e| SubmitError::Protocol(e.to_string()))? {
            LocalTxSubmission::AcceptTx => Ok(Ok(())),
            LocalTxSubmission::RejectTx(reason) => Ok(Err(reason.to_string())),
            other => Err(SubmitError::Protocol(format!(
                "{other:?} in answer to a submission"
            ))),
        }
    }
}

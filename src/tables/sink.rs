//! [`TablesSink`]: the tables as a [`Sink`] of `run` and `import`. It
//! lists each accepted call in `OUT/tables.pending` before buffering its
//! rows, commits full batches, and empties the list after each commit; its
//! open catches up on what a killed run left listed there.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::writer::{CommitReport, TablesWriter};
use super::{CallRows, TablesOptions};
use crate::analyze::MetricsSettings;
use crate::error::Result;
use crate::index::writer::transcript_ids;
use crate::model::Transcript;
use crate::sink::Sink;
use crate::sink::transcript_json::{read_transcript, transcript_path};

/// `OUT/tables.pending`: calls accepted since the last commit.
pub(crate) fn pending_path(out_dir: &Path) -> PathBuf {
    out_dir.join("tables.pending")
}

fn open_pending(out_dir: &Path) -> Result<fs_err::File> {
    crate::sink::open_pending_list(&pending_path(out_dir))
}

const USED_AFTER_FINISH: &str = "tables sink used after finish";

/// Writes `OUT/parquet/` during a run or import.
pub struct TablesSink {
    /// `None` after `finish`, which releases the writer's lock.
    writer: Option<TablesWriter>,
    settings: MetricsSettings,
    buffer: Vec<CallRows>,
    pending: fs_err::File,
    last_commit: Instant,
}

impl TablesSink {
    /// Opens with the default batching ([`TablesOptions::default`]).
    pub fn open(out_dir: &Path, settings: MetricsSettings) -> Result<Self> {
        Self::open_with(out_dir, settings, TablesOptions::default())
    }

    /// Opens the writer (finishing an interrupted commit), then commits the
    /// calls listed as pending and any transcript whose call has no row,
    /// from their transcripts.
    pub fn open_with(
        out_dir: &Path,
        settings: MetricsSettings,
        options: TablesOptions,
    ) -> Result<Self> {
        let writer = TablesWriter::open(out_dir, options)?;
        let pending = open_pending(out_dir)?;
        let mut sink = TablesSink {
            writer: Some(writer),
            settings,
            buffer: Vec::new(),
            pending,
            last_commit: Instant::now(),
        };
        sink.catch_up()?;
        Ok(sink)
    }

    fn catch_up(&mut self) -> Result<()> {
        let out_dir = self.writer().out_dir().to_path_buf();
        let mut todo: BTreeSet<String> = fs_err::read_to_string(pending_path(&out_dir))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let have = self.writer().call_ids()?;
        todo.extend(
            transcript_ids(&out_dir)?
                .into_iter()
                .filter(|id| !have.contains(id)),
        );
        if todo.is_empty() {
            return Ok(());
        }
        if todo.len() > self.writer().options().commit_every_calls {
            // More than a batch behind (tables enabled on an output folder
            // that has transcripts, or the tables deleted): batches in
            // call id order would each rewrite most partitions; one
            // rebuild writes each partition once.
            tracing::info!(
                "tables: {} calls without rows; rebuilding from transcripts",
                todo.len()
            );
            let report = super::rebuild::rebuild_in(
                self.writer.as_mut().expect(USED_AFTER_FINISH),
                &self.settings,
            )?;
            for f in &report.failed {
                tracing::warn!("tables catch-up: {}: {}", f.path.display(), f.reason);
            }
            return Ok(());
        }
        let mut caught_up = 0;
        for call_id in &todo {
            let path = transcript_path(&out_dir, call_id);
            if !path.is_file() {
                continue;
            }
            match read_transcript(&path) {
                Ok(t) => {
                    self.buffer.push(CallRows::of(&t, &self.settings));
                    caught_up += 1;
                }
                Err(e) => tracing::warn!("tables catch-up: {e}"),
            }
            if self.buffer.len() >= self.writer().options().commit_every_calls {
                self.commit_buffer()?;
            }
        }
        self.commit()?;
        tracing::info!("tables: caught up on {caught_up} calls from their transcripts");
        Ok(())
    }

    /// Commits the buffered calls (kept for the next try if it fails).
    fn commit_buffer(&mut self) -> Result<CommitReport> {
        let report = self
            .writer
            .as_mut()
            .expect(USED_AFTER_FINISH)
            .commit(&self.buffer)?;
        self.buffer.clear();
        self.last_commit = Instant::now();
        Ok(report)
    }

    /// Commits the buffered calls, then empties the pending list.
    pub fn commit(&mut self) -> Result<CommitReport> {
        let report = self.commit_buffer()?;
        self.pending.set_len(0)?;
        self.pending.sync_data()?;
        Ok(report)
    }

    fn writer(&mut self) -> &mut TablesWriter {
        self.writer.as_mut().expect(USED_AFTER_FINISH)
    }

    /// Calls buffered and not yet committed.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

impl Sink for TablesSink {
    fn name(&self) -> &str {
        "tables"
    }

    fn accept(&mut self, transcript: &Transcript) -> Result<()> {
        // Listed before buffering; no fsync per call: a killed process's
        // write still reaches the file, and after a power cut the open's
        // check for transcripts without rows covers new calls.
        writeln!(self.pending, "{}", transcript.call_id)?;
        self.buffer.push(CallRows::of(transcript, &self.settings));
        let options = self.writer().options();
        let (every_calls, every) = (options.commit_every_calls, options.commit_every);
        if self.buffer.len() >= every_calls || self.last_commit.elapsed() >= every {
            self.commit()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.writer.is_none() {
            return Ok(());
        }
        self.commit()?;
        self.writer = None;
        Ok(())
    }
}

//! What the shell appends: once the index is known, the SourceBuffer is
//! configured, and from then on the run's bytes are appended as they are,
//! or repackaged (a plain MP4 remuxed to fragments).

use std::collections::VecDeque;

use super::action::Action;
use super::timeline;
use crate::index::{ContainerIndexer, MediaError, Repackager};

#[derive(Default)]
pub(super) struct Appender {
    configured: bool,
    /// Turns file bytes into appendable ones (plain MP4), once configured.
    repackager: Option<Box<dyn Repackager>>,
    /// The duration the shell was last given.
    announced_duration: Option<f64>,
}

impl Appender {
    pub(super) fn configured(&self) -> bool {
        self.configured
    }

    /// The index is known: tells the shell how to set up its SourceBuffer
    /// (and gives it the init segment of repackaged media, which then
    /// starts at `run_start`). `false` if the indexer has no index after all.
    pub(super) fn configure(
        &mut self,
        indexer: &mut dyn ContainerIndexer,
        run_start: u64,
        out: &mut VecDeque<Action>,
    ) -> bool {
        let Some(index) = indexer.index() else {
            return false;
        };
        let mime = index.mime_type();
        let duration = timeline::index_duration(index);
        self.configured = true;
        let start = indexer.start();
        self.repackager = indexer.take_repackager();
        let raw = self.repackager.is_none();
        let window = indexer.presentation();
        let duration = window.map(|w| w.end).or(duration);
        self.announced_duration = duration;
        out.push_back(Action::Configure {
            mime,
            duration,
            raw,
            window,
            start,
        });
        if let Some(repackager) = self.repackager.as_mut() {
            out.push_back(Action::AppendInit(repackager.init_segment()));
            repackager.reset(run_start);
        }
        true
    }

    /// Hands run bytes at `offset` to the shell: as they are (appended up
    /// to `cursor`), or repackaged.
    pub(super) fn deliver(
        &mut self,
        offset: u64,
        data: &[u8],
        cursor: u64,
        out: &mut VecDeque<Action>,
    ) -> Result<(), MediaError> {
        match self.repackager.as_mut() {
            Some(repackager) => {
                for output in repackager.push(offset, data)? {
                    out.push_back(Action::AppendData(output));
                }
            }
            None => out.push_back(Action::Append { end: cursor }),
        }
        Ok(())
    }

    /// A new run starts at byte `offset`, the unit there at `unit_start`
    /// seconds (when the index says).
    pub(super) fn restart_at(&mut self, offset: u64, unit_start: Option<f64>) {
        if let Some(repackager) = self.repackager.as_mut() {
            repackager.reset_at(offset, unit_start);
        }
    }

    /// Tells the shell a duration that became known (or better known).
    pub(super) fn announce(&mut self, duration: Option<f64>, out: &mut VecDeque<Action>) {
        if self.configured
            && let Some(duration) = duration
            && self.announced_duration != Some(duration)
        {
            self.announced_duration = Some(duration);
            out.push_back(Action::SetDuration(duration));
        }
    }
}

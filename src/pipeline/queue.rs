//! The window queue: speech windows from every channel of every call in
//! flight, waiting for a whisper worker.
//!
//! Jobs are served earliest call first (then language detections before
//! transcriptions, then channel and window order), so calls finish in
//! input order and the last windows of a long call are shared by all the
//! workers instead of leaving cores idle. A channel whose language is to
//! be detected has its windows held back until its first window's
//! detection is done. The queue holds at most `capacity_samples` of audio:
//! the decoder waits when it is full, so memory does not grow with the
//! length of a recording.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};

use crate::model::Window;

/// What a worker is asked to do with a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Detect the channel's language on this (its first) window.
    Detect,
    /// Transcribe in this language.
    Transcribe { language: String },
}

/// One unit of whisper work.
#[derive(Debug, Clone)]
pub struct Job {
    /// The call's position in the run's input order.
    pub call: usize,
    pub channel: usize,
    /// The window's position in its channel.
    pub index: usize,
    pub task: Task,
    pub window: Arc<Window>,
}

/// Order of service: earliest call, detections first, then channel and window.
type Priority = (usize, u8, usize, usize);
/// A (call, channel) and its windows waiting for the channel's language.
type Waiting = HashMap<(usize, usize), Vec<(usize, Arc<Window>)>>;

#[derive(Default)]
struct State {
    ready: BTreeMap<Priority, Job>,
    /// Windows waiting for their channel's language.
    waiting: Waiting,
    languages: HashMap<(usize, usize), String>,
    cancelled: HashSet<usize>,
    /// Samples of the windows queued (ready or waiting), not yet taken.
    queued_samples: usize,
    /// Jobs taken by workers and not yet reported done.
    in_flight: usize,
    closed: bool,
    /// Calls a worker has taken a job of: after a stop, only these go on.
    started: HashSet<usize>,
    /// A stop was asked for (SIGINT/SIGTERM).
    stopped: bool,
}

impl State {
    /// Whether a window of `call` is dropped: the call failed, or a stop
    /// came before any of its work began.
    fn drops(&self, call: usize) -> bool {
        self.cancelled.contains(&call) || (self.stopped && !self.started.contains(&call))
    }
}

/// The queue shared by the decoder thread and the whisper workers.
pub struct WindowQueue {
    state: Mutex<State>,
    /// Signalled when a job becomes ready or the queue may be finished.
    work: Condvar,
    /// Signalled when queued audio shrinks.
    space: Condvar,
    capacity_samples: usize,
}

impl WindowQueue {
    pub fn new(capacity_samples: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            space: Condvar::new(),
            capacity_samples,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("window queue poisoned")
    }

    /// Waits until the window fits (an empty queue always takes one).
    fn wait_for_space<'a>(
        &self,
        mut state: std::sync::MutexGuard<'a, State>,
        samples: usize,
    ) -> std::sync::MutexGuard<'a, State> {
        while state.queued_samples > 0
            && state.queued_samples + samples > self.capacity_samples
            && !state.stopped
        {
            state = self.space.wait(state).expect("window queue poisoned");
        }
        state
    }

    /// Queues a channel's first window for language detection.
    pub fn detect(&self, call: usize, channel: usize, window: Arc<Window>) {
        let mut state = self.lock();
        if state.drops(call) {
            return;
        }
        let job = Job {
            call,
            channel,
            index: 0,
            task: Task::Detect,
            window,
        };
        state.ready.insert((call, 0, channel, 0), job);
        self.work.notify_one();
    }

    /// Queues a window to transcribe: in `language`, or, with `None`, in
    /// the language its channel's detection will give. Blocks while the
    /// queue is full.
    pub fn push(
        &self,
        call: usize,
        channel: usize,
        index: usize,
        window: Arc<Window>,
        language: Option<String>,
    ) {
        let samples = window.samples.len();
        let mut state = self.wait_for_space(self.lock(), samples);
        if state.drops(call) {
            return;
        }
        state.queued_samples += samples;
        let language = language.or_else(|| state.languages.get(&(call, channel)).cloned());
        match language {
            Some(language) => {
                let job = Job {
                    call,
                    channel,
                    index,
                    task: Task::Transcribe { language },
                    window,
                };
                state.ready.insert((call, 1, channel, index), job);
                self.work.notify_one();
            }
            None => state
                .waiting
                .entry((call, channel))
                .or_default()
                .push((index, window)),
        }
    }

    /// Records a channel's detected language and releases its windows.
    pub fn set_language(&self, call: usize, channel: usize, language: &str) {
        let mut state = self.lock();
        if state.cancelled.contains(&call) {
            return;
        }
        state
            .languages
            .insert((call, channel), language.to_string());
        for (index, window) in state.waiting.remove(&(call, channel)).unwrap_or_default() {
            let job = Job {
                call,
                channel,
                index,
                task: Task::Transcribe {
                    language: language.to_string(),
                },
                window,
            };
            state.ready.insert((call, 1, channel, index), job);
        }
        self.work.notify_all();
    }

    /// Drops every queued window of a call (it failed or is a duplicate);
    /// windows pushed for it later are dropped too.
    pub fn cancel(&self, call: usize) {
        let mut state = self.lock();
        Self::drop_call(&mut state, call);
        self.space.notify_all();
        self.work.notify_all();
    }

    /// Stops the run: the calls whose work began go on to the end (so each
    /// is finished whole), every other call's windows are dropped, queued
    /// or pushed later, and a full queue no longer makes the producer wait.
    pub fn stop(&self) {
        let mut state = self.lock();
        state.stopped = true;
        let mut calls: HashSet<usize> = state.ready.keys().map(|k| k.0).collect();
        calls.extend(state.waiting.keys().map(|k| k.0));
        for call in calls {
            if !state.started.contains(&call) {
                Self::drop_call(&mut state, call);
            }
        }
        self.space.notify_all();
        self.work.notify_all();
    }

    fn drop_call(state: &mut State, call: usize) {
        state.cancelled.insert(call);
        let keys: Vec<Priority> = state
            .ready
            .range((call, 0, 0, 0)..(call + 1, 0, 0, 0))
            .map(|(k, _)| *k)
            .collect();
        let mut freed = 0;
        for k in keys {
            if let Some(job) = state.ready.remove(&k)
                && job.task != Task::Detect
            {
                freed += job.window.samples.len();
            }
        }
        let waiting: Vec<(usize, usize)> = state
            .waiting
            .keys()
            .filter(|(c, _)| *c == call)
            .copied()
            .collect();
        for key in waiting {
            for (_, w) in state.waiting.remove(&key).unwrap_or_default() {
                freed += w.samples.len();
            }
        }
        state.queued_samples -= freed;
    }

    /// Forgets a finished call's languages (the map would grow with the run).
    pub fn forget(&self, call: usize) {
        let mut state = self.lock();
        state.languages.retain(|(c, _), _| *c != call);
        state.cancelled.remove(&call);
        state.started.remove(&call);
    }

    /// No more windows will be pushed.
    pub fn close(&self) {
        self.lock().closed = true;
        self.work.notify_all();
    }

    /// The next job, waiting for one; `None` once the queue is closed and
    /// nothing is left to do or can still become ready.
    pub fn take(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some((_, job)) = state.ready.pop_first() {
                if job.task != Task::Detect {
                    state.queued_samples -= job.window.samples.len();
                    self.space.notify_all();
                }
                state.in_flight += 1;
                state.started.insert(job.call);
                return Some(job);
            }
            // Windows waiting for a language may yet become ready while a
            // detection is in flight or being queued; a waiting list whose
            // call was cancelled was removed.
            let idle = state.in_flight == 0 && state.waiting.is_empty();
            if state.closed && idle {
                self.work.notify_all();
                return None;
            }
            state = self.work.wait(state).expect("window queue poisoned");
        }
    }

    /// A worker finished the job it took.
    pub fn done(&self) {
        let mut state = self.lock();
        state.in_flight -= 1;
        self.work.notify_all();
    }

    /// Audio queued and not yet taken, in samples (for tests of the bound).
    pub fn queued_samples(&self) -> usize {
        self.lock().queued_samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::WindowPiece;

    fn window(channel: usize, seconds: usize) -> Arc<Window> {
        Arc::new(Window {
            channel,
            pieces: vec![WindowPiece {
                window_start_ms: 0,
                source_start_ms: 0,
                duration_ms: seconds as u64 * 1000,
            }],
            samples: vec![0.0; seconds * 16_000],
        })
    }

    fn order(q: &WindowQueue) -> Vec<(usize, usize, usize, bool)> {
        let mut out = Vec::new();
        q.close();
        while let Some(job) = q.take() {
            if job.task == Task::Detect {
                q.set_language(job.call, job.channel, "en");
            }
            out.push((job.call, job.channel, job.index, job.task == Task::Detect));
            q.done();
        }
        out
    }

    #[test]
    fn earliest_call_first_and_detection_before_its_windows() {
        let q = WindowQueue::new(usize::MAX);
        q.push(1, 0, 0, window(0, 1), Some("pl".into()));
        let first = window(1, 1);
        q.detect(0, 1, first.clone());
        q.push(0, 1, 0, first, None);
        q.push(0, 1, 1, window(1, 1), None);
        q.push(0, 0, 0, window(0, 1), Some("ru".into()));
        assert_eq!(
            order(&q),
            vec![
                (0, 1, 0, true),
                (0, 0, 0, false),
                (0, 1, 0, false),
                (0, 1, 1, false),
                (1, 0, 0, false),
            ]
        );
    }

    #[test]
    fn waiting_windows_get_the_detected_language() {
        let q = WindowQueue::new(usize::MAX);
        let first = window(0, 1);
        q.detect(3, 0, first.clone());
        q.push(3, 0, 0, first, None);
        let detect = q.take().unwrap();
        assert_eq!(detect.task, Task::Detect);
        q.set_language(3, 0, "he");
        q.done();
        // Pushed after the detection: takes the known language.
        q.push(3, 0, 1, window(0, 1), None);
        q.close();
        let langs: Vec<Task> = std::iter::from_fn(|| {
            let j = q.take()?;
            q.done();
            Some(j.task)
        })
        .collect();
        let he = Task::Transcribe {
            language: "he".into(),
        };
        assert_eq!(langs, vec![he.clone(), he]);
    }

    #[test]
    fn cancelled_calls_leave_nothing_behind() {
        let q = WindowQueue::new(usize::MAX);
        q.detect(0, 0, window(0, 1));
        q.push(0, 0, 0, window(0, 2), None);
        q.push(1, 0, 0, window(0, 3), Some("en".into()));
        q.cancel(0);
        q.push(0, 0, 1, window(0, 2), Some("en".into()));
        assert_eq!(q.queued_samples(), 3 * 16_000);
        assert_eq!(order(&q), vec![(1, 0, 0, false)]);
        assert_eq!(q.queued_samples(), 0);
    }

    #[test]
    fn a_stop_drops_calls_not_begun_and_keeps_the_ones_begun() {
        let q = WindowQueue::new(16_000 * 120);
        for call in 0..3 {
            q.push(call, 0, 0, window(0, 10), Some("en".into()));
            q.push(call, 0, 1, window(0, 10), Some("en".into()));
        }
        let first = q.take().unwrap();
        assert_eq!((first.call, first.index), (0, 0));
        q.done();
        q.stop();
        // Call 0 began: its next window is still served, and one pushed
        // after the stop too; calls 1 and 2 had not begun and are gone, and
        // call 3, first pushed after the stop, never begins.
        q.push(0, 0, 2, window(0, 10), Some("en".into()));
        q.push(1, 0, 2, window(0, 10), Some("en".into()));
        q.detect(3, 0, window(0, 10));
        q.push(3, 0, 1, window(0, 10), Some("en".into()));
        assert_eq!(order(&q), vec![(0, 0, 1, false), (0, 0, 2, false)]);
        assert_eq!(q.queued_samples(), 0);
    }

    #[test]
    fn a_stop_frees_a_producer_waiting_for_space() {
        let q = Arc::new(WindowQueue::new(16_000 * 10));
        q.push(0, 0, 0, window(0, 10), Some("en".into()));
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || q.push(1, 0, 0, window(0, 10), Some("en".into())))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        q.stop();
        producer.join().unwrap();
        assert_eq!(q.queued_samples(), 0);
    }

    #[test]
    fn a_full_queue_makes_the_producer_wait() {
        let q = Arc::new(WindowQueue::new(2 * 16_000));
        q.push(0, 0, 0, window(0, 2), Some("en".into()));
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || q.push(0, 0, 1, window(0, 2), Some("en".into())))
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        // The second window cannot be queued while the first fills the queue.
        assert_eq!(q.queued_samples(), 2 * 16_000);
        let job = q.take().unwrap();
        assert_eq!(job.index, 0);
        q.done();
        producer.join().unwrap();
        assert_eq!(q.queued_samples(), 2 * 16_000);
    }
}

//! Group commit's hand-off: who writes the next group, and how each waiting caller learns its
//! result, with one wake-up per caller.
//!
//! A caller queues its item. If no group is being written, it leads: it takes every queued item
//! (its own among them), writes them as one group, hands the lead to the first caller that queued
//! meanwhile, then answers each member of its group on that member's own slot. While one group is
//! being made durable, the next one fills up.
//!
//! Each caller waits on its own slot, so a finished group of k wakes k callers once each, and the
//! next group starts before the finished one is answered. (A single lock that every finished
//! caller had to take in turn, to find its result, made them a convoy the next group waited
//! behind.)

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Queues items of type `T` and writes them in groups; each caller gets back its own `R`.
pub struct GroupCommit<T, R> {
    state: Mutex<State<T, R>>,
}

struct State<T, R> {
    queue: Vec<(T, Arc<Slot<R>>)>,
    /// A caller is writing a group, or has been handed the lead and is about to.
    leading: bool,
}

/// What a waiting caller is told: lead the next group, or the result of its item.
enum Turn<R> {
    Lead,
    Done(R),
}

/// One caller's answer and its own wake-up.
struct Slot<R> {
    turn: Mutex<Option<Turn<R>>>,
    ready: Condvar,
}

fn relock<G>(r: Result<G, std::sync::PoisonError<G>>) -> G {
    // A panic elsewhere cannot leave these structures half-changed: each change is one
    // assignment or one push under the lock.
    r.unwrap_or_else(|p| p.into_inner())
}

impl<R> Slot<R> {
    fn new() -> Self {
        Slot { turn: Mutex::new(None), ready: Condvar::new() }
    }

    fn answer(&self, turn: Turn<R>) {
        *relock(self.turn.lock()) = Some(turn);
        self.ready.notify_one();
    }

    fn wait(&self) -> Turn<R> {
        let mut turn = relock(self.turn.lock());
        loop {
            if let Some(t) = turn.take() {
                return t;
            }
            turn = relock(self.ready.wait(turn));
        }
    }

    fn take(&self) -> Option<Turn<R>> {
        relock(self.turn.lock()).take()
    }
}

impl<T, R> Default for GroupCommit<T, R> {
    fn default() -> Self {
        GroupCommit { state: Mutex::new(State { queue: Vec::new(), leading: false }) }
    }
}

impl<T, R> GroupCommit<T, R> {
    fn state(&self) -> MutexGuard<'_, State<T, R>> {
        relock(self.state.lock())
    }

    /// Submits `item` and returns its result. If this caller leads, `write` gets the whole group
    /// in queue order and returns one result per item, in the same order; an item it returns no
    /// result for, or every unanswered item if `write` panics, gets `lost()`.
    pub fn submit(&self, item: T, write: impl FnOnce(Vec<T>) -> Vec<R>, lost: impl Fn() -> R) -> R {
        let mine = Arc::new(Slot::new());
        {
            let mut state = self.state();
            state.queue.push((item, mine.clone()));
            if state.leading {
                drop(state);
                match mine.wait() {
                    Turn::Done(result) => return result,
                    Turn::Lead => {}
                }
            } else {
                state.leading = true;
            }
        }
        let (items, slots): (Vec<T>, Vec<Arc<Slot<R>>>) = std::mem::take(&mut self.state().queue).into_iter().unzip();
        let mut round = Round { group: self, slots, handed_on: false, lost: &lost };
        let results = write(items);
        round.hand_on();
        let mut results = results.into_iter();
        for slot in round.slots.drain(..) {
            slot.answer(Turn::Done(results.next().unwrap_or_else(&lost)));
        }
        drop(round);
        match mine.take() {
            Some(Turn::Done(result)) => result,
            _ => lost(),
        }
    }

    #[cfg(test)]
    fn queued(&self) -> usize {
        self.state().queue.len()
    }
}

/// The leader's group while it is written. Dropped early (the write panicked), it still hands
/// the lead on and answers every member, so no caller waits forever.
struct Round<'a, T, R> {
    group: &'a GroupCommit<T, R>,
    slots: Vec<Arc<Slot<R>>>,
    handed_on: bool,
    lost: &'a dyn Fn() -> R,
}

impl<T, R> Round<'_, T, R> {
    /// Gives the lead to the first caller queued since this group was taken, or ends leading.
    fn hand_on(&mut self) {
        self.handed_on = true;
        let mut state = self.group.state();
        match state.queue.first() {
            Some((_, next)) => next.answer(Turn::Lead),
            None => state.leading = false,
        }
    }
}

impl<T, R> Drop for Round<'_, T, R> {
    fn drop(&mut self) {
        if !self.handed_on {
            self.hand_on();
        }
        for slot in self.slots.drain(..) {
            slot.answer(Turn::Done((self.lost)()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;

    /// Waits until `n` items are queued. Spins on the queue's length (no sleep, no timing): the
    /// callers it waits for are already started.
    fn until_queued<T, R>(g: &GroupCommit<T, R>, n: usize) {
        while g.queued() < n {
            thread::yield_now();
        }
    }

    #[test]
    fn callers_queued_behind_a_group_are_written_as_one_group_and_each_gets_its_own_result() {
        let g = Arc::new(GroupCommit::<u32, u32>::default());
        let (release, hold) = mpsc::channel::<()>();
        let (groups_tx, groups) = mpsc::channel::<Vec<u32>>();
        let first = {
            let (g, groups_tx) = (g.clone(), groups_tx.clone());
            thread::spawn(move || {
                g.submit(
                    1,
                    |items| {
                        groups_tx.send(items.clone()).unwrap();
                        hold.recv().unwrap();
                        items.iter().map(|i| i * 10).collect()
                    },
                    || 0,
                )
            })
        };
        // The first group is being written (it reported itself); three callers queue behind it.
        assert_eq!(groups.recv().unwrap(), vec![1]);
        let later: Vec<_> = (2..=4)
            .map(|i| {
                let (caller, groups_tx) = (g.clone(), groups_tx.clone());
                let h = thread::spawn(move || {
                    caller.submit(
                        i,
                        |items| {
                            groups_tx.send(items.clone()).unwrap();
                            items.iter().map(|i| i * 10).collect()
                        },
                        || 0,
                    )
                });
                until_queued(&g, (i - 1) as usize);
                h
            })
            .collect();
        release.send(()).unwrap();
        assert_eq!(first.join().unwrap(), 10);
        let results: Vec<u32> = later.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results, vec![20, 30, 40]);
        drop(groups_tx);
        // Exactly one more group was written, holding all three in the order they queued.
        assert_eq!(groups.iter().collect::<Vec<_>>(), vec![vec![2, 3, 4]]);
        assert_eq!(g.queued(), 0);
    }

    #[test]
    fn an_item_without_a_result_gets_lost_and_a_panicking_write_answers_every_member() {
        let g = Arc::new(GroupCommit::<u32, Result<u32, &'static str>>::default());
        // Fewer results than items: the rest are lost, not mixed up.
        assert_eq!(g.submit(7, |_| Vec::new(), || Err("lost")), Err("lost"));

        let (release, hold) = mpsc::channel::<()>();
        let (started_tx, started) = mpsc::channel::<()>();
        let leader = {
            let g = g.clone();
            thread::spawn(move || {
                g.submit(
                    1,
                    |_| {
                        started_tx.send(()).unwrap();
                        hold.recv().unwrap();
                        panic!("the write failed")
                    },
                    || Err("lost"),
                )
            })
        };
        started.recv().unwrap();
        // Queued behind the panicking group: it is handed the lead and writes its own group.
        let follower = {
            let g = g.clone();
            thread::spawn(move || g.submit(2, |items| items.into_iter().map(Ok).collect(), || Err("lost")))
        };
        until_queued(&g, 1);
        release.send(()).unwrap();
        assert!(leader.join().is_err(), "the write's panic reaches its caller");
        assert_eq!(follower.join().unwrap(), Ok(2));
        // Leading was handed on and ended: a later caller leads at once.
        assert_eq!(g.submit(3, |items| items.into_iter().map(Ok).collect(), || Err("lost")), Ok(3));
    }

    #[test]
    fn many_concurrent_callers_each_get_their_own_result_exactly_once() {
        let g = Arc::new(GroupCommit::<usize, usize>::default());
        let written = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let (g, written) = (g.clone(), written.clone());
                thread::spawn(move || {
                    g.submit(
                        i,
                        |items| {
                            written.lock().unwrap().extend(items.iter().copied());
                            items.iter().map(|i| i + 1000).collect()
                        },
                        || usize::MAX,
                    )
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), i + 1000);
        }
        let mut all = written.lock().unwrap().clone();
        all.sort_unstable();
        assert_eq!(all, (0..64).collect::<Vec<_>>());
    }
}

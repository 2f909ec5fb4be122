//! Small single-threaded async primitives the library needs, in place of a general
//! futures toolkit (it weighed 13 KB of the WebAssembly): a boxed future type, an outcome
//! many waiters share, and a handle that cancels a spawned task.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A boxed future that need not be `Send` (everything here is single-threaded).
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// An outcome that many waiters share: the first to set it wakes them all, and each
/// gets a clone.
pub struct Shared<T> {
    state: Rc<SharedState<T>>,
}

struct SharedState<T> {
    outcome: RefCell<Option<T>>,
    waiters: RefCell<Vec<Waker>>,
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<T: Clone> Default for Shared<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone> Shared<T> {
    /// An outcome not yet known.
    pub fn new() -> Self {
        Self {
            state: Rc::new(SharedState {
                outcome: RefCell::new(None),
                waiters: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Sets the outcome (once; later calls are ignored) and wakes every waiter.
    pub fn set(&self, outcome: T) {
        {
            let mut slot = self.state.outcome.borrow_mut();
            if slot.is_some() {
                return;
            }
            *slot = Some(outcome);
        }
        for waker in self.state.waiters.take() {
            waker.wake();
        }
    }

    /// The outcome, once it is known.
    pub fn wait(&self) -> impl Future<Output = T> + 'static
    where
        T: 'static,
    {
        let state = self.state.clone();
        std::future::poll_fn(move |cx| match &*state.outcome.borrow() {
            Some(outcome) => Poll::Ready(outcome.clone()),
            None => {
                let mut waiters = state.waiters.borrow_mut();
                if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
        })
    }
}

/// Cancels a task made [`abortable`]: the task ends at its next poll, dropping (and so
/// cancelling) what it was waiting for.
#[derive(Clone, Default)]
pub struct AbortHandle {
    state: Rc<AbortState>,
}

#[derive(Default)]
struct AbortState {
    aborted: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl AbortHandle {
    /// Ends the task.
    pub fn abort(&self) {
        self.state.aborted.set(true);
        if let Some(waker) = self.state.waker.take() {
            waker.wake();
        }
    }

    /// True once aborted.
    pub fn is_aborted(&self) -> bool {
        self.state.aborted.get()
    }
}

/// `future`, ending early with `None` when `handle` aborts it.
pub fn abortable<F: Future>(
    future: F,
    handle: &AbortHandle,
) -> impl Future<Output = Option<F::Output>> {
    let state = handle.state.clone();
    let mut future = Box::pin(future);
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        if state.aborted.get() {
            return Poll::Ready(None);
        }
        match future.as_mut().poll(cx) {
            Poll::Ready(value) => Poll::Ready(Some(value)),
            Poll::Pending => {
                *state.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
}

/// A bounded queue from one task to another: the sender waits while it is full, the
/// receiver while it is empty; after [`Channel::close`] the receiver gets what is left,
/// then `None`.
pub struct Channel<T> {
    state: Rc<ChannelState<T>>,
}

struct ChannelState<T> {
    items: RefCell<std::collections::VecDeque<T>>,
    capacity: usize,
    closed: Cell<bool>,
    sender: RefCell<Option<Waker>>,
    receiver: RefCell<Option<Waker>>,
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<T> Channel<T> {
    /// A channel holding at most `capacity` items.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Rc::new(ChannelState {
                items: RefCell::new(std::collections::VecDeque::new()),
                capacity: capacity.max(1),
                closed: Cell::new(false),
                sender: RefCell::new(None),
                receiver: RefCell::new(None),
            }),
        }
    }

    /// Sends `item`, once there is room.
    pub async fn send(&self, item: T) {
        let state = &self.state;
        std::future::poll_fn(|cx| {
            if state.items.borrow().len() < state.capacity {
                Poll::Ready(())
            } else {
                *state.sender.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        state.items.borrow_mut().push_back(item);
        if let Some(waker) = state.receiver.take() {
            waker.wake();
        }
    }

    /// No more items will be sent.
    pub fn close(&self) {
        self.state.closed.set(true);
        if let Some(waker) = self.state.receiver.take() {
            waker.wake();
        }
    }

    /// The next item, or `None` once the channel is closed and empty.
    pub async fn receive(&self) -> Option<T> {
        let state = &self.state;
        std::future::poll_fn(|cx| {
            if let Some(item) = state.items.borrow_mut().pop_front() {
                if let Some(waker) = state.sender.take() {
                    waker.wake();
                }
                return Poll::Ready(Some(item));
            }
            if state.closed.get() {
                return Poll::Ready(None);
            }
            *state.receiver.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_executor::LocalPool;
    use futures_executor::LocalSpawner;
    use std::future::pending;

    fn spawn(spawner: &LocalSpawner, future: impl Future<Output = ()> + 'static) {
        use futures_util::task::LocalSpawnExt;
        spawner.spawn_local(future).unwrap();
    }

    #[test]
    fn every_waiter_gets_the_outcome() {
        let mut pool = LocalPool::new();
        let shared: Shared<u32> = Shared::new();
        let seen = Rc::new(RefCell::new(Vec::new()));
        for _ in 0..3 {
            let (wait, seen) = (shared.wait(), seen.clone());
            spawn(&pool.spawner(), async move {
                let outcome = wait.await;
                seen.borrow_mut().push(outcome);
            });
        }
        pool.run_until_stalled();
        assert!(seen.borrow().is_empty(), "nothing before the outcome");
        shared.set(7);
        shared.set(8);
        pool.run_until_stalled();
        assert_eq!(*seen.borrow(), [7, 7, 7], "the first outcome, to all");
        assert_eq!(
            futures_executor::block_on(shared.wait()),
            7,
            "a late waiter too"
        );
    }

    #[test]
    fn a_channel_carries_items_in_order_and_holds_the_sender_when_full() {
        let mut pool = LocalPool::new();
        let channel: Channel<u32> = Channel::new(2);
        let sent = Rc::new(Cell::new(0));
        let (tx, count) = (channel.clone(), sent.clone());
        spawn(&pool.spawner(), async move {
            for i in 0..5 {
                tx.send(i).await;
                count.set(count.get() + 1);
            }
            tx.close();
        });
        pool.run_until_stalled();
        assert_eq!(sent.get(), 2, "the sender waits while the channel is full");
        let mut received = Vec::new();
        pool.run_until(async {
            while let Some(item) = channel.receive().await {
                received.push(item);
            }
        });
        assert_eq!(received, [0, 1, 2, 3, 4]);
        assert_eq!(
            futures_executor::block_on(channel.receive()),
            None,
            "closed and empty"
        );
    }

    #[test]
    fn an_aborted_task_ends_and_drops_what_it_waited_for() {
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let mut pool = LocalPool::new();
        let dropped = Rc::new(Cell::new(false));
        let ended = Rc::new(Cell::new(None));
        let handle = AbortHandle::default();
        let (flag, ended_in) = (Flag(dropped.clone()), ended.clone());
        let task = abortable(
            async move {
                let _flag = flag;
                pending::<()>().await;
            },
            &handle,
        );
        spawn(&pool.spawner(), async move {
            ended_in.set(Some(task.await.is_some()))
        });
        pool.run_until_stalled();
        assert_eq!((ended.get(), dropped.get()), (None, false));
        handle.abort();
        pool.run_until_stalled();
        assert_eq!(ended.get(), Some(false), "ended as aborted");
        assert!(dropped.get() && handle.is_aborted());
        let done = futures_executor::block_on(abortable(async { 5 }, &AbortHandle::default()));
        assert_eq!(done, Some(5));
    }
}

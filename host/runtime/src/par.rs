//! Fan-out over the machine's cores: loading plugins and rendering components run on at most
//! one thread per core, the caller's thread among them, rather than one thread per item.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The cores this process may run on (`available_parallelism`, read once: it opens the
/// cgroup files on every call).
pub fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `items.iter().map(f).collect()`, with the items shared out between up to [`cores`]
/// threads (the calling thread works too), results in the order of `items`. A panic in `f`
/// is raised again on the calling thread.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = cores().min(items.len());
    if workers <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            done.push((i, f(item)));
        }
        done
    };
    let mut all = std::thread::scope(|s| {
        let others: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for h in others {
            match h.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Mutex;

    #[test]
    fn keeps_order_and_uses_no_more_threads_than_cores() {
        let items: Vec<u32> = (0..100).collect();
        let threads = Mutex::new(HashSet::new());
        let got = par_map(&items, |x| {
            threads.lock().unwrap().insert(std::thread::current().id());
            x * 2
        });
        assert_eq!(got, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        let used = threads.lock().unwrap().len();
        assert!(
            (1..=cores()).contains(&used),
            "{used} threads, {} cores",
            cores()
        );
        assert!(par_map(&[] as &[u32], |x| *x).is_empty());
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let items: Vec<u32> = (0..8).collect();
        let r = std::panic::catch_unwind(|| par_map(&items, |x| assert_ne!(*x, 5)));
        assert!(r.is_err());
    }
}

//! The debugger's list under registrations from several threads.

use super::*;
use std::collections::HashSet;

/// An image no other test makes: its bytes name the thread and round.
fn image(thread: usize, round: usize) -> Box<[u8]> {
    format!("gdb-jit-test {thread} {round}")
        .into_bytes()
        .into_boxed_slice()
}

#[test]
fn the_list_stays_linked_under_registrations_from_several_threads() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 200;
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut held: Vec<Registration> = Vec::new();
                for round in 0..ROUNDS {
                    held.push(register(image(t, round)));
                    // Drop from the middle, the front and the back in turn.
                    if round % 3 == 2 {
                        let at = (round / 3) % held.len();
                        drop(held.remove(at));
                    }
                }
                let ours: HashSet<(usize, usize)> = held
                    .iter()
                    .map(|r| (r._image.as_ptr() as usize, r._image.len()))
                    .collect();
                let listed: HashSet<(usize, usize)> = listed_images().into_iter().collect();
                assert!(ours.is_subset(&listed), "a held image is not listed");
                let count = held.len();
                drop(held);
                let listed: HashSet<(usize, usize)> = listed_images().into_iter().collect();
                assert!(ours.is_disjoint(&listed), "a dropped image is listed");
                count
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), ROUNDS - ROUNDS / 3);
    }
}

#[test]
fn each_entry_points_at_its_image() {
    let a = register(image(99, 0));
    let b = register(image(99, 1));
    let listed = listed_images();
    for r in [&a, &b] {
        let want = (r._image.as_ptr() as usize, r._image.len());
        assert_eq!(listed.iter().filter(|&&e| e == want).count(), 1);
    }
    // Newest first, as gdb's own examples list them.
    let pos = |r: &Registration| {
        listed
            .iter()
            .position(|&(p, _)| p == r._image.as_ptr() as usize)
            .unwrap()
    };
    assert!(pos(&b) < pos(&a));
}

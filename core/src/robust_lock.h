/*
 * robust_lock.h - process-shared locks that the kernel releases when their
 * owner dies, built on the documented robust-futex ABI of Linux
 * (futex(2), set_robust_list(2), Documentation/locking/robust-futex-ABI).
 *
 * Why not pthread robust mutexes: a thread blocked in pthread_mutex_lock
 * cannot be woken without being given the lock, so a follower's background
 * thread could not be stopped promptly by close().  Here waiting is a plain
 * FUTEX_WAIT on the lock word, which close() can interrupt with FUTEX_WAKE.
 *
 * Invariants:
 *  - The lock word is 0 (free), or the owner thread's TID (as the owner sees
 *    it) possibly with FUTEX_WAITERS, or FUTEX_OWNER_DIED set by the kernel
 *    when the owner thread exited while holding it.  A word whose TID field is
 *    0 is free to take, whatever its other bits.
 *  - Only the owner writes `node`; it holds a pointer valid in the owner's
 *    address space only, and no other process interprets it.
 *  - A thread that takes these locks must call cshm_robust_thread_init()
 *    first, and must not use glibc robust mutexes: the thread's robust list
 *    head is ours.  Only clustershm's background thread takes them.
 */
#ifndef CSHM_ROBUST_LOCK_H
#define CSHM_ROBUST_LOCK_H

#include <linux/futex.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct cshm_robust_lock {
    struct robust_list node;      /* link in the owner's robust list */
    uint32_t word;                /* futex word, accessed atomically */
    uint32_t reserved;
} cshm_robust_lock;

/* Per-thread robust list (process-private memory, lives as long as the thread). */
typedef struct cshm_robust_owner {
    struct robust_list_head head;
    pid_t tid;
} cshm_robust_owner;

enum {
    CSHM_LOCK_ACQUIRED = 0,
    CSHM_LOCK_ACQUIRED_OWNER_DIED = 1,   /* acquired; the previous owner died holding it */
    CSHM_LOCK_BUSY = 2,
};

/* Set up and register the calling thread's robust list.  Returns 0 or -errno. */
int cshm_robust_thread_init(cshm_robust_owner *owner);

/* Called in a freshly initialised segment only. */
void cshm_robust_lock_init(cshm_robust_lock *lock);

int cshm_robust_trylock(cshm_robust_owner *owner, cshm_robust_lock *lock);
/* 1 when the calling owner holds the lock. */
int cshm_robust_held(const cshm_robust_owner *owner, const cshm_robust_lock *lock);
/* Release a lock the owner holds (no-op otherwise) and wake every waiter. */
void cshm_robust_unlock(cshm_robust_owner *owner, cshm_robust_lock *lock);

/* Sleep until the lock changes hands, the owner dies, someone calls
 * cshm_robust_wake_all(), or `seconds` pass.  Returns at once when the lock
 * looks free.  Spurious returns are allowed: callers re-check. */
void cshm_robust_wait(cshm_robust_lock *lock, double seconds);
void cshm_robust_wake_all(cshm_robust_lock *lock);

/* The owner TID recorded in the word (0 when free or when the owner died). */
uint32_t cshm_robust_owner_tid(const cshm_robust_lock *lock);

/* Generic futex helpers on shared memory words (used for publish/refresh). */
void cshm_futex_wait(uint32_t *word, uint32_t expected, double seconds);
void cshm_futex_wake_all(uint32_t *word);

#endif

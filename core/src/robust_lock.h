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
 *  - Only the word lives in shared memory.  The links of the owner's robust
 *    list live in a process-private *shadow* of the lock area: the entry of
 *    the lock whose word is at area + k is at shadow + k, and the list head's
 *    futex_offset is (area - shadow), so the kernel finds each word from its
 *    private entry.  Nothing another process writes can make this thread or
 *    the kernel follow a link that is not one of this thread's own locks.
 *  - An owner takes only locks inside the area it registered; every lock is
 *    8-byte aligned, so entries (one pointer each) never overlap.
 *  - A thread that takes these locks must call cshm_robust_thread_init()
 *    first, and must not use glibc robust mutexes: the thread's robust list
 *    head is ours.  Only clustershm's background thread takes them, and it
 *    never runs user code (log handlers run on another thread, see log.h).
 */
#ifndef CSHM_ROBUST_LOCK_H
#define CSHM_ROBUST_LOCK_H

#include <linux/futex.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct cshm_robust_lock {
    uint32_t word;                /* futex word, accessed atomically */
    uint32_t reserved;
} cshm_robust_lock;

/* Per-thread robust list (process-private memory, lives as long as the
 * thread; the shadow is freed by cshm_robust_owner_free after the thread
 * has exited). */
typedef struct cshm_robust_owner {
    struct robust_list_head head;
    pid_t tid;
    const unsigned char *area;    /* shared memory holding the lock words */
    size_t area_size;
    struct robust_list *shadow;   /* area_size bytes of private links */
} cshm_robust_owner;

enum {
    CSHM_LOCK_ACQUIRED = 0,
    CSHM_LOCK_ACQUIRED_OWNER_DIED = 1,   /* acquired; the previous owner died holding it */
    CSHM_LOCK_BUSY = 2,
};

/* Set up the calling thread's robust list for the locks inside
 * [area, area + area_size) and register it with the kernel.  Returns 0 or
 * -errno (-ENOMEM when the shadow cannot be allocated). */
int cshm_robust_thread_init(cshm_robust_owner *owner, const void *area, size_t area_size);
/* Free the shadow; only once the owning thread has exited (the kernel reads
 * the list at thread exit). */
void cshm_robust_owner_free(cshm_robust_owner *owner);

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

/* 1 when some thread has slept on the lock (cshm_robust_wait) since it was
 * last released: FUTEX_WAITERS, which only a release clears. */
int cshm_robust_has_waiters(const cshm_robust_lock *lock);

/* The owner TID recorded in the word (0 when free or when the owner died). */
uint32_t cshm_robust_owner_tid(const cshm_robust_lock *lock);

/* Generic futex helpers on shared memory words (used for publish/refresh). */
void cshm_futex_wait(uint32_t *word, uint32_t expected, double seconds);
void cshm_futex_wake_all(uint32_t *word);

#endif

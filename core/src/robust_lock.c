/*
 * robust_lock.c - see robust_lock.h.
 *
 * The protocol is the one the kernel expects for robust futexes:
 *  - acquire: announce the lock in list_op_pending, compare-and-swap our TID
 *    into the word, link the lock into our list, clear list_op_pending;
 *  - release: announce, unlink, swap the word to 0, wake, clear.
 * If the thread dies at any point, the kernel walks the list (and the pending
 * entry) and, for every word that still holds this thread's TID, sets
 * FUTEX_OWNER_DIED and wakes a waiter.  Signal fences keep the compiler from
 * reordering these steps, since the kernel may observe them at any instant.
 */
#include "robust_lock.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"

static long futex_call(uint32_t *word, int op, uint32_t value, const struct timespec *timeout)
{
    return syscall(SYS_futex, word, op, value, timeout, NULL, 0);
}

void cshm_futex_wait(uint32_t *word, uint32_t expected, double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts = cshm_timespec_from_seconds(seconds);
    /* Not FUTEX_PRIVATE_FLAG: the word is shared between processes. */
    futex_call(word, FUTEX_WAIT, expected, &ts);
}

void cshm_futex_wake_all(uint32_t *word)
{
    futex_call(word, FUTEX_WAKE, INT_MAX, NULL);
}

int cshm_robust_thread_init(cshm_robust_owner *owner)
{
    owner->head.list.next = &owner->head.list;
    owner->head.futex_offset =
        (long)(offsetof(cshm_robust_lock, word) - offsetof(cshm_robust_lock, node));
    owner->head.list_op_pending = NULL;
    owner->tid = (pid_t)syscall(SYS_gettid);
    if (syscall(SYS_set_robust_list, &owner->head, sizeof owner->head) != 0)
        return -errno;
    return 0;
}

void cshm_robust_lock_init(cshm_robust_lock *lock)
{
    lock->node.next = NULL;
    __atomic_store_n(&lock->word, 0, __ATOMIC_RELEASE);
    lock->reserved = 0;
}

uint32_t cshm_robust_owner_tid(const cshm_robust_lock *lock)
{
    uint32_t word = __atomic_load_n(&lock->word, __ATOMIC_ACQUIRE);
    return word & FUTEX_TID_MASK;
}

int cshm_robust_held(const cshm_robust_owner *owner, const cshm_robust_lock *lock)
{
    return cshm_robust_owner_tid(lock) == (uint32_t)owner->tid;
}

int cshm_robust_trylock(cshm_robust_owner *owner, cshm_robust_lock *lock)
{
    uint32_t seen = __atomic_load_n(&lock->word, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((seen & FUTEX_TID_MASK) != 0)
            return CSHM_LOCK_BUSY;
        owner->head.list_op_pending = &lock->node;
        atomic_signal_fence(memory_order_seq_cst);
        /* Keep FUTEX_WAITERS: others may sleep on the word, and our release
         * must wake them. */
        uint32_t desired = (uint32_t)owner->tid | (seen & FUTEX_WAITERS);
        if (__atomic_compare_exchange_n(&lock->word, &seen, desired, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            lock->node.next = owner->head.list.next;
            atomic_signal_fence(memory_order_seq_cst);
            owner->head.list.next = &lock->node;
            atomic_signal_fence(memory_order_seq_cst);
            owner->head.list_op_pending = NULL;
            return (seen & FUTEX_OWNER_DIED) ? CSHM_LOCK_ACQUIRED_OWNER_DIED : CSHM_LOCK_ACQUIRED;
        }
        owner->head.list_op_pending = NULL;
        atomic_signal_fence(memory_order_seq_cst);
    }
}

void cshm_robust_unlock(cshm_robust_owner *owner, cshm_robust_lock *lock)
{
    if (!cshm_robust_held(owner, lock))
        return;
    owner->head.list_op_pending = &lock->node;
    atomic_signal_fence(memory_order_seq_cst);
    struct robust_list *prev = &owner->head.list;
    /* The list holds at most a few locks; a bounded walk finds ours. */
    for (int steps = 0; prev->next != &owner->head.list && steps < 64; steps++) {
        if (prev->next == &lock->node) {
            prev->next = lock->node.next;
            break;
        }
        prev = prev->next;
    }
    atomic_signal_fence(memory_order_seq_cst);
    uint32_t old = __atomic_exchange_n(&lock->word, 0, __ATOMIC_ACQ_REL);
    atomic_signal_fence(memory_order_seq_cst);
    owner->head.list_op_pending = NULL;
    if (old & FUTEX_WAITERS)
        cshm_futex_wake_all(&lock->word);
}

void cshm_robust_wait(cshm_robust_lock *lock, double seconds)
{
    uint32_t seen = __atomic_load_n(&lock->word, __ATOMIC_ACQUIRE);
    if ((seen & FUTEX_TID_MASK) == 0)
        return;
    if (!(seen & FUTEX_WAITERS)) {
        uint32_t with_waiters = seen | FUTEX_WAITERS;
        if (!__atomic_compare_exchange_n(&lock->word, &seen, with_waiters, 0, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            return; /* it changed: let the caller look again */
        seen = with_waiters;
    }
    cshm_futex_wait(&lock->word, seen, seconds);
}

void cshm_robust_wake_all(cshm_robust_lock *lock)
{
    cshm_futex_wake_all(&lock->word);
}

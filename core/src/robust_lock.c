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
 *
 * The list's entries are in the owner's private shadow (robust_lock.h), so
 * every pointer the kernel and unlock() follow was written by this thread.
 */
#include "robust_lock.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"

/* The list never holds more than an owner lock and a slot lock; the walk in
 * unlock() is bounded anyway. */
#define MAX_HELD 64

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

int cshm_robust_thread_init(cshm_robust_owner *owner, const void *area, size_t area_size)
{
    memset(owner, 0, sizeof *owner);
    size_t rounded = (area_size + 7u) & ~(size_t)7u;
    owner->shadow = aligned_alloc(8, rounded ? rounded : 8);
    if (owner->shadow == NULL)
        return -ENOMEM;
    memset(owner->shadow, 0, rounded ? rounded : 8);
    owner->area = area;
    owner->area_size = area_size;
    owner->head.list.next = &owner->head.list;
    /* entry + futex_offset = word: the kernel adds it as a signed offset. */
    owner->head.futex_offset = (long)((intptr_t)area - (intptr_t)owner->shadow);
    owner->head.list_op_pending = NULL;
    owner->tid = (pid_t)syscall(SYS_gettid);
    if (syscall(SYS_set_robust_list, &owner->head, sizeof owner->head) != 0) {
        int err = errno;
        cshm_robust_owner_free(owner);
        return -err;
    }
    return 0;
}

void cshm_robust_owner_free(cshm_robust_owner *owner)
{
    free(owner->shadow);
    owner->shadow = NULL;
    owner->area = NULL;
    owner->area_size = 0;
}

/* The private entry of a lock, or NULL when the lock is outside the area. */
static struct robust_list *entry_of(const cshm_robust_owner *owner, const cshm_robust_lock *lock)
{
    const unsigned char *word = (const unsigned char *)&lock->word;
    if (owner->shadow == NULL || word < owner->area)
        return NULL;
    size_t offset = (size_t)(word - owner->area);
    if (offset % 8 != 0 || offset + sizeof(struct robust_list) > owner->area_size)
        return NULL;
    return (struct robust_list *)(void *)((unsigned char *)owner->shadow + offset);
}

void cshm_robust_lock_init(cshm_robust_lock *lock)
{
    __atomic_store_n(&lock->word, 0, __ATOMIC_RELEASE);
    lock->reserved = 0;
}

uint32_t cshm_robust_owner_tid(const cshm_robust_lock *lock)
{
    uint32_t word = __atomic_load_n(&lock->word, __ATOMIC_ACQUIRE);
    return word & FUTEX_TID_MASK;
}

int cshm_robust_has_waiters(const cshm_robust_lock *lock)
{
    return (__atomic_load_n(&lock->word, __ATOMIC_ACQUIRE) & FUTEX_WAITERS) != 0;
}

int cshm_robust_held(const cshm_robust_owner *owner, const cshm_robust_lock *lock)
{
    return cshm_robust_owner_tid(lock) == (uint32_t)owner->tid;
}

int cshm_robust_trylock(cshm_robust_owner *owner, cshm_robust_lock *lock)
{
    struct robust_list *entry = entry_of(owner, lock);
    assert(entry != NULL && "a lock outside the owner's registered area");
    if (entry == NULL)
        return CSHM_LOCK_BUSY;
    uint32_t seen = __atomic_load_n(&lock->word, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((seen & FUTEX_TID_MASK) != 0)
            return CSHM_LOCK_BUSY;
        owner->head.list_op_pending = entry;
        atomic_signal_fence(memory_order_seq_cst);
        /* Keep FUTEX_WAITERS: others may sleep on the word, and our release
         * must wake them. */
        uint32_t desired = (uint32_t)owner->tid | (seen & FUTEX_WAITERS);
        if (__atomic_compare_exchange_n(&lock->word, &seen, desired, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            entry->next = owner->head.list.next;
            atomic_signal_fence(memory_order_seq_cst);
            owner->head.list.next = entry;
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
    struct robust_list *entry = entry_of(owner, lock);
    if (entry == NULL || !cshm_robust_held(owner, lock))
        return;
    owner->head.list_op_pending = entry;
    atomic_signal_fence(memory_order_seq_cst);
    struct robust_list *prev = &owner->head.list;
    for (int steps = 0; prev->next != &owner->head.list && steps < MAX_HELD; steps++) {
        if (prev->next == entry) {
            prev->next = entry->next;
            break;
        }
        prev = prev->next;
    }
    entry->next = NULL;
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

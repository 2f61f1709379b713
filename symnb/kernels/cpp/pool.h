// The threads of a generated module (stage "program"): n_threads - 1 workers that wait for
// a job and share its chunks with the calling thread. Not OpenMP: a process that loaded another
// libgomp.so.1 first (PyTorch ships one) would hand us its pool, initialized with its spin
// policy (threads that spin for milliseconds after each loop, starving OpenBLAS's threads:
// an MLP step went from 1.3 to 18 ms). Here workers spin a few microseconds, then sleep.
#pragma once
#include <new>
#include <pthread.h>

namespace symnb {

static int n_threads = 1;     // threads for big loops (1 in a forked child)

struct Pool {
    enum { MAXW = 63, CHUNKS_PER_THREAD = 4 };
    static const uint64_t SPIN_CYCLES = 50000;   // about 20 us at 2.6 GHz, then sleep
    typedef int (*fn_t)(void* ctx, npy_intp lo, npy_intp hi);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    // Shared with the workers through GCC's __atomic builtins (no <atomic>, no intrinsics
    // header: each costs a generated module parse time). A job is cut into chunks that
    // every thread claims in turn, the caller too: a worker slow to wake up (it sleeps after
    // SPIN_CYCLES) leaves its chunks to the caller instead of making it wait.
    // The job, read by every thread; then the counters they write, each on a cache line of
    // its own (a write to a line invalidates it in the other core).
    fn_t fn = nullptr;
    void* ctx = nullptr;
    npy_intp count = 0, align = 1;
    int chunks = 1;
    int workers = 0;            // started
    bool busy = false;
    alignas(64) uint64_t epoch = 0;     // job number (the workers' wake-up signal)
    alignas(64) uint64_t ticket = 0;    // job number << 32 | next chunk to claim
    alignas(64) int done = 0;           // chunks finished
    alignas(64) int err = 0;            // their error bits

    // Claim and run chunks of job `job` until none is left.
    void work(uint64_t job) {
        uint64_t t = __atomic_load_n(&ticket, __ATOMIC_ACQUIRE);
        while ((t >> 32) == (job & 0xffffffffu) && (int)(t & 0xffffffffu) < chunks) {
            if (!__atomic_compare_exchange_n(&ticket, &t, t + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
            const npy_intp k = (npy_intp)(t & 0xffffffffu);
            const npy_intp lo = count * k / chunks / align * align;
            const npy_intp hi = k == chunks - 1 ? count : count * (k + 1) / chunks / align * align;
            const int e = lo < hi ? fn(ctx, lo, hi) : 0;
            if (e) __atomic_or_fetch(&err, e, __ATOMIC_RELAXED);
            __atomic_add_fetch(&done, 1, __ATOMIC_RELEASE);
            t = __atomic_load_n(&ticket, __ATOMIC_ACQUIRE);
        }
    }
    static void* main_loop(void* arg);
    bool start(int want) {
        while (workers < want && workers < MAXW) {
            pthread_t t;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            // The job the worker has seen: the one posted next, maybe before it runs, is its first.
            void** arg = new (std::nothrow) void*[2];
            if (!arg) break;
            arg[0] = this;
            arg[1] = (void*)(uintptr_t)__atomic_load_n(&epoch, __ATOMIC_ACQUIRE);
            int rc = pthread_create(&t, &attr, main_loop, arg);
            pthread_attr_destroy(&attr);
            if (rc != 0) { delete[] arg; break; }
            workers++;
        }
        return workers > 0;
    }
    // f(ctx, lo, hi) over [0, count) in chunks; the error bits of every chunk. One job at a
    // time: a second caller (another Python thread while the GIL is released) runs alone.
    int run(fn_t f, void* c, npy_intp n, npy_intp al, int threads, int max_chunks) {
        bool expected = false;
        if (threads < 2 || !__atomic_compare_exchange_n(&busy, &expected, true, false, __ATOMIC_ACQUIRE,
                                                         __ATOMIC_RELAXED))
            return f(c, 0, n);
        if (!start(threads - 1)) { __atomic_store_n(&busy, false, __ATOMIC_RELEASE); return f(c, 0, n); }
        fn = f; ctx = c; count = n; align = al;
        chunks = (workers + 1) * CHUNKS_PER_THREAD;
        if (chunks > max_chunks) chunks = max_chunks;
        done = 0;
        err = 0;
        const uint64_t job = epoch + 1;
        __atomic_store_n(&ticket, (job & 0xffffffffu) << 32, __ATOMIC_RELEASE);
        pthread_mutex_lock(&mu);
        __atomic_store_n(&epoch, job, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        work(job);
        while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < chunks) __builtin_ia32_pause();
        const int e = err;
        __atomic_store_n(&busy, false, __ATOMIC_RELEASE);
        return e;
    }
};

inline void* Pool::main_loop(void* arg) {
    Pool* P = (Pool*)((void**)arg)[0];
    uint64_t seen = (uint64_t)(uintptr_t)((void**)arg)[1];
    delete[] (void**)arg;
    for (;;) {
        uint64_t e = seen;
        const uint64_t until = __builtin_ia32_rdtsc() + SPIN_CYCLES;
        while ((e = __atomic_load_n(&P->epoch, __ATOMIC_ACQUIRE)) == seen && __builtin_ia32_rdtsc() < until)
            __builtin_ia32_pause();
        if (e == seen) {
            pthread_mutex_lock(&P->mu);
            while ((e = __atomic_load_n(&P->epoch, __ATOMIC_ACQUIRE)) == seen) pthread_cond_wait(&P->cv, &P->mu);
            pthread_mutex_unlock(&P->mu);
        }
        seen = e;
        P->work(e);
    }
    return nullptr;
}

static Pool pool;

// f(lo, hi) over [0, count): in this thread, or split between n_threads threads when
// `parallel` (boundaries on multiples of `align`, so vector loops start aligned). Returns
// the error bits of every part.
template <class F> static int run_spans(npy_intp count, bool parallel, npy_intp align, F& f) {
    if (!parallel || n_threads < 2) return f(0, count);
    const npy_intp most = (count + align - 1) / align;     // chunks of at least `align`
    return pool.run([](void* c, npy_intp lo, npy_intp hi) -> int { return (*(F*)c)(lo, hi); }, &f, count, align,
                    n_threads, most < 1 << 20 ? (int)most : 1 << 20);
}

// In a forked child the workers are gone: run serially there.
static void pool_after_fork() {
    n_threads = 1;
    new (&pool) Pool();
}

}  // namespace symnb

// The threads of a generated module (stage "program"): n_threads - 1 workers that wait for
// a job, the calling thread doing part 0. Not OpenMP: a process that loaded another
// libgomp.so.1 first (PyTorch ships one) would hand us its pool, initialized with its spin
// policy (threads that spin for milliseconds after each loop, starving OpenBLAS's threads:
// an MLP step went from 1.3 to 18 ms). Here workers spin a few microseconds, then sleep.
#pragma once
#include <new>
#include <pthread.h>

namespace symnb {

static int n_threads = 1;     // threads for big loops (1 in a forked child)

struct Pool {
    enum { MAXW = 63 };
    static const uint64_t SPIN_CYCLES = 50000;   // about 20 us at 2.6 GHz, then sleep
    typedef int (*fn_t)(void* ctx, npy_intp lo, npy_intp hi);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    // Shared with the workers through GCC's __atomic builtins (no <atomic>, no intrinsics
    // header: each costs a generated module parse time).
    bool busy = false;
    uint64_t epoch = 0;
    int pending = 0;
    int workers = 0;            // started
    fn_t fn = nullptr;
    void* ctx = nullptr;
    npy_intp count = 0, align = 1;
    int parts = 1;
    int errs[MAXW + 1];

    void part(int k) {
        npy_intp lo = count * k / parts / align * align;
        npy_intp hi = k == parts - 1 ? count : count * (k + 1) / parts / align * align;
        errs[k] = lo < hi ? fn(ctx, lo, hi) : 0;
    }
    static void* main_loop(void* arg);
    bool start(int want) {
        while (workers < want && workers < MAXW) {
            pthread_t t;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            intptr_t k = workers + 1;
            // The epoch the worker has seen: the job posted next, maybe before it runs, is its first.
            void** arg = new (std::nothrow) void*[3];
            if (!arg) break;
            arg[0] = this;
            arg[1] = (void*)k;
            arg[2] = (void*)(uintptr_t)__atomic_load_n(&epoch, __ATOMIC_ACQUIRE);
            int rc = pthread_create(&t, &attr, main_loop, arg);
            pthread_attr_destroy(&attr);
            if (rc != 0) { delete[] arg; break; }
            workers++;
        }
        return workers > 0;
    }
    // f(ctx, lo, hi) over [0, count) in parts; the error bits of every part. One job at a
    // time: a second caller (another Python thread while the GIL is released) runs alone.
    int run(fn_t f, void* c, npy_intp n, npy_intp al, int want_parts) {
        bool expected = false;
        if (want_parts < 2 || !__atomic_compare_exchange_n(&busy, &expected, true, false, __ATOMIC_ACQUIRE,
                                                           __ATOMIC_RELAXED))
            return f(c, 0, n);
        if (!start(want_parts - 1)) { __atomic_store_n(&busy, false, __ATOMIC_RELEASE); return f(c, 0, n); }
        fn = f; ctx = c; count = n; align = al;
        parts = workers + 1;      // every worker takes a part of every job
        __atomic_store_n(&pending, parts - 1, __ATOMIC_RELAXED);
        pthread_mutex_lock(&mu);
        __atomic_add_fetch(&epoch, 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        part(0);
        while (__atomic_load_n(&pending, __ATOMIC_ACQUIRE) > 0) __builtin_ia32_pause();
        int err = 0;
        for (int k = 0; k < parts; k++) err |= errs[k];
        __atomic_store_n(&busy, false, __ATOMIC_RELEASE);
        return err;
    }
};

inline void* Pool::main_loop(void* arg) {
    Pool* P = (Pool*)((void**)arg)[0];
    const int k = (int)(intptr_t)((void**)arg)[1];
    uint64_t seen = (uint64_t)(uintptr_t)((void**)arg)[2];
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
        P->part(k);
        __atomic_sub_fetch(&P->pending, 1, __ATOMIC_RELEASE);
    }
    return nullptr;
}

static Pool pool;

// f(lo, hi) over [0, count): in this thread, or split between n_threads threads when
// `parallel` (boundaries on multiples of `align`, so vector loops start aligned). Returns
// the error bits of every part.
template <class F> static int run_spans(npy_intp count, bool parallel, npy_intp align, F& f) {
    if (!parallel || n_threads < 2) return f(0, count);
    return pool.run([](void* c, npy_intp lo, npy_intp hi) -> int { return (*(F*)c)(lo, hi); }, &f, count, align,
                    n_threads);
}

// In a forked child the workers are gone: run serially there.
static void pool_after_fork() {
    n_threads = 1;
    new (&pool) Pool();
}

}  // namespace symnb

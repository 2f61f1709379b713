// The threads of the generated modules (stage "program"; one pool per process, share_pool):
// workers that wait for a job and share its chunks with the calling thread. Not OpenMP: a process that loaded another
// libgomp.so.1 first (PyTorch ships one) would hand us its pool, initialized with its spin
// policy (threads that spin for milliseconds after each loop, starving OpenBLAS's threads:
// an MLP step went from 1.3 to 18 ms). Here workers spin a few microseconds, then sleep.
#pragma once
#include <new>
#include <pthread.h>

namespace symnb {

inline int n_threads = 1;     // threads for big loops (1 in a forked child)

struct Pool {
    enum { MAXW = 63, CHUNKS_PER_THREAD = 4 };
    static const uint64_t SPIN_CYCLES = 50000;   // about 20 us at 2.6 GHz, then sleep
    typedef int (*fn_t)(void* ctx, npy_intp lo, npy_intp hi);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    // Shared with the workers through GCC's __atomic builtins (no <atomic>, no intrinsics
    // header: each costs a generated module parse time). A job is cut into chunks, the
    // caller runs some too, and a worker slow to wake up (it sleeps after SPIN_CYCLES)
    // leaves its chunks to the others instead of making the caller wait.
    int workers = 0;            // started
    bool busy = false;
    // The job, on the line the workers spin on: a worker that sees a new epoch has the rest of
    // the job in the same transfer between cores. Each such transfer costs 200-300 TSC cycles
    // here, and a worker used to meet five in a row (epoch, job, the caller's closure, its
    // captured locals, the arrays they point to) before its first element.
    alignas(64) uint64_t epoch = 0;     // job number (the workers' wake-up signal)
    fn_t fn = nullptr;
    void* ctx = nullptr;
    npy_intp count = 0, align = 1;
    int chunks = 1, per = 1;    // chunks, and how many each thread owns
    int active = 1;             // threads taking part in the job: the caller's count (a module
                                // loaded with fewer threads shares the process's pool)
    enum { CLOSURE = 128 };
    alignas(64) unsigned char closure[CLOSURE];   // the caller's closure, copied when it fits
    // Then the counters the threads write, each on a cache line of its own (a write to a line
    // invalidates it in the other core).
    alignas(64) int sleepers = 0;       // workers asleep on cv, or about to be
    alignas(64) int done = 0;           // chunks finished
    alignas(64) int err = 0;            // their error bits
    // Thread i (the caller is 0) owns chunks [i * per, (i + 1) * per): the same part of the
    // arrays on every call, so each core finds its part in its own cache (claimed first
    // come, first served, 2*a+3*b at 1e5 float32 took 11 us instead of 8). A thread whose
    // own chunks are done takes the others' from their far end. Each range is one word,
    // job << 40 | next << 20 | end, on a cache line of its own.
    struct alignas(64) Range { uint64_t w; };
    Range ranges[MAXW + 1];

    // Take a chunk of job `job` from thread i's range (its next one when `own`, else its
    // last); -1 when none is left.
    int take(int i, uint64_t job, bool own) {
        uint64_t r = __atomic_load_n(&ranges[i].w, __ATOMIC_ACQUIRE);
        for (;;) {
            const int next = (int)(r >> 20 & 0xfffff), end = (int)(r & 0xfffff);
            if ((r >> 40) != (job & 0xffffff) || next >= end) return -1;
            const uint64_t to = own ? r + (1ull << 20) : r - 1;
            if (__atomic_compare_exchange_n(&ranges[i].w, &r, to, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return own ? next : end - 1;
        }
    }
    void run_chunk(int k) {
        const npy_intp lo = count * k / chunks / align * align;
        const npy_intp hi = k == chunks - 1 ? count : count * (k + 1) / chunks / align * align;
        const int e = lo < hi ? fn(ctx, lo, hi) : 0;
        if (e) __atomic_or_fetch(&err, e, __ATOMIC_RELAXED);
    }
    // Thread `self` runs its own chunks of job `job`, then whatever the others left.
    __attribute__((noinline)) void work(uint64_t job, int self, int first = -1) {
        const int n = active;
        if (self >= n) return;
        int ran = 0;
        if (first >= 0) { run_chunk(first); ran++; }
        for (int k; (k = take(self, job, true)) >= 0; ran++) run_chunk(k);
        for (int j = 1; j < n; j++)
            for (int k; (k = take((self + j) % n, job, false)) >= 0; ran++) run_chunk(k);
        if (ran) __atomic_add_fetch(&done, ran, __ATOMIC_RELEASE);
    }
    static void* main_loop(void* arg);
    __attribute__((noinline)) bool start(int want) {
        while (workers < want && workers < MAXW) {
            pthread_t t;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            // The job the worker has seen: the one posted next, maybe before it runs, is its first.
            void** arg = new (std::nothrow) void*[3];
            if (!arg) break;
            arg[0] = this;
            arg[1] = (void*)(uintptr_t)__atomic_load_n(&epoch, __ATOMIC_ACQUIRE);
            arg[2] = (void*)(uintptr_t)(workers + 1);
            int rc = pthread_create(&t, &attr, main_loop, arg);
            pthread_attr_destroy(&attr);
            if (rc != 0) { delete[] arg; break; }
            workers++;
        }
        return workers > 0;
    }
    // f(ctx, lo, hi) over [0, count) in chunks; the error bits of every chunk. One job at a
    // time: a second caller (another Python thread while the GIL is released) runs alone.
    // `bytes`: the size of *c when the pool may copy it (it is then called from the copy).
    __attribute__((noinline)) int run(fn_t f, void* c, size_t bytes, npy_intp n, npy_intp al, int threads,
                                      int max_chunks) {
        bool expected = false;
        if (threads < 2 || n <= 0 ||
            !__atomic_compare_exchange_n(&busy, &expected, true, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return f(c, 0, n);
        if (!start(threads - 1)) { __atomic_store_n(&busy, false, __ATOMIC_RELEASE); return f(c, 0, n); }
        if (bytes && bytes <= CLOSURE) {
            __builtin_memcpy(closure, c, bytes);
            c = closure;
        }
        fn = f; ctx = c; count = n; align = al;
        const int nt = threads < workers + 1 ? threads : workers + 1;
        active = nt;
        per = max_chunks < nt * CHUNKS_PER_THREAD ? (max_chunks + nt - 1) / nt : CHUNKS_PER_THREAD;
        chunks = nt * per < max_chunks ? nt * per : max_chunks;
        done = 0;
        err = 0;
        const uint64_t job = epoch + 1;
        // The caller's first chunk is its own from the start (no atomic operation, which would
        // wait for the lines above to reach the workers, before it begins).
        for (int i = 0; i < nt; i++) {
            const uint64_t lo = (uint64_t)(i * per < chunks ? i * per : chunks) + (i == 0);
            const uint64_t hi = (uint64_t)((i + 1) * per < chunks ? (i + 1) * per : chunks);
            __atomic_store_n(&ranges[i].w, (job & 0xffffff) << 40 | lo << 20 | hi, __ATOMIC_RELEASE);
        }
        __atomic_store_n(&epoch, job, __ATOMIC_RELEASE);
        // A worker that went to sleep after this load read 0 misses this job, whose chunks the
        // caller then runs itself; the next job wakes it.
        if (__atomic_load_n(&sleepers, __ATOMIC_RELAXED)) {
            pthread_mutex_lock(&mu);
            pthread_cond_broadcast(&cv);
            pthread_mutex_unlock(&mu);
        }
        work(job, 0, 0);
        while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < chunks) __builtin_ia32_pause();
        const int e = err;
        __atomic_store_n(&busy, false, __ATOMIC_RELEASE);
        return e;
    }
};

inline void* Pool::main_loop(void* arg) {
    Pool* P = (Pool*)((void**)arg)[0];
    uint64_t seen = (uint64_t)(uintptr_t)((void**)arg)[1];
    const int self = (int)(uintptr_t)((void**)arg)[2];
    delete[] (void**)arg;
    for (;;) {
        uint64_t e = seen;
        const uint64_t until = __builtin_ia32_rdtsc() + SPIN_CYCLES;
        while ((e = __atomic_load_n(&P->epoch, __ATOMIC_ACQUIRE)) == seen && __builtin_ia32_rdtsc() < until)
            __builtin_ia32_pause();
        if (e == seen) {
            pthread_mutex_lock(&P->mu);
            __atomic_add_fetch(&P->sleepers, 1, __ATOMIC_SEQ_CST);
            while ((e = __atomic_load_n(&P->epoch, __ATOMIC_ACQUIRE)) == seen) pthread_cond_wait(&P->cv, &P->mu);
            __atomic_sub_fetch(&P->sleepers, 1, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&P->mu);
        }
        seen = e;
        P->work(e, self);
    }
    return nullptr;
}

// One pool per process: every module uses the first loaded one's (share_pool, at load).
// With a pool per module, a worker still spinning after one function's loop took turns on
// the core with the next function's worker: a dot and an update alternating from two
// functions ran in 56 us instead of 24. POOL_ABI changes with the layout of Pool.
enum { POOL_ABI = 2 };
inline Pool own_pool;
inline Pool* pool = &own_pool;

static void share_pool(int64_t* slot) {
    const int64_t tag = (int64_t)sizeof(Pool) << 8 | POOL_ABI;
    if (!slot[0]) {
        slot[0] = (int64_t)(intptr_t)&own_pool;
        slot[1] = tag;
    }
    pool = slot[1] == tag ? (Pool*)(intptr_t)slot[0] : &own_pool;
}

// f(lo, hi) over [0, count): in this thread, or split between n_threads threads when
// `parallel` (boundaries on multiples of `align`, so vector loops start aligned). Returns
// the error bits of every part.
template <class F> static int run_spans(npy_intp count, bool parallel, npy_intp align, F& f) {
    if (!parallel || n_threads < 2) return f(0, count);
    const npy_intp most = (count + align - 1) / align;     // chunks of at least `align`
    return pool->run([](void* c, npy_intp lo, npy_intp hi) -> int { return (*(F*)c)(lo, hi); }, &f,
                     __is_trivially_copyable(F) ? sizeof(F) : 0, count, align, n_threads,
                     most < 1 << 20 ? (int)most : 1 << 20);
}

// In a forked child the workers are gone: run serially there.
static void pool_after_fork() {
    n_threads = 1;
    new (&own_pool) Pool();
    pool = &own_pool;
}

}  // namespace symnb

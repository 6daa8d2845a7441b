// Thread pool: workers sleep on a condition variable; the calling thread takes part in the work.
#include "common/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace seekr {
namespace {

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable cv_work, cv_done;
  // The job of the current generation; workers read these under `mu` when they wake.
  const std::function<void(int64_t)>* job = nullptr;
  int64_t chunks = 0;
  int64_t done = 0;
  uint32_t generation = 0;
  // (generation << 32) | next chunk to claim: a claim succeeds only for the generation the claimer woke for, so a
  // late worker can never run a chunk of (or count towards) another generation's job.
  std::atomic<uint64_t> next{0};
  bool stop = false;
  int size = 1;

  void run_chunks(uint32_t gen, const std::function<void(int64_t)>* fn, int64_t n) {
    for (;;) {
      uint64_t v = next.load();
      int64_t c;
      do {
        if ((uint32_t)(v >> 32) != gen) return;
        c = (int64_t)(v & 0xffffffffu);
        if (c >= n) return;
      } while (!next.compare_exchange_weak(v, v + 1));
      (*fn)(c);
      std::lock_guard<std::mutex> lk(mu);
      if (++done == chunks) cv_done.notify_all();
    }
  }

  void worker_loop() {
    uint32_t seen = 0;
    for (;;) {
      const std::function<void(int64_t)>* fn;
      int64_t n;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv_work.wait(lk, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
        fn = job;
        n = chunks;
      }
      if (fn) run_chunks(seen, fn, n);
    }
  }

  void start(int n) {
    shutdown();
    size = std::max(1, n);
    stop = false;
    for (int i = 1; i < size; ++i) workers.emplace_back([this] { worker_loop(); });
  }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv_work.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
  }

  void run(int64_t n, const std::function<void(int64_t)>& fn) {
    uint32_t gen;
    {
      std::lock_guard<std::mutex> lk(mu);
      job = &fn;
      chunks = n;
      done = 0;
      gen = ++generation;
      next.store((uint64_t)gen << 32);
    }
    cv_work.notify_all();
    run_chunks(gen, &fn, n);
    std::unique_lock<std::mutex> lk(mu);
    cv_done.wait(lk, [&] { return done == chunks; });
    job = nullptr;
  }

  ~Pool() { shutdown(); }
};

int default_threads() {
  if (const char* env = std::getenv("SEEKR_NUM_THREADS")) {
    int v = std::atoi(env);
    if (v > 0) return v;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : (int)hc;
}

Pool& pool() {
  static Pool p;
  static bool started = false;
  if (!started) {
    started = true;
    p.start(default_threads());
  }
  return p;
}

thread_local bool in_parallel = false;

}  // namespace

int num_threads() { return pool().size; }
void set_num_threads(int n) { pool().start(n); }

void parallel_chunks(int64_t chunks, const std::function<void(int64_t)>& fn) {
  if (chunks <= 0) return;
  Pool& p = pool();
  if (chunks == 1 || p.size == 1 || in_parallel || chunks >= (int64_t(1) << 32)) {
    for (int64_t c = 0; c < chunks; ++c) fn(c);
    return;
  }
  auto wrapped = [&](int64_t c) {
    bool prev = in_parallel;
    in_parallel = true;
    fn(c);
    in_parallel = prev;
  };
  p.run(chunks, wrapped);
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t threads = num_threads();
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, threads * 4);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  int64_t per = (n + chunks - 1) / chunks;
  parallel_chunks(chunks, [&](int64_t c) {
    int64_t b = c * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  });
}

}  // namespace seekr

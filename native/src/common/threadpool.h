// A fixed pool of worker threads with a blocking parallel_for; partitions never depend on timing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace seekr {

int num_threads();
void set_num_threads(int n);

// Runs fn(begin, end) over [0, n) split into contiguous chunks of at least `grain` items.
// Chunk boundaries depend only on n, grain and the thread count, so results are reproducible.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Runs fn(chunk) for chunk in [0, chunks): each chunk exactly once, on any thread.
void parallel_chunks(int64_t chunks, const std::function<void(int64_t)>& fn);

}  // namespace seekr

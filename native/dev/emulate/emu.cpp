// The host emulator's scheduler (emu.h): fibers on mmap'ed stacks, switched by a few lines of assembly (x86-64; the
// ucontext functions elsewhere), run in a fixed order: warp by warp, each lane until it returns or waits at a sync.
// A warp whose lanes all wait at a warp sync is released (and run again); when every warp waits at __syncthreads or
// has returned, the barrier opens for the whole block. Also: block shared memory, and the few CUDA runtime calls the
// emulated files make (cudaMalloc / cudaFree / cudaMemcpy / cudaMemset / cudaGetLastError on host memory,
// cudaFuncSetAttribute's dynamic shared memory limit, an H100's cudaDeviceGetAttribute values).
#include "emu.h"

#include <cuda_runtime_api.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <string>
#include <vector>

#if !defined(__x86_64__) || defined(EMU_UCONTEXT)
#include <ucontext.h>
#endif

namespace emu {

Thread* g_cur = nullptr;
Warp* g_warps = nullptr;
Dim g_blockIdx, g_blockDim, g_gridDim;
int launches = 0;
std::map<const void*, size_t> g_max_dynamic;
std::function<void(const char*)> on_launch;
Stats stats;

namespace {

enum State { READY, WAITING, DONE };
enum Kind { NONE = 0, BLOCK = 1, WARP = 2 };

const char* g_name = "";
void (*g_body)(void*) = nullptr;
void* g_ctx = nullptr;
std::vector<Thread*> g_pool;
std::vector<Warp> g_warp_store;
std::set<std::string> g_warned;

// ---- context switch ---------------------------------------------------------------------------------------------
#if defined(__x86_64__) && !defined(EMU_UCONTEXT)
extern "C" void emu_switch(void** save_sp, void* load_sp);
extern "C" void emu_trampoline();
// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores the stack pointer in
// *save_sp, and restores the same from load_sp. A fresh fiber's stack is laid out so that the restore "returns" into
// emu_trampoline, which calls r13(r12).
asm(R"(
  .text
  .globl emu_switch
  .type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch, .-emu_switch
  .globl emu_trampoline
  .type emu_trampoline, @function
emu_trampoline:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size emu_trampoline, .-emu_trampoline
)");
void* g_sched_sp = nullptr;
inline void to_fiber(Thread* t) { emu_switch(&g_sched_sp, t->sp); }
inline void to_scheduler(Thread* t) { emu_switch(&t->sp, g_sched_sp); }
#else
ucontext_t g_sched_ctx;
std::vector<ucontext_t> g_ctxs;
inline ucontext_t* ctx_of(Thread* t) { return static_cast<ucontext_t*>(t->sp); }
inline void to_fiber(Thread* t) { swapcontext(&g_sched_ctx, ctx_of(t)); }
inline void to_scheduler(Thread* t) { swapcontext(ctx_of(t), &g_sched_ctx); }
#endif

void fiber_main(Thread* t) {
  for (;;) {
    g_body(g_ctx);
    t->state = DONE;
    to_scheduler(t);
  }
}
#if !defined(__x86_64__) || defined(EMU_UCONTEXT)
void fiber_entry(unsigned lo, unsigned hi) {
  fiber_main(reinterpret_cast<Thread*>((uintptr_t)lo | ((uintptr_t)hi << 32)));
}
#endif

constexpr size_t kStack = 256 * 1024;  // per fiber (virtual; pages are touched as used)

Thread* new_thread() {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void* m = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) fail("mmap of a fiber stack failed");
  mprotect(m, page, PROT_NONE);  // guard page: a stack overflow faults
  Thread* t = new Thread();
  t->stack = m;
  t->stack_size = kStack;
  t->state = DONE;
#if defined(__x86_64__) && !defined(EMU_UCONTEXT)
  uintptr_t top = (reinterpret_cast<uintptr_t>(m) + kStack - 64) & ~uintptr_t(15);
  uint64_t* sp = reinterpret_cast<uint64_t*>(top - 64);  // 16-byte aligned: rsp is after the 8 words are popped
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  sp[0] = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);
  sp[1] = 0;                                                   // r15
  sp[2] = 0;                                                   // r14
  sp[3] = reinterpret_cast<uint64_t>(&fiber_main);             // r13
  sp[4] = reinterpret_cast<uint64_t>(t);                       // r12
  sp[5] = 0;                                                   // rbx
  sp[6] = 0;                                                   // rbp
  sp[7] = reinterpret_cast<uint64_t>(&emu_trampoline);         // return address
  t->sp = sp;
#else
  ucontext_t* c = new ucontext_t();
  getcontext(c);
  c->uc_stack.ss_sp = static_cast<char*>(m) + page;
  c->uc_stack.ss_size = kStack - page;
  c->uc_link = nullptr;
  const uintptr_t p = reinterpret_cast<uintptr_t>(t);
  makecontext(c, reinterpret_cast<void (*)()>(&fiber_entry), 2, (unsigned)(p & 0xffffffffu), (unsigned)(p >> 32));
  t->sp = c;
#endif
  return t;
}

inline void resume(Thread* t) {
  g_cur = t;
  ++stats.switches;
  to_fiber(t);
}

inline void yield_as(int kind) {
  Thread* t = g_cur;
  t->state = WAITING;
  t->kind = kind;
  to_scheduler(t);
}

// ---- shared memory ----------------------------------------------------------------------------------------------
constexpr size_t kStaticMax = 48 * 1024, kSharedMax = 227 * 1024;
alignas(128) unsigned char g_arena[kSharedMax];
size_t g_dynamic = 0;   // the launch's dynamic shared memory: g_arena[0, g_dynamic)
size_t g_static = 0;    // static bytes allocated in this block
struct SharedVar {
  const void* site;
  size_t off, bytes;
};
std::vector<SharedVar> g_shared;
size_t g_shared_used = 0;

// The order in which warps, and the lanes of a warp, run between two syncs: SEEKR_EMU_ORDER=forward (the default),
// reverse, or random (reshuffled at every step, SEEKR_EMU_SEED); a kernel with a race (a shared-memory read not
// ordered by a barrier after the write it needs) may pass in one order and fail in another.
enum Order { FORWARD, REVERSE, RANDOM };
Order g_order = FORWARD;
uint64_t g_seed = 1;
unsigned g_warp_order[32], g_lane_order[32];
unsigned next_random(unsigned n) {
  g_seed ^= g_seed << 13;
  g_seed ^= g_seed >> 7;
  g_seed ^= g_seed << 17;
  return (unsigned)((g_seed >> 11) % n);
}
void order_into(unsigned* o, unsigned n) {
  for (unsigned i = 0; i < n; ++i) o[i] = g_order == REVERSE ? n - 1 - i : i;
  if (g_order == RANDOM)
    for (unsigned i = n; i > 1; --i) std::swap(o[i - 1], o[next_random(i)]);
}
inline void order_warps(unsigned nw) { order_into(g_warp_order, nw); }
inline void order_lanes(unsigned nl) {
  if (g_order != FORWARD) order_into(g_lane_order, nl);  // forward: the identity, set once
}

void run_block(unsigned n) {
  const unsigned bx = g_blockDim.x, by = g_blockDim.y;
  const unsigned nw = (n + 31) / 32;
  for (unsigned i = 0; i < n; ++i) {
    Thread* t = g_pool[i];
    t->state = READY;
    t->kind = NONE;
    t->idx = {i % bx, (i / bx) % by, i / (bx * by)};
    t->lane = i & 31;
    t->warp = i >> 5;
  }
  for (unsigned w = 0; w < nw; ++w) {
    g_warp_store[w].par = 0;
    g_warp_store[w].arrived_at[0] = g_warp_store[w].arrived_at[1] = 0;
    g_warp_store[w].lanes = n - 32 * w < 32 ? n - 32 * w : 32;
  }
  g_warps = g_warp_store.data();
  g_shared.clear();
  g_shared_used = (g_dynamic + 127) / 128 * 128;
  g_static = 0;
  std::memset(g_arena, 0xff, g_dynamic);
  ++stats.blocks;
  stats.threads += n;
  for (;;) {
    bool waiting = false, returned = false;
    order_warps(nw);
    for (unsigned wi = 0; wi < nw; ++wi) {
      const unsigned w = g_warp_order[wi];
      Thread** lanes = g_pool.data() + 32 * w;
      const unsigned nl = g_warp_store[w].lanes;
      for (;;) {
        unsigned at_warp = 0, at_block = 0, done = 0;
        order_lanes(nl);
        for (unsigned li = 0; li < nl; ++li) {
          Thread* t = lanes[g_lane_order[li]];
          if (t->state == READY) resume(t);
          if (t->state == DONE) ++done;
          else if (t->kind == WARP) ++at_warp;
          else ++at_block;
        }
        if (at_warp == nl) {  // the whole warp at a shuffle / __syncwarp: exchange done, run on
          for (unsigned l = 0; l < nl; ++l) lanes[l]->state = READY;
          g_warp_store[w].par ^= 1;
          ++stats.warp_syncs;
          continue;
        }
        if (at_warp)
          fail("kernel %s, block (%u, %u, %u), warp %u: %u lanes wait at a warp shuffle / __syncwarp while %u wait at "
               "__syncthreads and %u returned (divergent warp sync)",
               g_name, g_blockIdx.x, g_blockIdx.y, g_blockIdx.z, w, at_warp, at_block, done);
        waiting = waiting || at_block > 0;
        returned = returned || done > 0;
        break;
      }
    }
    if (!waiting) break;
    if (returned && g_warned.insert(g_name).second)
      fprintf(stderr, "emulate: warning: kernel %s: threads returned while others wait at __syncthreads\n", g_name);
    for (unsigned i = 0; i < n; ++i)
      if (g_pool[i]->state == WAITING) g_pool[i]->state = READY;
    ++stats.block_syncs;
  }
  g_cur = nullptr;
}

std::mutex g_launch_mu;

}  // namespace

void sync_block() { yield_as(BLOCK); }
void sync_warp() { yield_as(WARP); }

void* shared(const void* site, size_t bytes, size_t align) {
  for (const SharedVar& v : g_shared)
    if (v.site == site) return g_arena + v.off;
  if (align < 16) align = 16;
  const size_t off = (g_shared_used + align - 1) / align * align;
  g_static += bytes;
  if (g_static > kStaticMax)
    fail("kernel %s: %zu bytes of static shared memory, more than a block may have (%zu)", g_name, g_static, kStaticMax);
  if (off + bytes > kSharedMax)
    fail("kernel %s: %zu bytes of shared memory (%zu dynamic), more than a block may have (%zu)", g_name, off + bytes,
         g_dynamic, kSharedMax);
  std::memset(g_arena + off, 0xff, bytes);
  g_shared.push_back({site, off, bytes});
  g_shared_used = off + bytes;
  return g_arena + off;
}

void* dynamic_shared() { return g_arena; }

uint32_t shared_addr(const void* p, const char* what) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p), base = reinterpret_cast<uintptr_t>(g_arena);
  if (a < base || a >= base + g_shared_used)
    fail("kernel %s: %s: %p is not in the block's shared memory", g_name, what, p);
  return (uint32_t)(a - base);
}
void* shared_ptr(uint32_t addr, size_t bytes, const char* what) {
  if ((size_t)addr + bytes > g_shared_used)
    fail("kernel %s: %s: shared address %#x (+%zu bytes) is past the block's %zu bytes of shared memory", g_name, what,
         addr, bytes, g_shared_used);
  return g_arena + addr;
}

void fail(const char* fmt, ...) {
  fflush(stdout);
  va_list ap;
  va_start(ap, fmt);
  fputs("emulate: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fflush(stderr);
  std::_Exit(3);
}

void launch(const char* name, const void* kernel, Dim grid, Dim block, size_t smem, void (*body)(void*), void* ctx) {
  std::lock_guard<std::mutex> lk(g_launch_mu);
  if (smem > 48 * 1024) {  // the default limit; more needs cudaFuncAttributeMaxDynamicSharedMemorySize first
    const auto it = g_max_dynamic.find(kernel);
    if (it == g_max_dynamic.end() || it->second < smem)
      fail("kernel %s: launched with %zu bytes of dynamic shared memory, above 48 KiB, without "
           "cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize) of at least that (%zu)",
           name, smem, it == g_max_dynamic.end() ? (size_t)48 * 1024 : it->second);
  }
  const uint64_t n = (uint64_t)block.x * block.y * block.z;
  if (n == 0 || n > 1024 || block.z > 64)
    fail("kernel %s: block (%u, %u, %u) is not a valid CUDA block", name, block.x, block.y, block.z);
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || grid.x > 0x7fffffffu)
    fail("kernel %s: grid (%u, %u, %u) is not a valid CUDA grid", name, grid.x, grid.y, grid.z);
  static const bool configured = [] {
    const char* o = std::getenv("SEEKR_EMU_ORDER");
    const std::string v = o ? o : "forward";
    if (v == "reverse") g_order = REVERSE;
    else if (v == "random") g_order = RANDOM;
    else if (v != "forward") fail("SEEKR_EMU_ORDER=%s: forward, reverse or random", v.c_str());
    if (const char* sd = std::getenv("SEEKR_EMU_SEED")) g_seed = std::strtoull(sd, nullptr, 10) | 1;
    for (unsigned i = 0; i < 32; ++i) g_lane_order[i] = i;
    return true;
  }();
  (void)configured;
  ++launches;
  if (on_launch) on_launch(name);
  while (g_pool.size() < n) g_pool.push_back(new_thread());
  if (g_warp_store.size() < (n + 31) / 32) g_warp_store.resize((n + 31) / 32);
  if (smem > kSharedMax) fail("kernel %s: %zu bytes of dynamic shared memory, more than a block may have", name, smem);
  g_dynamic = smem;
  g_name = name;
  g_body = body;
  g_ctx = ctx;
  g_gridDim = grid;
  g_blockDim = block;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        g_blockIdx = {x, y, z};
        run_block((unsigned)n);
      }
  g_name = "";
}

}  // namespace emu

// ---- the CUDA runtime calls of the emulated files, on host memory ------------------------------------------------
extern "C" {
cudaError_t cudaMalloc(void** p, size_t n) {
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256 + 256);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaGetLastError() { return cudaSuccess; }
const char* cudaGetErrorName(cudaError_t) { return "cudaSuccess"; }
const char* cudaGetErrorString(cudaError_t) { return "no error (host emulation)"; }
cudaError_t cudaPeekAtLastError() { return cudaSuccess; }
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind) {
  std::memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind, cudaStream_t) {
  std::memmove(dst, src, n);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* p, int v, size_t n) {
  std::memset(p, v, n);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t) {
  std::memset(p, v, n);
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
// An H100's (sm_90) values for the attributes the kernel files ask for; others are an error.
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr attr, int) {
  switch (attr) {
    case cudaDevAttrComputeCapabilityMajor: *v = 9; break;
    case cudaDevAttrComputeCapabilityMinor: *v = 0; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = 227 * 1024; break;
    case cudaDevAttrMultiProcessorCount: *v = 132; break;
    default: emu::fail("cudaDeviceGetAttribute(%d): not emulated", (int)attr);
  }
  return cudaSuccess;
}
// The dynamic shared memory a kernel may launch with above the default 48 KiB (emu::launch checks it).
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) emu::fail("cudaFuncSetAttribute(%d): not emulated", (int)attr);
  if (value < 0 || value > 227 * 1024)
    emu::fail("cudaFuncSetAttribute: %d bytes of dynamic shared memory, more than a block may have", value);
  emu::g_max_dynamic[func] = (size_t)value;
  return cudaSuccess;
}
}

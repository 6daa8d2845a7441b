// The host emulator's runtime (emu.cpp), shared by the emulated kernel file (through prelude.h) and the test mains:
// a grid runs block after block on the calling host thread; a block's threads are fibers (user-mode stacks, switched
// only at __syncthreads, warp shuffles and __syncwarp, in a fixed order: deterministic), so each thread keeps its own
// registers (locals), a __syncthreads is a real barrier over the block and a shuffle a real exchange between the 32
// lanes of a warp. Needs no CUDA header: the mains include it for the launch hooks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>

namespace emu {

struct Dim {
  unsigned x = 1, y = 1, z = 1;
};
// One emulated GPU thread (a fiber).
struct Thread {
  Dim idx;               // threadIdx
  unsigned lane, warp;   // linear id % 32, / 32
  int state;             // scheduler state (emu.cpp)
  void* sp;              // saved stack pointer while switched out
  void* stack;           // base of its mapping
  size_t stack_size;
  int kind;              // what it waits for: 0 none, 1 __syncthreads, 2 a warp sync
};
// A warp's exchange buffers: lane l writes slot [par][l], the warp syncs, every lane reads its source slot; par flips
// at every warp sync, so the next exchange writes the other half while a slow lane may still read this one. A slot
// holds one lane's operands of the widest warp collective (mma.m16n8k16: 4 + 2 + 4 registers). arrived_at[par]
// counts the lanes that reached the current collective (ptx.h's emu_collective: the last one to arrive executes it).
constexpr size_t kSlot = 48;
struct Warp {
  unsigned par = 0;
  unsigned lanes = 32;
  unsigned arrived_at[2] = {0, 0};
  alignas(16) unsigned char buf[2][32][kSlot];
};

// The running thread, block and grid (valid inside a kernel).
extern Thread* g_cur;
extern Warp* g_warps;
extern Dim g_blockIdx, g_blockDim, g_gridDim;

// Yield until every thread of the block reaches a __syncthreads (threads that returned count as arrived, as on the
// GPU; a warning names the kernel once).
void sync_block();
// Yield until every lane of the current warp reaches a warp sync (a shuffle or __syncwarp); lanes that returned or wait
// at __syncthreads instead are an error (the kernels use full-mask shuffles only).
void sync_warp();
// Block shared memory: the storage of the __shared__ declaration `site` (a static tag per declaration and template
// instance) in the current block, allocated at its first use in the block and filled with 0xff bytes (NaN for floats),
// as shared memory holds garbage at the start of a block. At most 48 KiB per block (the static shared memory limit),
// and 227 KiB with the dynamic shared memory (an H100's most).
void* shared(const void* site, size_t bytes, size_t align);
// The shared-state-space address of a generic pointer into the block's shared memory (__cvta_generic_to_shared: its
// offset in the block's shared storage), and back (bytes at addr, within what the block has allocated); anything else
// is an error naming `what`.
uint32_t shared_addr(const void* p, const char* what);
void* shared_ptr(uint32_t addr, size_t bytes, const char* what);
[[noreturn]] void fail(const char* fmt, ...);

// The block's dynamic shared memory (extern __shared__ T v[]): the launch's smem bytes, before the static variables,
// filled with 0xff at the start of every block.
void* dynamic_shared();
// Runs kernel(ctx) for every thread of grid x block (block threads: any count up to 1024) with smem bytes of dynamic
// shared memory (above 48 KiB only after cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize)
// allowed at least that much, as on the GPU).
void launch(const char* name, const void* kernel, Dim grid, Dim block, size_t smem, void (*body)(void*), void* ctx);
// cudaFuncSetAttribute's dynamic shared memory limits, by kernel.
extern std::map<const void*, size_t> g_max_dynamic;

// Launch counting, so a test can say which kernels ran.
extern int launches;
extern std::function<void(const char*)> on_launch;
// Blocks and threads run, fiber switches, and kernels whose threads returned while others waited at __syncthreads.
struct Stats {
  uint64_t blocks = 0, threads = 0, switches = 0, block_syncs = 0, warp_syncs = 0;
};
extern Stats stats;

}  // namespace emu

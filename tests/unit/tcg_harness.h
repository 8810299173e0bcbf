// A small machine for software-CPU unit tests: guest RAM, stub I/O and interrupt controller, a
// 64-bit long-mode start state (identity-mapped first GiB), one HLT handler per exception vector
// (where the CPU halts says which exception it took), and host-code execution for tests that use
// the host CPU as the oracle.
#pragma once
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <memory>
#include <vector>

#include "cpu/cpu_state.h"
#include "cpu/cpuid.h"
#include "hw/clock.h"
#include "hw/guest_memory.h"
#include "tcg/tcg_accelerator.h"

namespace janus::test {

using Bytes = std::vector<uint8_t>;

struct StubIo : IoHandler {
  uint64_t pio_read(uint16_t, unsigned) override { return 0; }
  void pio_write(uint16_t, unsigned, uint64_t) override {}
  uint64_t mmio_read(uint64_t, unsigned) override { return ~0ull; }
  void mmio_write(uint64_t, unsigned, uint64_t) override {}
};
struct StubInterrupts : InterruptSource {
  bool interrupt_pending() override { return false; }
  int acknowledge_interrupt() override { return 0; }
  uint64_t cr8() override { return 0; }
  void set_cr8(uint64_t) override {}
};

constexpr uint64_t kHandlers = 0x3000;  // HLT for vector v at kHandlers + 16 * v
constexpr int kNoFault = -1;

class TcgMachine {
 public:
  GuestMemory mem{32ull << 20};
  StubIo io;
  StubInterrupts irq;
  CpuidTable cpuid = janus_cpuid_template();
  ManualClock clock;
  TcgAccelerator accel{cpuid};
  std::unique_ptr<Vcpu> vcpu;
  CpuState base;  // long mode, CPL 0, CR0.NE/MP, CR4.OSFXSR

  TcgMachine() {
    accel.map_memory(mem);
    vcpu = accel.create_vcpu(0, VcpuContext{mem, io, irq, cpuid, clock});
    put_value<uint64_t>(0x60000, 0);
    put_value<uint64_t>(0x60008, 0x00af9b000000ffffull);
    put_value<uint64_t>(0x60010, 0x00cf93000000ffffull);
    put_value<uint64_t>(0x80000, 0x81000 | 7);
    put_value<uint64_t>(0x81000, 0x82000 | 7);
    for (uint64_t i = 0; i < 512; ++i) put_value<uint64_t>(0x82000 + 8 * i, (i << 21) | 0x87);
    for (unsigned v = 0; v < 32; ++v) {
      uint64_t h = kHandlers + 16 * v;
      put_value<uint8_t>(h, 0xf4);
      put_value<uint64_t>(0x61000 + 16 * v, (h & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | (((h >> 16) & 0xffff) << 48));
      put_value<uint64_t>(0x61000 + 16 * v + 8, 0);
    }
    base = reset_cpu_state();
    base.cr0 = cr0::PE | cr0::PG | cr0::ET | cr0::MP | cr0::NE;
    base.cr3 = 0x80000;
    base.cr4 = cr4::PAE | cr4::OSFXSR | cr4::OSXMMEXCPT;
    base.efer = efer::LME | efer::LMA;
    base.seg[CS] = Segment{0x08, 0, 0xffffffff, 0xa09b, false};
    for (int i : {DS, ES, SS, FS, GS}) base.seg[i] = Segment{0x10, 0, 0xffffffff, 0xc093, false};
    base.gdtr = {0x60000, 23};
    base.idtr = {0x61000, 0x1ff};
    base.gpr[RSP] = 0x90000;
  }
  void put(uint64_t gpa, const Bytes& b) { ASSERT_TRUE(mem.write_phys(gpa, b.data(), b.size())); }
  // Puts code at a fresh address (from 0x400000) and returns it: writes by the test bypass the
  // software CPU, so code must never be rewritten where a block may already be translated.
  uint64_t place(const Bytes& code) {
    uint64_t at = next_code_;
    next_code_ += (code.size() + 0xff) & ~uint64_t(0xff);
    put(at, code);
    return at;
  }
  void put_bytes(uint64_t gpa, const void* p, size_t n) { ASSERT_TRUE(mem.write_phys(gpa, p, n)); }
  void get_bytes(uint64_t gpa, void* p, size_t n) { ASSERT_TRUE(mem.read_phys(gpa, p, n)); }
  template <typename T> void put_value(uint64_t gpa, T v) { mem.store(gpa, v); }
  template <typename T> T get(uint64_t gpa) { return mem.load<T>(gpa); }

  // Runs from `s` until HLT; returns the exception vector taken, or kNoFault.
  int run(const CpuState& s, CpuState& out) {
    vcpu->set_state(s);
    VcpuExit e = vcpu->run(kNever);
    EXPECT_EQ(e.reason, VcpuExit::Reason::kHalted) << e.detail;
    out = vcpu->get_state();
    uint64_t at = out.rip - 1;
    if (at >= kHandlers && at < kHandlers + 32 * 16) return int((at - kHandlers) / 16);
    return kNoFault;
  }

 private:
  uint64_t next_code_ = 0x400000;
};

// Executable host memory for running test bytes natively (the code must end in RET).
class HostCode {
 public:
  HostCode() { mem_ = static_cast<uint8_t*>(mmap(nullptr, kSize, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)); }
  ~HostCode() { munmap(mem_, kSize); }
  bool ok() const { return mem_ != MAP_FAILED; }
  // Calls the code as void f(void* rdi, void* rsi).
  void run(const Bytes& code, void* rdi, void* rsi = nullptr) {
    std::memcpy(mem_, code.data(), code.size());
    reinterpret_cast<void (*)(void*, void*)>(mem_)(rdi, rsi);
  }

 private:
  static constexpr size_t kSize = 4096;
  uint8_t* mem_;
};

}  // namespace janus::test

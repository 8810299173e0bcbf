#include "accel/cross/fuzz_runner.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "accel/kvm/kvm_host_probe.h"
#include "tcg/tcg_accelerator.h"
#include "tcg/tcg_vcpu.h"
#include "tcg/x86_decoder.h"

namespace janus::cross {

namespace L = fuzz_layout;

// Ports 0x70-0x7f at CPL0: reads return a value derived from the port and the number of reads.
// The end marker's write is noted (the shrinker stops a run there).
class FuzzRunner::PortDevice final : public IoHandler {
 public:
  uint64_t pio_read(uint16_t port, unsigned size) override { return (0x9e3779b9u * (port + 1) + ++reads_) & 0xffffffffu; }
  void pio_write(uint16_t port, unsigned, uint64_t) override { marker |= port == L::kMarkerPort; }
  uint64_t mmio_read(uint64_t, unsigned) override { return ~0ull; }
  void mmio_write(uint64_t gpa, unsigned, uint64_t) override { marker |= gpa == L::kMarkerMmio; }
  bool marker = false;

 private:
  uint32_t reads_ = 0;
};

class FuzzRunner::NoInterrupts final : public InterruptSource {
 public:
  bool interrupt_pending() override { return false; }
  int acknowledge_interrupt() override { return -1; }
  uint64_t cr8() override { return tpr_; }
  void set_cr8(uint64_t v) override { tpr_ = v; }

 private:
  uint64_t tpr_ = 0;
};

FuzzRunner::FuzzRunner()
    : leader_memory_(std::make_unique<GuestMemory>(L::kRamBytes)),
      follower_memory_(clone_guest_memory(*leader_memory_)),
      kvm_(std::make_unique<KvmAccelerator>(janus_cpuid_template())),
      device_(std::make_unique<PortDevice>()),
      irq_(std::make_unique<NoInterrupts>()),
      leader_io_(std::make_unique<RecordingIo>(*device_)),
      leader_irq_(std::make_unique<LeaderInterrupts>(*irq_)),
      follower_irq_(std::make_unique<FollowerInterrupts>(*irq_)) {
  kvm_->map_memory(*leader_memory_);
  leader_ = kvm_->create_vcpu(0, VcpuContext{*leader_memory_, *leader_io_, *leader_irq_, kvm_->cpuid(), clock_});
  kernel_native_ = probe_kvm_host().runs_kernel_mode_natively;
}

FuzzRunner::~FuzzRunner() = default;

// This host's KVM, when it single-steps a HLT (the case's final HLT, or a handler's), reports
// the debug exit and keeps the halt: the next KVM_RUN - the next case's first instruction, from
// a new state - then exits with KVM_EXIT_HLT before delivering what that instruction raised
// (seen as "#DE not delivered, vCPU halted on the DIV", every second case). Running one real HLT
// without single-stepping before each case consumes it, so every case starts from the same KVM.
void FuzzRunner::flush_leader_halt(const FuzzCase& c) {
  CpuState h = c.initial;
  if (code_bits(c.mode) == 16 && !is_cpl3(c.mode)) {  // real mode: CS 0 reaches the handler
    h.seg[CS].selector = 0;
    h.seg[CS].base = 0;
  } else if (is_cpl3(c.mode)) {  // long mode: the kernel's code and stack
    h.seg[CS] = {0x08, 0, 0xffffffff, 0xa09b, false};
    h.seg[SS] = {0x10, 0, 0xffffffff, 0xc093, false};
    h.gpr[RSP] = L::kKernelStackTop;
    h.rflags &= ~rflags::IF;
  }
  h.rip = L::kHandler;
  h.halted = false;
  leader_->set_single_step(false);
  leader_->set_state(h);
  VcpuExit e = leader_->run(clock_.now_ns() + 100'000'000);
  if (e.reason != VcpuExit::Reason::kHalted)
    throw std::runtime_error("janus-fuzz: KVM did not halt on the flush HLT: " + e.detail);
}

// install_case() rewrites only the environment and the case's pages; a case may also store
// elsewhere (e.g. a 16-bit address [bx+disp8] reaches guest-physical 0x400-0x4ff in flat 32-bit
// code). After a run that agreed both RAMs are equal; after one that did not (the follower ran on
// past the leader's stop, or KVM failed) they are not, and that difference would be reported again
// by every later case's full scan. The follower's RAM is therefore made the leader's again.
void FuzzRunner::resync_follower_memory() {
  for (const MemoryRegion& r : follower_memory_->regions()) {
    if (r.readonly) continue;
    const uint8_t* theirs = leader_memory_->host_ptr(r.gpa, r.size);
    if (theirs) std::memcpy(r.host, theirs, r.size);
  }
  memories_equal_ = true;
}

FuzzOutcome FuzzRunner::run(const FuzzCase& c, bool stop_at_marker) {
  device_->marker = false;
  if (!memories_equal_) resync_follower_memory();
  install_case(*leader_memory_, c);
  flush_leader_halt(c);
  install_case(*follower_memory_, c);
  leader_io_->take();
  leader_irq_->take();
  // A new software CPU per case: its translation cache must not see the previous case's code.
  TcgAccelerator tcg(kvm_->cpuid());
  tcg.map_memory(*follower_memory_);
  std::unique_ptr<Vcpu> follower =
      tcg.create_vcpu(0, VcpuContext{*follower_memory_, follower_io_, *follower_irq_, kvm_->cpuid(), follower_clock_});
  if (test_fault_at_)
    if (auto* t = dynamic_cast<tcg::TcgVcpu*>(follower.get())) t->inject_test_fault(test_fault_at_);
  CrossChecker checker(CrossParts{*leader_, *follower, *leader_memory_, *follower_memory_, *leader_io_, follower_io_,
                                  *leader_irq_, *follower_irq_, clock_, kernel_native_});
  checker.set_state(c.initial);
  checker.set_explain_host_errata(explain_errata_);

  FuzzOutcome out;
  const uint64_t limit = c.code.size() + 16;  // no backward branches: every case ends
  while (checker.instructions() < limit && !(stop_at_marker && device_->marker)) {
    CrossChecker::Result r = checker.step();
    if (r.status == CrossChecker::Status::kAgreed) continue;
    if (r.status == CrossChecker::Status::kLeaderFailed) {
      out.kind = FuzzOutcome::Kind::kLeaderFailed;
      out.detail = r.detail;
      out.instructions = checker.instructions();
      out.explained = checker.explained();
      memories_equal_ = false;
      return out;
    }
    break;  // halted, shut down or diverged
  }
  checker.check_all_memory();
  out.instructions = checker.instructions();
  out.explained = checker.explained();
  out.final_state = checker.leader_state();
  if (checker.divergence()) {
    memories_equal_ = false;
    out.kind = FuzzOutcome::Kind::kDiverged;
    out.divergence = checker.divergence();
  }
  return out;
}

namespace {

std::vector<std::string> field_names(const Divergence& d) {
  std::vector<std::string> names;
  for (const FieldDiff& f : d.fields) names.push_back(f.field);
  if (d.memory) names.push_back("memory");
  if (!d.io.empty()) names.push_back("io");
  if (!d.exits.empty()) names.push_back("exits");
  return names;
}

}  // namespace

// Instruction start offsets in the case's body (the straight-line order the generator wrote).
std::vector<size_t> FuzzRunner::boundaries(const FuzzCase& c) {
  const unsigned bits = code_bits(c.mode);
  const tcg::CodeSize cs = bits == 64 ? tcg::CodeSize::k64 : bits == 32 ? tcg::CodeSize::k32 : tcg::CodeSize::k16;
  std::vector<size_t> at;
  size_t off = 0;
  while (off < c.body_bytes) {
    at.push_back(off);
    tcg::DecodedInsn d = tcg::decode_x86(std::span<const uint8_t>(c.code.data() + off, c.body_bytes - off), cs);
    if (d.status != tcg::DecodeStatus::kOk || d.length == 0) break;
    off += d.length;
  }
  at.push_back(c.body_bytes);
  return at;
}

// Whether the body may be cut after its first `n` instructions: not between a forward branch and
// the instruction it jumps over (the branch would land inside the end marker and run its bytes as
// other instructions - a shrinker artefact, not the case).
bool FuzzRunner::can_cut(const FuzzCase& c, const std::vector<size_t>& at, size_t n) {
  const unsigned bits = code_bits(c.mode);
  const tcg::CodeSize cs = bits == 64 ? tcg::CodeSize::k64 : bits == 32 ? tcg::CodeSize::k32 : tcg::CodeSize::k16;
  for (size_t i = 0; i < n && i + 1 < at.size(); ++i) {
    tcg::DecodedInsn d = tcg::decode_x86(std::span<const uint8_t>(c.code.data() + at[i], at[i + 1] - at[i]), cs);
    if (d.status != tcg::DecodeStatus::kOk || d.map != tcg::OpcodeMap::kPrimary) continue;
    const uint8_t o = d.opcode;
    if (!((o >= 0x70 && o <= 0x7f) || o == 0xeb || (o >= 0xe0 && o <= 0xe3))) continue;
    if (int64_t(at[i + 1]) + int64_t(int8_t(uint8_t(d.imm))) > int64_t(at[n])) return false;
  }
  return true;
}

// The first `n` instructions of the body, then the end marker.
FuzzCase FuzzRunner::prefix(const FuzzCase& c, const std::vector<size_t>& at, size_t n) {
  FuzzCase p = c;
  p.code.assign(c.code.begin(), c.code.begin() + at[n]);
  p.body_bytes = at[n];
  append_end_marker(p.code, c.mode);
  p.instructions = unsigned(n);
  return p;
}

ShrunkCase FuzzRunner::shrink(const FuzzCase& c, const Divergence& d) {
  ShrunkCase best;
  best.c = c;
  best.outcome.kind = FuzzOutcome::Kind::kDiverged;
  best.outcome.divergence = d;
  const std::vector<size_t> at = boundaries(c);
  // 1. The shortest prefix that diverges: its last instruction is the culprit.
  size_t k = 0;
  for (size_t n = 1; n + 1 < at.size() + 1 && n < at.size(); ++n) {
    if (!can_cut(c, at, n)) continue;
    FuzzOutcome o = run(prefix(c, at, n), true);
    if (o.kind == FuzzOutcome::Kind::kDiverged) {
      k = n;
      best = {prefix(c, at, n), o, false, {}, 0};
      break;
    }
  }
  if (k == 0) return best;
  best.culprit.assign(c.code.begin() + at[k - 1], c.code.begin() + at[k]);
  best.culprit_rip = (code_bits(c.mode) == 16 ? 0 : L::kCode) + at[k - 1];
  const std::vector<uint8_t> culprit = best.culprit;
  const uint64_t culprit_rip = best.culprit_rip;
  const std::vector<std::string> want = field_names(*best.outcome.divergence);
  // 2. The state and memory just before instruction k: run k-1 instructions to the marker (which
  //    changes nothing but RIP), then start there with only instruction k and the marker.
  if (!can_cut(c, at, k - 1)) return best;  // the culprit is the instruction a branch jumps over
  FuzzOutcome pre = run(prefix(c, at, k - 1), true);
  if (pre.kind != FuzzOutcome::Kind::kAgreed) return best;
  FuzzCase one = prefix(c, at, k);
  one.initial = pre.final_state;
  one.initial.rip = (code_bits(c.mode) == 16 ? 0 : L::kCode) + at[k - 1];
  // KVM may run past the marker's OUT into the HLT behind it (see CrossChecker::kIoOverrun): the
  // state that matters is the one before the marker, which never halts.
  one.initial.halted = false;
  one.initial.events = PendingEvents{};
  leader_memory_->read_phys(L::kData, one.data.data(), one.data.size());
  leader_memory_->read_phys(L::kStack, one.stack.data(), one.stack.size());
  one.instructions = 1;
  auto still_diverges = [&](const FuzzCase& t, FuzzOutcome& o) {
    o = run(t, true);
    return o.kind == FuzzOutcome::Kind::kDiverged && field_names(*o.divergence) == want;
  };
  FuzzOutcome o;
  if (!still_diverges(one, o)) return best;
  best = {one, o, true, culprit, culprit_rip};
  // 3. Inputs that do not matter: registers become 0, arithmetic flags clear.
  for (int r = 0; r < 16; ++r) {
    if (r == RBX || r == RSP || one.initial.gpr[r] == 0) continue;
    FuzzCase t = one;
    t.initial.gpr[r] = 0;
    if (still_diverges(t, o)) { one = t; best = {one, o, true, culprit, culprit_rip}; }
  }
  FuzzCase t = one;
  t.initial.rflags &= rflags::IF | rflags::FIXED1 | rflags::DF;
  if (t.initial.rflags != one.initial.rflags && still_diverges(t, o)) { one = t; best = {one, o, true, culprit, culprit_rip}; }
  return best;
}

}  // namespace janus::cross

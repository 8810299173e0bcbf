#include "accel/cross/cross_checker.h"

#include "accel/cross/extended_state.h"
#include "accel/cross/host_errata.h"
#include "accel/cross/rep_string.h"
#include "accel/cross/return_privilege.h"

#include <algorithm>
#include <deque>

#include "accel/kvm/kvm_vcpu.h"
#include "cpu/guest_virtual_memory.h"
#include "hw/clock.h"
#include "hw/guest_memory_access.h"
#include "cpu/paging.h"
#include "tcg/x86_decoder.h"

namespace janus::cross {

namespace {

// RDTSC, RDTSCP and RDMSR of IA32_TSC read the time stamp counter, which each backend keeps
// from its own clock: the follower is given the leader's value (it reads it from a frozen clock).
bool reads_tsc(const tcg::DecodedInsn& d, const CpuState& s) {
  if (d.status != tcg::DecodeStatus::kOk || d.map != tcg::OpcodeMap::k0F) return false;
  if (d.opcode == 0x31) return true;
  if (d.opcode == 0x01 && d.modrm == 0xf9) return true;
  return d.opcode == 0x32 && uint32_t(s.gpr[RCX]) == 0x10;
}

tcg::CodeSize code_size_of(const CpuState& s) {
  if (s.in_64bit_code()) return tcg::CodeSize::k64;
  if (s.protected_mode() && !s.v86_mode() && s.seg[CS].db()) return tcg::CodeSize::k32;
  return tcg::CodeSize::k16;
}

tcg::DecodedInsn decode(const ExecutedInsn& e) {
  tcg::CodeSize cs = e.code_bits == 64 ? tcg::CodeSize::k64 : e.code_bits == 32 ? tcg::CodeSize::k32 : tcg::CodeSize::k16;
  return tcg::decode_x86(std::span<const uint8_t>(e.bytes.data(), e.length), cs);
}

// Walks the page tables without setting accessed/dirty bits (the cross-check only looks).
class ReadOnlyAccess final : public PhysicalMemoryAccess {
 public:
  explicit ReadOnlyAccess(GuestMemory& m) : inner_(m) {}
  bool read_u32(uint64_t gpa, uint32_t& v) override { return inner_.read_u32(gpa, v); }
  bool read_u64(uint64_t gpa, uint64_t& v) override { return inner_.read_u64(gpa, v); }
  bool write_u32(uint64_t, uint32_t) override { return true; }
  bool write_u64(uint64_t, uint64_t) override { return true; }
  bool read_bytes(uint64_t gpa, void* out, size_t len) override { return inner_.read_bytes(gpa, out, len); }

 private:
  GuestMemoryAccess inner_;
};

// Guest-physical address of linear address `linear` as `s` sees it (nullopt if unmapped/not RAM).
std::optional<uint64_t> physical(GuestMemory& memory, const CpuState& s, uint64_t linear) {
  ReadOnlyAccess view(memory);
  PagingContext ctx = PagingContext::from(s, false);
  ctx.ac_flag = true;
  Translation t = translate(view, ctx, linear, AccessKind::kRead);
  if (!t.ok || !memory.host_ptr(t.gpa, 1)) return std::nullopt;
  return t.gpa;
}

}  // namespace

CrossChecker::CrossChecker(CrossParts parts, uint64_t full_memory_check_interval)
    : p_(parts), leader_kvm_(dynamic_cast<KvmVcpu*>(&parts.leader)), full_interval_(full_memory_check_interval),
      tracker_(std::make_unique<WriteTracker>(parts.follower_memory)) {}

CrossChecker::~CrossChecker() { p_.leader_io.on_access = nullptr; }

void CrossChecker::set_state(const CpuState& state) {
  p_.leader.set_state(state);
  p_.follower.set_state(state);
  read_leader_whole(leader_state_);
  agreed_ = true;
  // Re-applied after every state change: KVM folds its single-step flag into the RFLAGS it loads.
  leader_stepping_ = leader_can_single_step(leader_state_);
  p_.leader.set_single_step(leader_stepping_);
  p_.follower.set_single_step(true);
}

// Under the paravirtual KVM (kvm_pvm) 64-bit CPL3 code runs on the CPU as a host user process and
// a single-step trap there is delivered into the guest as #DB instead of exiting to Janus; CPL0,
// real-mode and compatibility-mode CPL3 code run in the host kernel's emulator, which
// single-steps correctly (see runs_natively_in_user_mode).
// IRET, SYSRET, SYSEXIT and far RET can drop to CPL3, where a single-step trap would go into the
// guest (see leader_can_single_step): the leader runs them without single-stepping. A far RET or
// IRET whose popped CS has RPL 0 stays in the kernel and is single-stepped like any other
// instruction (run without single-stepping, KVM would go on to its next exit - with interrupts
// only at its start and, at CPL0, a deadline that can stop it inside a long REP string).
bool CrossChecker::may_enter_user_mode(const CpuState& s) {
  if (p_.leader_kernel_native || s.cpl() == 3 || !s.protected_mode()) return false;
  ExecutedInsn e = fetch(s, p_.leader_memory);
  tcg::DecodedInsn d = tcg::decode_x86(std::span<const uint8_t>(e.bytes.data(), e.length), code_size_of(s));
  if (d.status != tcg::DecodeStatus::kOk) return false;
  if (d.map == tcg::OpcodeMap::kPrimary && (d.opcode == 0xcf || d.opcode == 0xca || d.opcode == 0xcb)) {
    std::optional<unsigned> rpl = return_privilege(d, s, p_.leader_memory);
    return !rpl || *rpl == 3;
  }
  return d.map == tcg::OpcodeMap::k0F && (d.opcode == 0x07 || d.opcode == 0x35);
}

bool CrossChecker::last_was_hlt() const {
  tcg::DecodedInsn d = decode(ring_[(ring_count_ - 1) % kHistory]);
  return d.status == tcg::DecodeStatus::kOk && d.map == tcg::OpcodeMap::kPrimary && d.opcode == 0xf4;
}

// Under the paravirtual KVM only 64-bit user code runs on the CPU. Compatibility-mode (16/32-bit)
// user code is executed by the host kernel's emulator like CPL0 code: it has the emulator's gaps
// (DAA/AAA/AAS raise #UD there) and its errata (AAM/AAD flags, ROL/ROR imm8 OF, seen by
// `janus-fuzz --modes 32-cpl3,16-cpl3`), and single-stepping it exits to Janus correctly.
bool CrossChecker::runs_natively_in_user_mode(const CpuState& s) const {
  return !p_.leader_kernel_native && s.protected_mode() && !s.v86_mode() && s.cpl() == 3 &&
         !(s.long_mode_active() && !s.in_64bit_code());
}

bool CrossChecker::leader_can_single_step(const CpuState& s) const { return !runs_natively_in_user_mode(s); }

ExecutedInsn CrossChecker::fetch(const CpuState& s, GuestMemory& memory) {
  ExecutedInsn e;
  e.step = steps_ + 1;
  e.rip = s.rip;
  e.cs = s.seg[CS].selector;
  e.linear_rip = linear_rip(s);
  tcg::CodeSize cs = code_size_of(s);
  e.code_bits = cs == tcg::CodeSize::k64 ? 64 : cs == tcg::CodeSize::k32 ? 32 : 16;
  e.cpl = uint8_t(s.cpl());
  GuestMemoryAccess mem(memory);
  // Up to 15 bytes, fewer where the next page is not mapped.
  size_t len = 15;
  uint64_t to_page_end = 4096 - (e.linear_rip & 4095);
  if (!read_linear(mem, s, e.linear_rip, e.bytes.data(), len)) {
    len = std::min<uint64_t>(15, to_page_end);
    if (!read_linear(mem, s, e.linear_rip, e.bytes.data(), len)) len = 0;
  }
  e.length = uint8_t(len);
  return e;
}

bool CrossChecker::leader_emulated(const CpuState& s) const {
  return !p_.leader_kernel_native && !runs_natively_in_user_mode(s);
}

std::string CrossChecker::leader_execution(const CpuState& s) const {
  if (p_.leader_kernel_native) return "natively (hardware virtualization)";
  if (runs_natively_in_user_mode(s)) return "natively (64-bit CPL3 under the paravirtual KVM)";
  if (s.protected_mode() && !s.v86_mode() && s.cpl() == 3)
    return "by the host kernel's instruction emulator (compatibility-mode CPL3 under the paravirtual KVM)";
  return "by the host kernel's instruction emulator (CPL0 or real mode under the paravirtual KVM)";
}

std::vector<ExecutedInsn> CrossChecker::history() const {
  std::vector<ExecutedInsn> out;
  size_t n = std::min(ring_count_, kHistory);
  for (size_t i = ring_count_ - n; i < ring_count_; ++i) out.push_back(ring_[i % kHistory]);
  return out;
}

void CrossChecker::diverge(Divergence d, const CpuState& before, const CpuState& leader, const CpuState& follower) {
  d.insn = ring_[(ring_count_ - 1) % kHistory];
  d.step = d.insn.step;
  d.mode = describe_mode(before);
  d.cpl = before.cpl();
  d.leader_execution = leader_execution(before);
  d.history = history();
  d.before = before;
  d.leader_after = leader;
  d.follower_after = follower;
  divergence_ = std::move(d);
}

CrossChecker::Result CrossChecker::step(uint64_t deadline_ns) {
  if (divergence_) return {Status::kDiverged, {}};
  const CpuState before = leader_state_;
  extended_known_at_ = leader_whole_ ? steps_ : whole_read_at_;
  agreed_ = false;
  bool can_step = leader_can_single_step(before) && !may_enter_user_mode(before);
  if (can_step != leader_stepping_) {
    p_.leader.set_single_step(can_step);
    leader_stepping_ = can_step;
  }
  return can_step ? lockstep(before) : stretch(before, deadline_ns);
}

// Compares what both ended with; records a divergence or moves on.
CrossChecker::Result CrossChecker::finish(Divergence& d, const CpuState& before, CpuState leader,
                                         const CpuState& follower, bool leader_down, const VcpuExit& fe,
                                         const CpuState* last_before) {
  using Reason = VcpuExit::Reason;
  // KVM quirk: single-stepping over HLT reports the debug exit and drops the halt (RIP is past
  // the HLT, the vCPU runnable). The follower, which did halt, is right: halt the leader too.
  if (follower.halted && !leader.halted && ring_count_ && last_was_hlt()) {
    if (!leader_whole_) read_leader_whole(leader);  // set_state writes all of it back
    CpuState halted = leader;
    halted.halted = true;
    if (normalise_for_compare(halted) == normalise_for_compare(follower)) {
      p_.leader.set_state(halted);
      return finish(d, before, halted, follower, leader_down, fe, last_before);
    }
  }
  const std::optional<uint64_t> cr8_written = p_.follower_irq.take_cr8_write();
  auto field_differences = [&] {
    std::vector<FieldDiff> fields = diff_states(normalise_for_compare(leader), normalise_for_compare(follower));
    if (cr8_written && *cr8_written != (leader.cr8 & 0xf))
      fields.push_back({"cr8 (written)", std::to_string(leader.cr8), std::to_string(*cr8_written)});
    return fields;
  };
  d.fields = field_differences();
  p_.follower_irq.take_deadline_write();
  if (!p_.follower_io.mismatch().empty()) d.io = p_.follower_io.mismatch();
  else if (!p_.follower_io.remaining().empty())
    d.io = "leader made " + describe(p_.follower_io.remaining().front()) + ", the follower did not";
  if (p_.follower_irq.untaken().interrupt)
    d.io += (d.io.empty() ? "" : "; ") + std::string("the leader took interrupt vector ") +
            std::to_string(*p_.follower_irq.untaken().interrupt) + " here, the follower did not";
  if (p_.follower_irq.untaken().nmi) d.io += (d.io.empty() ? "" : "; ") + std::string("the follower did not take the NMI");
  const bool follower_down = fe.reason == Reason::kShutdown;
  if (leader_down != follower_down || fe.reason == Reason::kFailed)
    d.exits = std::string("leader ") + (leader_down ? "shut down (triple fault)" : "continued") + ", follower " +
              (fe.reason == Reason::kFailed ? "failed: " + fe.detail : follower_down ? "shut down (triple fault)" : "continued");
  d.memory = tracker_->check_step(p_.leader_memory);
  if (d.memory) d.memory_note = "in a page the follower wrote during this step or shortly before";
  // Read in part, the leader's state is exact unless a change to its extended part escaped the
  // rule (extended_state.h): any difference is judged on the whole state.
  if (!leader_whole_ && (!d.fields.empty() || d.memory || !d.io.empty() || !d.exits.empty())) {
    read_leader_whole(leader);
    d.fields = field_differences();
  }
  if (!d.fields.empty()) d.state_note = extended_state_note(d.fields);
  // A host erratum can only be recognised where the leader single-stepped; `last_before` is the
  // state before the step's last instruction (the follower's, when it caught up with KVM).
  if (!d.fields.empty() && ring_count_ && last_before) {
    const ExecutedInsn& insn = ring_[(ring_count_ - 1) % kHistory];
    StepDifference sd{insn.bytes.data(), insn.length, last_before, &leader, &follower, &d.fields,
                      d.memory.has_value() || !d.io.empty() || !d.exits.empty()};
    if (const HostErratum* e = explain_by_host_erratum(sd, explain_errata_ && leader_emulated(before))) {
      // The follower has the hardware's value: bring the leader in line and go on.
      ++explained_[e->name];
      if (!first_explained_.count(e->name)) first_explained_[e->name] = insn;
      CpuState fixed = leader;
      for (int r = 0; r < 16; ++r) fixed.gpr[r] = follower.gpr[r];
      fixed.rflags = (follower.rflags & ~rflags::RF) | (leader.rflags & rflags::RF);
      fixed.events.interrupt_shadow = follower.events.interrupt_shadow;
      p_.leader.set_state(fixed);
      p_.leader.set_single_step(leader_stepping_);
      leader_state_ = fixed;
      agreed_ = true;
      if (steps_ - last_full_check_ >= full_interval_ && !check_all_memory()) return {Status::kDiverged, {}};
      return {fixed.halted ? Status::kHalted : Status::kAgreed, {}};
    }
  }
  if (!d.fields.empty() || d.memory || !d.io.empty() || !d.exits.empty()) {
    diverge(std::move(d), before, leader, follower);
    return {Status::kDiverged, {}};
  }
  leader_state_ = leader;
  agreed_ = true;
  if (steps_ - last_full_check_ >= full_interval_ && !check_all_memory()) return {Status::kDiverged, {}};
  if (leader_down) return {Status::kShutdown, {}};
  if (leader.halted) return {Status::kHalted, {}};
  return {Status::kAgreed, {}};
}

CrossChecker::Result CrossChecker::lockstep(const CpuState& before) {
  using Reason = VcpuExit::Reason;
  ExecutedInsn insn = fetch(before, p_.leader_memory);
  ring_[ring_count_++ % kHistory] = insn;
  tcg::DecodedInsn decoded = tcg::decode_x86(std::span<const uint8_t>(insn.bytes.data(), insn.length),
                                             code_size_of(before));
  p_.leader_irq.unlimit();
  p_.leader_io.on_access = nullptr;

  // --- the leader: one instruction (or, for REP strings, every iteration of one) ---
  VcpuExit le = p_.leader.run(kNever);
  if (le.reason == Reason::kFailed) return {Status::kLeaderFailed, le.detail};
  CpuState leader = read_leader_core(before);
  if (is_rep_string(decoded)) {
    for (int i = 0; i < (1 << 20) && le.reason == Reason::kSingleStep && leader.rip == before.rip &&
                    !leader.halted;
         ++i) {
      le = p_.leader.run(kNever);
      if (le.reason == Reason::kFailed) return {Status::kLeaderFailed, le.detail};
      leader = read_leader_core(leader);
    }
  }
  // An exception KVM raised but has not delivered yet (it is delivered on the next entry): the
  // software CPU delivers at once, so let the leader deliver it too.
  bool delivered_late = false;
  for (int i = 0; i < 2 && le.reason == Reason::kSingleStep && leader.events.exception_pending; ++i) {
    le = p_.leader.run(kNever);
    if (le.reason == Reason::kFailed) return {Status::kLeaderFailed, le.detail};
    leader = read_leader_core(leader);
    delivered_late = true;
  }
  StepEvents events = p_.leader_irq.take();

  // --- the follower: the same instruction, the same I/O values and interrupts ---
  p_.follower_io.load(p_.leader_io.take());
  p_.follower_irq.offer(events);
  if (reads_tsc(decoded, before) && leader.rip != before.rip) {
    CpuState f = p_.follower.get_state();
    f.tsc = (leader.gpr[RDX] << 32) | (leader.gpr[RAX] & 0xffffffffull);
    p_.follower.set_state(f);
  }
  // The leader's REP loop above is bounded: if it is still inside the instruction, the follower
  // does exactly as many iterations (the next step goes on with the rest).
  const bool leader_mid_rep = is_rep_string(decoded) && leader.rip == before.rip &&
                              leader.seg[CS] == before.seg[CS] && !leader.events.exception_pending &&
                              rep_count(decoded, leader) != 0 && rep_count(decoded, leader) < rep_count(decoded, before);
  VcpuExit fe = leader_mid_rep ? run_rep_iterations(p_.follower, decoded, rep_count(decoded, before) - rep_count(decoded, leader))
                               : p_.follower.run(kNever);
  CpuState follower = p_.follower.get_state();
  for (int i = 0; i < (1 << 12) && fe.reason == Reason::kSingleStep && follower.rip == before.rip &&
                  leader.rip != before.rip && is_rep_string(decoded);
       ++i) {
    fe = p_.follower.run(kNever);
    follower = p_.follower.get_state();
  }
  // A triple fault: the software CPU reports it on the run after the faulting step.
  if (le.reason == Reason::kShutdown && fe.reason == Reason::kSingleStep) fe = p_.follower.run(kNever);

  if (!(before.halted && leader.halted)) ++steps_;  // a halted CPU that stayed halted ran nothing
  else --ring_count_;
  // KVM finishes an emulated port/MMIO instruction on the next entry and does not stop for the
  // single-step there: it may run up to the next exit (typically one more instruction, or into a
  // HLT). The follower catches up by single steps, each one counted and compared at the end.
  // Likewise KVM's emulator may run the first instruction of an exception handler in the same
  // step as the delivery. Either way the states must meet exactly within a few follower steps.
  // Only when KVM is ahead (another RIP or CS): with the same RIP, different states are a divergence.
  CpuState last_before = before;
  bool caught_up = false;
  if (fe.reason == Reason::kSingleStep && (follower.rip != leader.rip || follower.seg[CS] != leader.seg[CS]) &&
      !leader.halted) {
    const CpuState want = normalise_for_compare(leader);
    for (int i = 0; i < kIoOverrun && normalise_for_compare(follower) != want && !follower.halted &&
                    (follower.rip != leader.rip || follower.seg[CS] != leader.seg[CS]); ++i) {
      CpuState fb = follower;
      last_before = fb;
      ring_[ring_count_++ % kHistory] = fetch(fb, p_.follower_memory);
      ++steps_;
      caught_up = true;
      fe = p_.follower.run(kNever);
      follower = p_.follower.get_state();
      if (fe.reason != Reason::kSingleStep) break;
    }
  }
  // The leader's extended part (x87/SSE, MSRs, debug registers, XCR0, MP state) is read where
  // this step may have changed it: the instruction's rule (extended_state.h), or a step that was
  // more than one plain instruction - KVM ran on past it (the follower caught up), delivered an
  // exception late, took an interrupt or NMI, switched tasks (TR changed: DR7, a T-bit #DB), or
  // did not end in a single-step exit - and at least every kWholeStateInterval instructions.
  // finish() reads it whenever the two states differ.
  if (!leader_whole_ &&
      (steps_ - whole_read_at_ >= kWholeStateInterval || may_change_extended_state(decoded, before) || caught_up ||
       delivered_late || events.interrupt || events.nmi || le.reason != Reason::kSingleStep ||
       leader.tr != before.tr || leader.events.exception_pending))
    read_leader_whole(leader);
  if (leader_stepping_) undo_single_step_tf(before, leader, follower);
  Divergence d;
  return finish(d, before, leader, follower, le.reason == Reason::kShutdown, fe, &last_before);
}

// KVM implements single-stepping (KVM_GUESTDBG_SINGLESTEP) by setting RFLAGS.TF in the guest
// behind the guest's back and hides it from KVM_GET_REGS; but an exception or interrupt it
// delivers during such a step pushes the real RFLAGS, TF included (on VT-x/AMD-V as in this
// host's emulator). The guest never set TF: that bit of the leader's stack frame is an artifact
// of Janus's own single-stepping and is cleared in the leader's memory (the leader's later IRET
// then restores TF=0, as it would have without single-stepping). Only where both CPUs delivered
// to the same CS:RIP and stack, TF was clear before the step, and the two frames differ in that
// one bit of a word whose bit 1 (always 1 in an RFLAGS image) is set.
void CrossChecker::undo_single_step_tf(const CpuState& before, const CpuState& leader, const CpuState& follower) {
  if ((before.rflags & rflags::TF) || leader.rip == before.rip) return;
  if (leader.rip != follower.rip || leader.seg[CS].selector != follower.seg[CS].selector ||
      leader.gpr[RSP] != follower.gpr[RSP] || leader.seg[SS].selector != follower.seg[SS].selector)
    return;
  // Long mode delivers to 64-bit code with a flat stack; otherwise SS:SP or SS:ESP.
  const bool lm = follower.long_mode_active();
  const bool stack32 = follower.protected_mode() && follower.seg[SS].db();
  const uint64_t frame = lm ? follower.gpr[RSP]
                            : (follower.seg[SS].base + (follower.gpr[RSP] & (stack32 ? 0xffffffffull : 0xffffull))) & 0xffffffffull;
  const unsigned slot = lm ? 8 : follower.protected_mode() ? 4 : 2;
  // Error code, RIP, CS, RFLAGS, RSP, SS: the RFLAGS image is within the first 6 slots.
  for (unsigned i = 0; i < 6; ++i) {
    const uint64_t lin = frame + uint64_t(i) * slot;
    auto pl = physical(p_.leader_memory, follower, lin), pf = physical(p_.follower_memory, follower, lin);
    if (!pl || !pf || *pl != *pf || (*pl & 0xfff) > 4096 - 2) continue;
    uint8_t lb[2], fb[2];
    p_.leader_memory.read_phys(*pl, lb, 2);
    p_.follower_memory.read_phys(*pf, fb, 2);
    if (lb[0] == fb[0] && (fb[0] & 2) && (lb[1] ^ fb[1]) == 0x01 && (lb[1] & 0x01)) {
      const uint8_t fixed = fb[1];
      p_.leader_memory.write_phys(*pl + 1, &fixed, 1);
      return;
    }
  }
}

CrossChecker::Result CrossChecker::stretch(const CpuState& before, uint64_t deadline_ns) {
  using Reason = VcpuExit::Reason;
  // --- the leader: natively until its first I/O access, HLT, shutdown or the deadline ---
  const bool can_take = (before.rflags & rflags::IF) && !before.events.interrupt_shadow;
  p_.leader_irq.limit_to_start(can_take);
  Vcpu& leader_cpu = p_.leader;
  p_.leader_io.on_access = [&leader_cpu] { leader_cpu.request_exit(); };
  uint64_t until = std::min(deadline_ns, p_.clock.now_ns() + kStretchNs);
  VcpuExit le = p_.leader.run(until);
  p_.leader_io.on_access = nullptr;
  p_.leader_irq.unlimit();
  if (le.reason == Reason::kFailed) return {Status::kLeaderFailed, le.detail};
  CpuState leader;
  read_leader_whole(leader);  // many instructions ran: any of them may have changed any part
  const CpuState leader_norm = normalise_for_compare(leader);
  std::deque<IoAccess> io = p_.leader_io.take();
  const bool ended_by_io = !io.empty();
  p_.follower_io.load(std::move(io));
  p_.follower_irq.offer(p_.leader_irq.take());
  const bool leader_down = le.reason == Reason::kShutdown;
  const uint64_t first = steps_ + 1;

  // --- the follower: instruction by instruction until it is where the leader is ---
  CpuState fbefore = before;
  CpuState follower = before;
  VcpuExit fe{Reason::kSingleStep, {}};
  if (normalise_for_compare(before) == leader_norm && !ended_by_io && !leader_down) {
    Divergence d;  // the leader did not move (e.g. kicked at once)
    return finish(d, before, leader, follower, leader_down, fe);
  }
  for (uint64_t n = 0;; ++n) {
    ExecutedInsn insn = fetch(fbefore, p_.follower_memory);
    ring_[ring_count_++ % kHistory] = insn;
    const std::optional<uint64_t> partial = iterations_to_meet(fbefore, leader, insn);
    fe = partial ? run_rep_iterations(p_.follower, decode(insn), *partial) : p_.follower.run(kNever);
    follower = p_.follower.get_state();
    if (!(fbefore.halted && follower.halted)) ++steps_;
    const bool marker = (ended_by_io && p_.follower_io.remaining().empty()) || !p_.follower_io.mismatch().empty() ||
                        follower.halted || fe.reason == Reason::kShutdown || fe.reason == Reason::kFailed;
    if (fe.reason == Reason::kSingleStep && follower.rip == leader.rip && !marker && !ended_by_io) {
      if (normalise_for_compare(follower) == leader_norm) break;  // met (a loop may pass here earlier)
    }
    if (marker || n + 1 >= kFollowBudget) {
      if (!marker) {
        Divergence d;
        d.stretch = "the follower did not reach the leader's state within " + std::to_string(kFollowBudget) +
                    " instructions";
        return finish(d, fbefore, leader, follower, leader_down, fe);
      }
      if (leader_down && fe.reason == Reason::kSingleStep) fe = p_.follower.run(kNever);
      break;
    }
    fbefore = follower;
  }
  Divergence d;
  d.stretch = "the leader ran instructions " + std::to_string(first) + " to " + std::to_string(steps_) +
              " natively in one run (this host's KVM cannot single-step CPL3 code); they were compared at its end";
  return finish(d, fbefore, leader, follower, leader_down, fe);
}

// A leader run stopped by its deadline may end inside a REP string instruction (the Linux
// decompressor copies itself with one REP MOVSQ of 1.7M iterations). Where the follower is at
// that instruction with more iterations to go, it runs only the leader's share of them, so
// their states can meet (each follower step would otherwise do up to 4096 iterations and skip
// the leader's). Harmless where the follower is there on an earlier pass: the rest of the
// iterations come in its next step. Not while an interrupt the leader took is still to be
// delivered (it would come between the iterations).
std::optional<uint64_t> CrossChecker::iterations_to_meet(const CpuState& follower, const CpuState& leader,
                                                         const ExecutedInsn& insn) const {
  if (follower.rip != leader.rip || follower.seg[CS] != leader.seg[CS] || follower.halted) return std::nullopt;
  if (p_.follower_irq.untaken().interrupt || p_.follower_irq.untaken().nmi) return std::nullopt;
  const tcg::DecodedInsn d = decode(insn);
  if (!is_rep_string(d)) return std::nullopt;
  const uint64_t f = rep_count(d, follower), l = rep_count(d, leader);
  if (l == 0 || f <= l) return std::nullopt;
  return f - l;
}

// --- reading the leader's state ---

// After a leader run: its core read anew, the extended part kept from `last` (a state of this
// step or the one before it, whose extended part was read whole at whole_read_at_).
CpuState CrossChecker::read_leader_core(const CpuState& last) {
  if (!leader_kvm_) {
    CpuState s;
    read_leader_whole(s);
    return s;
  }
  CpuState s = last;
  leader_kvm_->refresh_core_state(s);
  leader_whole_ = false;
  return s;
}

void CrossChecker::read_leader_whole(CpuState& leader) {
  leader = p_.leader.get_state();
  leader_whole_ = true;
  whole_read_at_ = steps_;
  ++whole_reads_;
}

// Where a difference in the extended part may have arisen before the reported instruction: the
// extended part was last read whole before it and the rule did not ask for it since.
std::string CrossChecker::extended_state_note(const std::vector<FieldDiff>& fields) const {
  if (extended_known_at_ + 1 >= steps_) return {};
  if (std::none_of(fields.begin(), fields.end(), [](const FieldDiff& f) { return is_extended_field(f.field); })) return {};
  return "the leader's x87/SSE, MSR, debug-register, XCR0 and MP state was last read after instruction " +
         std::to_string(extended_known_at_) + " (it is read after instructions that can change it and every " +
         std::to_string(kWholeStateInterval) + " instructions): a difference there may come from any instruction since";
}

// Reads the rest of a leader state read in part, and compares it whole with the follower's (both
// CPUs are where the last step left them).
bool CrossChecker::check_whole_leader_state() {
  if (divergence_ || !agreed_ || leader_whole_) return !divergence_;
  extended_known_at_ = whole_read_at_;
  CpuState leader;
  read_leader_whole(leader);
  CpuState follower = p_.follower.get_state();
  std::vector<FieldDiff> fields = diff_states(normalise_for_compare(leader), normalise_for_compare(follower));
  if (fields.empty()) {
    leader_state_ = leader;
    return true;
  }
  Divergence d;
  d.fields = std::move(fields);
  d.state_note = extended_state_note(d.fields);
  if (ring_count_ == 0) ring_[ring_count_++] = fetch(leader_state_, p_.leader_memory);
  diverge(std::move(d), leader_state_, leader, follower);
  return false;
}

const CpuState& CrossChecker::leader_state() {
  check_whole_leader_state();
  return leader_state_;
}

bool CrossChecker::check_all_memory() {
  if (!check_whole_leader_state()) return false;
  auto diff = tracker_->check_all(p_.leader_memory);
  uint64_t since = last_full_check_;
  last_full_check_ = steps_;
  if (!diff) return true;
  Divergence d;
  d.memory = diff;
  d.memory_note = "by the full RAM comparison: a store between instruction " + std::to_string(since) +
                  " and " + std::to_string(steps_) + " that the follower did not make (the instruction shown is the last one)";
  if (ring_count_ == 0) ring_[ring_count_++] = fetch(leader_state_, p_.leader_memory);
  diverge(std::move(d), leader_state_, leader_state_, p_.follower.get_state());
  return false;
}

}  // namespace janus::cross

// CpuState <-> KVM structure conversion, without /dev/kvm: exact field and bit placement, and
// lossless round trips.
#include <gtest/gtest.h>

#include "accel/kvm/kvm_state.h"

using namespace janus;

namespace {

// A state with a distinct value in every field, so a swapped or dropped field shows.
CpuState distinctive_state() {
  CpuState s;
  for (int i = 0; i < 16; ++i) s.gpr[i] = 0x1000000000000000ull * (i + 1) + 0x1111 * (i + 1);
  s.rip = 0xffffffff81000123ull;
  s.rflags = rflags::FIXED1 | rflags::IF | rflags::CF | rflags::ZF;
  s.seg[ES] = {0x18, 0x1000, 0xfffff, 0xc093, false};
  s.seg[CS] = {0x10, 0, 0xffffffff, 0xa09b, false};
  s.seg[SS] = {0x2b, 0x3000, 0xffff, 0x40f3, false};
  s.seg[DS] = {0x00, 0, 0, 0x0000, true};
  s.seg[FS] = {0x33, 0x7fff12345000ull, 0xffffffff, 0xd0f3, false};  // AVL set too
  s.seg[GS] = {0x3b, 0xffff888000000000ull, 0xffffffff, 0xc093, false};
  s.ldtr = {0x50, 0x123000, 0x7f, 0x82, false};
  s.tr = {0x40, 0xfffffe0000003000ull, 0x4087, 0x8b, false};
  s.gdtr = {0xfffffe0000001000ull, 0x7f};
  s.idtr = {0xfffffe0000000000ull, 0xfff};
  s.cr0 = cr0::PE | cr0::MP | cr0::ET | cr0::NE | cr0::WP | cr0::AM | cr0::PG;
  s.cr2 = 0xdeadbeef000ull;
  s.cr3 = 0x1234000;
  s.cr4 = cr4::PAE | cr4::PGE | cr4::OSFXSR | cr4::OSXMMEXCPT;
  s.cr8 = 5;
  s.dr = {0x1000, 0x2000, 0x3000, 0x4000};
  s.dr6 = 0xffff4ff1;
  s.dr7 = 0x00000455;
  s.efer = efer::SCE | efer::LME | efer::LMA | efer::NXE;
  s.tsc = 0x123456789abcull;
  s.xcr0 = 7;
  s.msr = {0x0023001000000000ull, 0xffffffff81800000ull, 0xffffffff81800100ull, 0x47700, 0xffff888000001000ull,
           0x10, 0xfffffe0000002000ull, 0xffffffff81801000ull, 0x0007010600070106ull, 3, 0xfffffff000000000ull, 0xfee00d00, 0x850089};
  s.fx.fcw = 0x027f;
  s.fx.fsw = 0x3800;
  s.fx.ftw = 0x81;
  s.fx.fop = 0x7d9;
  s.fx.fip = 0xffffffff81234567ull;
  s.fx.fdp = 0x7ffd0000aaaaull;
  s.fx.mxcsr = 0x1fa0;
  for (size_t r = 0; r < 8; ++r)
    for (size_t b = 0; b < 10; ++b) s.fx.st[r][b] = uint8_t(0x10 * r + b);
  for (size_t r = 0; r < 16; ++r)
    for (size_t b = 0; b < 16; ++b) s.fx.xmm[r][b] = uint8_t(r * 16 + b + 1);
  s.events = {true, 14, true, 0x2, false, 0, true, false, 1};
  s.halted = true;
  return s;
}

}  // namespace

TEST(KvmState, SegmentAttributeBitsMapToKvmFields) {
  // 64-bit code, DPL 3, AVL: type b, S, DPL 3, P, AVL, L, G.
  Segment code{0x33, 0, 0xffffffff, 0xb0fb, false};
  kvm_segment k = segment_to_kvm(code);
  EXPECT_EQ(k.selector, 0x33);
  EXPECT_EQ(k.type, 0xb);
  EXPECT_EQ(k.s, 1);
  EXPECT_EQ(k.dpl, 3);
  EXPECT_EQ(k.present, 1);
  EXPECT_EQ(k.avl, 1);
  EXPECT_EQ(k.l, 1);
  EXPECT_EQ(k.db, 0);
  EXPECT_EQ(k.g, 1);
  EXPECT_EQ(k.limit, 0xffffffffu);  // byte-granular on both sides
  EXPECT_EQ(k.unusable, 0);

  kvm_segment tss{};
  tss.base = 0x5000;
  tss.limit = 0x67;
  tss.selector = 0x28;
  tss.type = 0xb;
  tss.present = 1;
  Segment back = segment_from_kvm(tss);
  EXPECT_EQ(back.attr, 0x8b);
  EXPECT_EQ(back.limit, 0x67u);
  EXPECT_EQ(back.base, 0x5000u);

  kvm_segment data32{};
  data32.type = 3;
  data32.s = 1;
  data32.present = 1;
  data32.db = 1;
  data32.g = 1;
  data32.dpl = 2;
  EXPECT_EQ(segment_from_kvm(data32).attr, 0xc0d3);

  kvm_segment null_seg{};
  null_seg.unusable = 1;
  EXPECT_TRUE(segment_from_kvm(null_seg).unusable);
}

TEST(KvmState, EverySegmentAttributeSurvivesTheRoundTrip) {
  // All meaningful attr bits: type[3:0] S DPL P AVL L D/B G.
  for (uint32_t attr = 0; attr < 0x10000; ++attr) {
    if (attr & 0x0f00) continue;  // bits 8..11 are not attributes
    Segment s{0x8, 0x1234, 0xabcde, uint16_t(attr), (attr & 1) != 0};
    ASSERT_EQ(segment_from_kvm(segment_to_kvm(s)), s) << std::hex << attr;
  }
}

TEST(KvmState, GeneralRegistersLandInKvmOrder) {
  CpuState s = distinctive_state();
  kvm_regs r = regs_to_kvm(s);
  EXPECT_EQ(r.rax, s.gpr[RAX]);
  EXPECT_EQ(r.rbx, s.gpr[RBX]);
  EXPECT_EQ(r.rcx, s.gpr[RCX]);
  EXPECT_EQ(r.rdx, s.gpr[RDX]);
  EXPECT_EQ(r.rsp, s.gpr[RSP]);
  EXPECT_EQ(r.rbp, s.gpr[RBP]);
  EXPECT_EQ(r.rsi, s.gpr[RSI]);
  EXPECT_EQ(r.rdi, s.gpr[RDI]);
  EXPECT_EQ(r.r15, s.gpr[R15]);
  EXPECT_EQ(r.rip, s.rip);
  EXPECT_EQ(r.rflags, s.rflags);
}

TEST(KvmState, SregsCarryControlRegistersTablesAndApicBase) {
  CpuState s = distinctive_state();
  kvm_sregs k = sregs_to_kvm(s);
  EXPECT_EQ(k.cs.selector, 0x10);
  EXPECT_EQ(k.ss.selector, 0x2b);
  EXPECT_EQ(k.ldt.base, 0x123000u);
  EXPECT_EQ(k.tr.limit, 0x4087u);
  EXPECT_EQ(k.gdt.base, s.gdtr.base);
  EXPECT_EQ(k.gdt.limit, 0x7f);
  EXPECT_EQ(k.idt.limit, 0xfff);
  EXPECT_EQ(k.cr0, s.cr0);
  EXPECT_EQ(k.cr2, s.cr2);
  EXPECT_EQ(k.cr3, s.cr3);
  EXPECT_EQ(k.cr4, s.cr4);
  EXPECT_EQ(k.cr8, 5u);
  EXPECT_EQ(k.efer, s.efer);
  EXPECT_EQ(k.apic_base, 0xfee00d00u);
  for (uint64_t word : k.interrupt_bitmap) EXPECT_EQ(word, 0u);  // no injected interrupt

  s.events.interrupt_injected = true;
  s.events.interrupt_vector = 0x41;
  k = sregs_to_kvm(s);
  EXPECT_EQ(k.interrupt_bitmap[1], 1ull << 1);
}

TEST(KvmState, FpuUsesTheFxsaveFields) {
  CpuState s = distinctive_state();
  kvm_fpu f = fpu_to_kvm(s.fx);
  EXPECT_EQ(f.fcw, 0x027f);
  EXPECT_EQ(f.fsw, 0x3800);
  EXPECT_EQ(f.ftwx, 0x81);
  EXPECT_EQ(f.last_opcode, 0x7d9);
  EXPECT_EQ(f.last_ip, s.fx.fip);
  EXPECT_EQ(f.last_dp, s.fx.fdp);
  EXPECT_EQ(f.mxcsr, 0x1fa0u);
  EXPECT_EQ(f.fpr[3][2], 0x32);
  EXPECT_EQ(f.xmm[15][15], uint8_t(15 * 16 + 15 + 1));
  EXPECT_EQ(fpu_from_kvm(f), s.fx);
}

TEST(KvmState, MsrsGoToTheirArchitecturalIndices) {
  CpuState s = distinctive_state();
  std::vector<kvm_msr_entry> entries = msrs_to_kvm(s);
  ASSERT_EQ(entries.size(), kvm_state_msr_indices().size());
  auto value_of = [&](uint32_t index) -> uint64_t {
    for (const auto& e : entries)
      if (e.index == index) return e.data;
    ADD_FAILURE() << "MSR " << std::hex << index << " missing";
    return 0;
  };
  EXPECT_EQ(value_of(0xc0000081), s.msr.star);
  EXPECT_EQ(value_of(0xc0000082), s.msr.lstar);
  EXPECT_EQ(value_of(0xc0000083), s.msr.cstar);
  EXPECT_EQ(value_of(0xc0000084), s.msr.sfmask);
  EXPECT_EQ(value_of(0xc0000102), s.msr.kernel_gs_base);
  EXPECT_EQ(value_of(0x174), s.msr.sysenter_cs);
  EXPECT_EQ(value_of(0x175), s.msr.sysenter_esp);
  EXPECT_EQ(value_of(0x176), s.msr.sysenter_eip);
  EXPECT_EQ(value_of(0x277), s.msr.pat);
  EXPECT_EQ(value_of(0xc0000103), s.msr.tsc_aux);
  EXPECT_EQ(value_of(0x1a0), s.msr.misc_enable);
  EXPECT_EQ(value_of(0x10), s.tsc);
  EXPECT_EQ(value_of(0x3b), s.msr.tsc_adjust);

  CpuState back;
  kvm_msr_entry unknown{};
  unknown.index = 0x3a;  // IA32_FEATURE_CONTROL: not modelled, must be ignored
  unknown.data = 5;
  entries.push_back(unknown);
  msrs_from_kvm(entries, back);
  EXPECT_EQ(back.msr.star, s.msr.star);
  EXPECT_EQ(back.msr.misc_enable, s.msr.misc_enable);
  EXPECT_EQ(back.tsc, s.tsc);
  EXPECT_EQ(back.msr.tsc_adjust, s.msr.tsc_adjust);
}

TEST(KvmState, InterruptShadowBitsAreSwappedForKvm) {
  PendingEvents ev;
  ev.interrupt_shadow = 1;  // Janus: after STI
  EXPECT_EQ(events_to_kvm(ev).interrupt.shadow, KVM_X86_SHADOW_INT_STI);
  ev.interrupt_shadow = 2;  // Janus: after MOV SS
  EXPECT_EQ(events_to_kvm(ev).interrupt.shadow, KVM_X86_SHADOW_INT_MOV_SS);
  kvm_vcpu_events k{};
  k.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
  EXPECT_EQ(events_from_kvm(k).interrupt_shadow, 1);
  EXPECT_TRUE(events_to_kvm(ev).flags & KVM_VCPUEVENT_VALID_SHADOW);
  EXPECT_TRUE(events_to_kvm(ev).flags & KVM_VCPUEVENT_VALID_NMI_PENDING);
}

TEST(KvmState, ExceptionAndNmiEventsMap) {
  PendingEvents ev{true, 13, true, 0x18, true, 0x30, true, true, 0};
  kvm_vcpu_events k = events_to_kvm(ev);
  EXPECT_EQ(k.exception.injected, 1);
  EXPECT_EQ(k.exception.nr, 13);
  EXPECT_EQ(k.exception.has_error_code, 1);
  EXPECT_EQ(k.exception.error_code, 0x18u);
  EXPECT_EQ(k.interrupt.injected, 1);
  EXPECT_EQ(k.interrupt.nr, 0x30);
  EXPECT_EQ(k.nmi.pending, 1);
  EXPECT_EQ(k.nmi.masked, 1);
  EXPECT_EQ(events_from_kvm(k), ev);

  // KVM with KVM_CAP_EXCEPTION_PAYLOAD reports a not-yet-delivered exception as pending.
  kvm_vcpu_events pending{};
  pending.exception.pending = 1;
  pending.exception.nr = 6;
  EXPECT_TRUE(events_from_kvm(pending).exception_pending);
  EXPECT_EQ(events_from_kvm(pending).exception_vector, 6);
}

TEST(KvmState, DebugRegisters) {
  CpuState s = distinctive_state();
  kvm_debugregs d = debugregs_to_kvm(s);
  EXPECT_EQ(d.db[0], 0x1000u);
  EXPECT_EQ(d.db[3], 0x4000u);
  EXPECT_EQ(d.dr6, 0xffff4ff1u);
  EXPECT_EQ(d.dr7, 0x455u);
}

TEST(KvmState, WholeStateRoundTripIsLossless) {
  CpuState s = distinctive_state();
  EXPECT_EQ(from_kvm_state(to_kvm_state(s)), s);
  CpuState reset = reset_cpu_state();
  EXPECT_EQ(from_kvm_state(to_kvm_state(reset)), reset);
}

TEST(KvmState, XsaveLegacyRegionCarriesFxStateAndMarksItInUse) {
  CpuState s = distinctive_state();
  std::vector<uint8_t> image(4096, 0);
  image[576] = 0x5a;                   // a byte of the AVX component: must survive
  image[512] = 0x04;                   // XSTATE_BV: AVX in use, x87/SSE in init state
  fx_to_xsave(s.fx, image);
  EXPECT_EQ(image[512], 0x07);         // x87 and SSE now in use, AVX kept
  EXPECT_EQ(image[576], 0x5a);
  uint16_t fcw;
  std::memcpy(&fcw, &image[0], 2);
  EXPECT_EQ(fcw, 0x027f);
  uint32_t mxcsr;
  std::memcpy(&mxcsr, &image[24], 4);
  EXPECT_EQ(mxcsr, 0x1fa0u);
  EXPECT_EQ(image[32 + 16 * 3 + 2], s.fx.st[3][2]);     // ST slots from byte 32
  EXPECT_EQ(image[160 + 16 * 15 + 15], s.fx.xmm[15][15]);  // XMM from byte 160
  EXPECT_EQ(fx_from_xsave(image), s.fx);
  EXPECT_THROW(fx_to_xsave(s.fx, std::span<uint8_t>(image.data(), 100)), std::invalid_argument);
}

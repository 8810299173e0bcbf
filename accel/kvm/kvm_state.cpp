#include "accel/kvm/kvm_state.h"

#include <array>
#include <cstring>
#include <stdexcept>

namespace janus {

namespace {

// IA32_TSC_ADJUST after the TSC: KVM takes host writes of either as they are, without moving
// the other (only guest writes do).
constexpr std::array<uint32_t, 13> kMsrIndices = {
    msr_index::kStar,        msr_index::kLstar,      msr_index::kCstar,       msr_index::kSfmask,
    msr_index::kKernelGsBase, msr_index::kSysenterCs, msr_index::kSysenterEsp, msr_index::kSysenterEip,
    msr_index::kPat,         msr_index::kTscAux,     msr_index::kMiscEnable,  msr_index::kTsc,
    msr_index::kTscAdjust,
};

// The CpuState field each modelled MSR lives in (const or not, following the state).
template <typename State>
auto msr_field(State& s, uint32_t index) -> decltype(&s.tsc) {
  switch (index) {
    case msr_index::kStar: return &s.msr.star;
    case msr_index::kLstar: return &s.msr.lstar;
    case msr_index::kCstar: return &s.msr.cstar;
    case msr_index::kSfmask: return &s.msr.sfmask;
    case msr_index::kKernelGsBase: return &s.msr.kernel_gs_base;
    case msr_index::kSysenterCs: return &s.msr.sysenter_cs;
    case msr_index::kSysenterEsp: return &s.msr.sysenter_esp;
    case msr_index::kSysenterEip: return &s.msr.sysenter_eip;
    case msr_index::kPat: return &s.msr.pat;
    case msr_index::kTscAux: return &s.msr.tsc_aux;
    case msr_index::kMiscEnable: return &s.msr.misc_enable;
    case msr_index::kTsc: return &s.tsc;
    case msr_index::kTscAdjust: return &s.msr.tsc_adjust;
    default: return nullptr;
  }
}

// Janus's shadow bits (0 = STI, 1 = MOV SS) in KVM's encoding and back.
uint8_t shadow_to_kvm(uint8_t janus_shadow) {
  return ((janus_shadow & 1) ? KVM_X86_SHADOW_INT_STI : 0) | ((janus_shadow & 2) ? KVM_X86_SHADOW_INT_MOV_SS : 0);
}
uint8_t shadow_from_kvm(uint8_t kvm_shadow) {
  return ((kvm_shadow & KVM_X86_SHADOW_INT_STI) ? 1 : 0) | ((kvm_shadow & KVM_X86_SHADOW_INT_MOV_SS) ? 2 : 0);
}

kvm_dtable dtable_to_kvm(const DescriptorTable& t) {
  kvm_dtable d{};
  d.base = t.base;
  d.limit = t.limit;
  return d;
}

}  // namespace

std::span<const uint32_t> kvm_state_msr_indices() { return kMsrIndices; }

kvm_segment segment_to_kvm(const Segment& seg) {
  kvm_segment k{};
  k.base = seg.base;
  k.limit = seg.limit;
  k.selector = seg.selector;
  k.type = seg.type();
  k.s = seg.s();
  k.dpl = seg.dpl();
  k.present = seg.present();
  k.avl = seg.avl();
  k.l = seg.l();
  k.db = seg.db();
  k.g = seg.g();
  k.unusable = seg.unusable;
  return k;
}

Segment segment_from_kvm(const kvm_segment& k) {
  Segment seg;
  seg.selector = k.selector;
  seg.base = k.base;
  seg.limit = k.limit;
  seg.attr = uint16_t((k.type & 0xf) | (k.s ? 0x10 : 0) | ((k.dpl & 3) << 5) | (k.present ? 0x80 : 0) |
                      (k.avl ? 0x1000 : 0) | (k.l ? 0x2000 : 0) | (k.db ? 0x4000 : 0) | (k.g ? 0x8000 : 0));
  seg.unusable = k.unusable;
  return seg;
}

kvm_regs regs_to_kvm(const CpuState& s) {
  kvm_regs r{};
  r.rax = s.gpr[RAX]; r.rbx = s.gpr[RBX]; r.rcx = s.gpr[RCX]; r.rdx = s.gpr[RDX];
  r.rsi = s.gpr[RSI]; r.rdi = s.gpr[RDI]; r.rsp = s.gpr[RSP]; r.rbp = s.gpr[RBP];
  r.r8 = s.gpr[R8];   r.r9 = s.gpr[R9];   r.r10 = s.gpr[R10]; r.r11 = s.gpr[R11];
  r.r12 = s.gpr[R12]; r.r13 = s.gpr[R13]; r.r14 = s.gpr[R14]; r.r15 = s.gpr[R15];
  r.rip = s.rip;
  r.rflags = s.rflags;
  return r;
}

void regs_from_kvm(const kvm_regs& r, CpuState& s) {
  s.gpr[RAX] = r.rax; s.gpr[RBX] = r.rbx; s.gpr[RCX] = r.rcx; s.gpr[RDX] = r.rdx;
  s.gpr[RSI] = r.rsi; s.gpr[RDI] = r.rdi; s.gpr[RSP] = r.rsp; s.gpr[RBP] = r.rbp;
  s.gpr[R8] = r.r8;   s.gpr[R9] = r.r9;   s.gpr[R10] = r.r10; s.gpr[R11] = r.r11;
  s.gpr[R12] = r.r12; s.gpr[R13] = r.r13; s.gpr[R14] = r.r14; s.gpr[R15] = r.r15;
  s.rip = r.rip;
  s.rflags = r.rflags;
}

kvm_sregs sregs_to_kvm(const CpuState& s) {
  kvm_sregs k{};
  k.es = segment_to_kvm(s.seg[ES]);
  k.cs = segment_to_kvm(s.seg[CS]);
  k.ss = segment_to_kvm(s.seg[SS]);
  k.ds = segment_to_kvm(s.seg[DS]);
  k.fs = segment_to_kvm(s.seg[FS]);
  k.gs = segment_to_kvm(s.seg[GS]);
  k.tr = segment_to_kvm(s.tr);
  k.ldt = segment_to_kvm(s.ldtr);
  k.gdt = dtable_to_kvm(s.gdtr);
  k.idt = dtable_to_kvm(s.idtr);
  k.cr0 = s.cr0; k.cr2 = s.cr2; k.cr3 = s.cr3; k.cr4 = s.cr4; k.cr8 = s.cr8;
  k.efer = s.efer;
  k.apic_base = s.msr.apic_base;
  if (s.events.interrupt_injected) {
    unsigned v = s.events.interrupt_vector;
    k.interrupt_bitmap[v / 64] |= 1ull << (v % 64);
  }
  return k;
}

void sregs_from_kvm(const kvm_sregs& k, CpuState& s) {
  s.seg[ES] = segment_from_kvm(k.es);
  s.seg[CS] = segment_from_kvm(k.cs);
  s.seg[SS] = segment_from_kvm(k.ss);
  s.seg[DS] = segment_from_kvm(k.ds);
  s.seg[FS] = segment_from_kvm(k.fs);
  s.seg[GS] = segment_from_kvm(k.gs);
  s.tr = segment_from_kvm(k.tr);
  s.ldtr = segment_from_kvm(k.ldt);
  s.gdtr = {k.gdt.base, k.gdt.limit};
  s.idtr = {k.idt.base, k.idt.limit};
  s.cr0 = k.cr0; s.cr2 = k.cr2; s.cr3 = k.cr3; s.cr4 = k.cr4; s.cr8 = k.cr8;
  s.efer = k.efer;
  s.msr.apic_base = k.apic_base;
}

kvm_fpu fpu_to_kvm(const FxState& fx) {
  kvm_fpu f{};
  for (size_t i = 0; i < 8; ++i) std::memcpy(f.fpr[i], fx.st[i].data(), 16);
  f.fcw = fx.fcw;
  f.fsw = fx.fsw;
  f.ftwx = fx.ftw;
  f.last_opcode = fx.fop;
  f.last_ip = fx.fip;
  f.last_dp = fx.fdp;
  for (size_t i = 0; i < 16; ++i) std::memcpy(f.xmm[i], fx.xmm[i].data(), 16);
  f.mxcsr = fx.mxcsr;
  return f;
}

FxState fpu_from_kvm(const kvm_fpu& f) {
  FxState fx;
  for (size_t i = 0; i < 8; ++i) std::memcpy(fx.st[i].data(), f.fpr[i], 16);
  fx.fcw = f.fcw;
  fx.fsw = f.fsw;
  fx.ftw = f.ftwx;
  fx.fop = f.last_opcode;
  fx.fip = f.last_ip;
  fx.fdp = f.last_dp;
  for (size_t i = 0; i < 16; ++i) std::memcpy(fx.xmm[i].data(), f.xmm[i], 16);
  fx.mxcsr = f.mxcsr;
  return fx;
}

namespace {
// Byte offsets in the FXSAVE image (Intel SDM Vol. 1, Table 10-2, 64-bit format).
constexpr size_t kFcw = 0, kFsw = 2, kFtw = 4, kFop = 6, kFip = 8, kFdp = 16, kMxcsr = 24, kSt = 32, kXmm = 160;
constexpr size_t kXstateBv = 512;
constexpr uint64_t kXfeatureX87 = 1, kXfeatureSse = 2;

template <typename T>
void put(std::span<uint8_t> image, size_t at, T v) { std::memcpy(image.data() + at, &v, sizeof v); }
template <typename T>
T get(std::span<const uint8_t> image, size_t at) {
  T v;
  std::memcpy(&v, image.data() + at, sizeof v);
  return v;
}
}  // namespace

void fx_to_xsave(const FxState& fx, std::span<uint8_t> xsave) {
  if (xsave.size() < kXsaveLegacyBytes + kXsaveHeaderBytes) throw std::invalid_argument("XSAVE image too small");
  put(xsave, kFcw, fx.fcw);
  put(xsave, kFsw, fx.fsw);
  put(xsave, kFtw, fx.ftw);
  put(xsave, kFop, fx.fop);
  put(xsave, kFip, fx.fip);
  put(xsave, kFdp, fx.fdp);
  put(xsave, kMxcsr, fx.mxcsr);
  for (size_t i = 0; i < 8; ++i) std::memcpy(xsave.data() + kSt + 16 * i, fx.st[i].data(), 16);
  for (size_t i = 0; i < 16; ++i) std::memcpy(xsave.data() + kXmm + 16 * i, fx.xmm[i].data(), 16);
  put(xsave, kXstateBv, get<uint64_t>(xsave, kXstateBv) | kXfeatureX87 | kXfeatureSse);
}

FxState fx_from_xsave(std::span<const uint8_t> xsave) {
  if (xsave.size() < kXsaveLegacyBytes + kXsaveHeaderBytes) throw std::invalid_argument("XSAVE image too small");
  FxState fx;
  fx.fcw = get<uint16_t>(xsave, kFcw);
  fx.fsw = get<uint16_t>(xsave, kFsw);
  fx.ftw = get<uint8_t>(xsave, kFtw);
  fx.fop = get<uint16_t>(xsave, kFop);
  fx.fip = get<uint64_t>(xsave, kFip);
  fx.fdp = get<uint64_t>(xsave, kFdp);
  fx.mxcsr = get<uint32_t>(xsave, kMxcsr);
  for (size_t i = 0; i < 8; ++i) std::memcpy(fx.st[i].data(), xsave.data() + kSt + 16 * i, 16);
  for (size_t i = 0; i < 16; ++i) std::memcpy(fx.xmm[i].data(), xsave.data() + kXmm + 16 * i, 16);
  return fx;
}

std::vector<kvm_msr_entry> msrs_to_kvm(const CpuState& s) {
  std::vector<kvm_msr_entry> out;
  for (uint32_t index : kMsrIndices) {
    kvm_msr_entry e{};
    e.index = index;
    e.data = *msr_field(s, index);
    out.push_back(e);
  }
  return out;
}

void msrs_from_kvm(std::span<const kvm_msr_entry> entries, CpuState& s) {
  for (const auto& e : entries)
    if (uint64_t* field = msr_field(s, e.index)) *field = e.data;
}

kvm_vcpu_events events_to_kvm(const PendingEvents& ev) {
  kvm_vcpu_events k{};
  k.exception.injected = ev.exception_pending;
  k.exception.nr = ev.exception_vector;
  k.exception.has_error_code = ev.exception_has_error;
  k.exception.error_code = ev.exception_error;
  k.interrupt.injected = ev.interrupt_injected;
  k.interrupt.nr = ev.interrupt_vector;
  k.interrupt.shadow = shadow_to_kvm(ev.interrupt_shadow);
  k.nmi.pending = ev.nmi_pending;
  k.nmi.masked = ev.nmi_masked;
  k.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
  return k;
}

PendingEvents events_from_kvm(const kvm_vcpu_events& k) {
  PendingEvents ev;
  ev.exception_pending = k.exception.injected || k.exception.pending;
  ev.exception_vector = k.exception.nr;
  ev.exception_has_error = k.exception.has_error_code;
  ev.exception_error = k.exception.error_code;
  ev.interrupt_injected = k.interrupt.injected;
  ev.interrupt_vector = k.interrupt.nr;
  ev.interrupt_shadow = shadow_from_kvm(k.interrupt.shadow);
  ev.nmi_pending = k.nmi.pending || k.nmi.injected;
  ev.nmi_masked = k.nmi.masked;
  return ev;
}

kvm_debugregs debugregs_to_kvm(const CpuState& s) {
  kvm_debugregs d{};
  for (size_t i = 0; i < 4; ++i) d.db[i] = s.dr[i];
  d.dr6 = s.dr6;
  d.dr7 = s.dr7;
  return d;
}

void debugregs_from_kvm(const kvm_debugregs& d, CpuState& s) {
  for (size_t i = 0; i < 4; ++i) s.dr[i] = d.db[i];
  s.dr6 = d.dr6;
  s.dr7 = d.dr7;
}

KvmVcpuState to_kvm_state(const CpuState& s) {
  KvmVcpuState k;
  k.regs = regs_to_kvm(s);
  k.sregs = sregs_to_kvm(s);
  k.fpu = fpu_to_kvm(s.fx);
  k.msrs = msrs_to_kvm(s);
  k.events = events_to_kvm(s.events);
  k.debugregs = debugregs_to_kvm(s);
  k.xcr0 = s.xcr0;
  k.halted = s.halted;
  return k;
}

CpuState from_kvm_state(const KvmVcpuState& k) {
  CpuState s;
  regs_from_kvm(k.regs, s);
  sregs_from_kvm(k.sregs, s);
  s.fx = fpu_from_kvm(k.fpu);
  msrs_from_kvm(k.msrs, s);
  s.events = events_from_kvm(k.events);
  debugregs_from_kvm(k.debugregs, s);
  s.xcr0 = k.xcr0;
  s.halted = k.halted;
  return s;
}

}  // namespace janus

#include "accel/kvm/kvm_vcpu.h"

#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "accel/kvm/kvm_abi.h"
#include "accel/kvm/kvm_cpuid.h"
#include "accel/kvm/kvm_failure_report.h"
#include "cpu/guest_virtual_memory.h"
#include "accel/kvm/kvm_kick_signal.h"
#include "accel/kvm/kvm_state.h"
#include "hw/clock.h"
#include "hw/guest_memory.h"

namespace janus {

namespace {

template <typename T>
void store_u8(T* field, uint8_t value) {
  __atomic_store_n(field, value, __ATOMIC_SEQ_CST);
}

uint64_t load_le(const uint8_t* p, unsigned size) {
  uint64_t v = 0;
  std::memcpy(&v, p, size);  // x86 host: little-endian like the guest
  return v;
}

void store_le(uint8_t* p, unsigned size, uint64_t v) { std::memcpy(p, &v, size); }

}  // namespace

// Marks the calling thread as this vCPU's runner for request_exit() and the kick signal.
class KvmVcpu::RunScope {
 public:
  explicit RunScope(KvmVcpu& vcpu) : vcpu_(vcpu), kick_(vcpu.run_) {
    std::lock_guard lock(vcpu_.thread_mutex_);
    vcpu_.run_thread_ = pthread_self();
    vcpu_.in_run_ = true;
  }
  ~RunScope() {
    if (vcpu_.timer_) vcpu_.timer_->disarm();
    std::lock_guard lock(vcpu_.thread_mutex_);
    vcpu_.in_run_ = false;
  }

 private:
  KvmVcpu& vcpu_;
  KickSignalScope kick_;
};

KvmVcpu::KvmVcpu(const KvmFd& vm, unsigned index, const KvmVcpuConfig& config, const CpuidTable& cpuid,
                 VcpuContext context)
    : vcpu_(vm.ioctl("KVM_CREATE_VCPU", KVM_CREATE_VCPU, static_cast<unsigned long>(index))),
      config_(config),
      context_(context),
      use_sync_regs_(config.has_sync_regs) {
  void* p = mmap(nullptr, config_.run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_.get(), 0);
  if (p == MAP_FAILED) throw std::runtime_error(std::string("mmap of kvm_run failed: ") + std::strerror(errno));
  run_ = static_cast<kvm_run*>(p);

  std::vector<kvm_cpuid_entry2> entries = to_kvm_cpuid_entries(cpuid, index);
  KvmArrayArg<KvmCpuid2Header, kvm_cpuid_entry2> cpuid2(entries.size());
  cpuid2.header()->nent = uint32_t(entries.size());
  std::copy(entries.begin(), entries.end(), cpuid2.entries());
  try {
    vcpu_.ioctl("KVM_SET_CPUID2", kKvmSetCpuid2, cpuid2.arg());
  } catch (...) {
    munmap(run_, config_.run_mmap_size);
    throw;
  }
}

KvmVcpu::~KvmVcpu() { munmap(run_, config_.run_mmap_size); }

// --- run ---

// A halted CPU resumes for an NMI, or for an interrupt when RFLAGS.IF allows it.
bool KvmVcpu::wakes_from_halt() {
  if (context_.interrupts.nmi_pending()) return true;
  if (!context_.interrupts.interrupt_pending()) return false;
  if (core_state_from_kvm_run()) return run_->s.regs.regs.rflags & rflags::IF;
  kvm_regs regs{};
  vcpu_.ioctl("KVM_GET_REGS", KVM_GET_REGS, &regs);
  return regs.rflags & rflags::IF;
}

// Userspace irqchip: inject when KVM says the guest can take an interrupt now, otherwise ask KVM
// to exit as soon as it can (KVM_EXIT_IRQ_WINDOW_OPEN) and try again then.
void KvmVcpu::offer_interrupts() {
  InterruptSource& irq = context_.interrupts;
  if (irq.nmi_pending()) {
    core_synced_ = false;  // events changed; the KVM_RUN that follows makes a new copy
    vcpu_.ioctl("KVM_NMI", KVM_NMI);
    irq.acknowledge_nmi();
  }
  if (!irq.interrupt_pending()) {
    run_->request_interrupt_window = 0;
    return;
  }
  if (run_->ready_for_interrupt_injection && run_->if_flag) {
    int vector = irq.acknowledge_interrupt();
    if (vector >= 0) {
      kvm_interrupt interrupt{};
      interrupt.irq = uint32_t(vector);
      core_synced_ = false;
      vcpu_.ioctl("KVM_INTERRUPT", KVM_INTERRUPT, &interrupt);
    }
    // One interrupt can be queued at a time: for a second one, wait for the next window.
    run_->request_interrupt_window = irq.interrupt_pending() ? 1 : 0;
  } else {
    run_->request_interrupt_window = 1;
  }
}

// Leaves run() for a kick or the deadline. An I/O or MMIO exit already handled is completed by
// one more KVM_RUN with immediate_exit set, which runs no guest instruction, so that get_state()
// sees the instruction finished.
VcpuExit KvmVcpu::kicked() {
  // KVM finishes the pending operation before it looks at immediate_exit; a string I/O
  // instruction may need further exits to do so (the next chunk), which are handled here too.
  while (io_needs_completion_) {
    store_u8(&run_->immediate_exit, 1);
    int r = run_ioctl();
    io_needs_completion_ = false;
    if (r == -EINTR || r == -EAGAIN) break;
    if (r < 0) return failure(std::string("KVM_RUN (completing I/O) failed: ") + std::strerror(-r));
    if (run_->exit_reason == KVM_EXIT_IO) {
      handle_port_io();
      io_needs_completion_ = true;
    } else if (run_->exit_reason == KVM_EXIT_MMIO) {
      handle_mmio();
      io_needs_completion_ = true;
    }
  }
  exit_requested_.store(false);
  store_u8(&run_->immediate_exit, 0);
  return {VcpuExit::Reason::kKicked, ""};
}

void KvmVcpu::handle_port_io() {
  auto& io = run_->io;
  uint8_t* data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
  unsigned size = io.size;
  // data_offset comes from the kernel, but never trust it past the mapping.
  if (size == 0 || size > 4 || io.data_offset + uint64_t(io.count) * size > config_.run_mmap_size) return;
  for (uint32_t i = 0; i < io.count; ++i, data += size) {
    if (io.direction == KVM_EXIT_IO_OUT)
      context_.io.pio_write(io.port, size, load_le(data, size));
    else
      store_le(data, size, context_.io.pio_read(io.port, size));
  }
}

void KvmVcpu::handle_mmio() {
  auto& mmio = run_->mmio;
  unsigned len = mmio.len;
  if (len == 0 || len > 8) return;
  if (mmio.is_write)
    context_.io.mmio_write(mmio.phys_addr, len, load_le(mmio.data, len));
  else
    store_le(mmio.data, len, context_.io.mmio_read(mmio.phys_addr, len));
}

VcpuExit KvmVcpu::run(uint64_t deadline_ns) {
  RunScope scope(*this);
  // Clear a stale kick before looking at the flag: a request_exit() racing with us either sets the
  // flag before we read it or sets immediate_exit after we cleared it.
  store_u8(&run_->immediate_exit, 0);
  if (exit_requested_.load()) return kicked();
  if (halted_) {
    if (!wakes_from_halt()) return {VcpuExit::Reason::kHalted, ""};
    halted_ = false;
  }
  const Clock& clock = context_.clock;
  if (deadline_ns != kNever) {
    uint64_t now = clock.now_ns();
    if (now >= deadline_ns) return kicked();
    if (!timer_ || timer_->thread() != gettid()) timer_ = std::make_unique<ThreadTimer>();
    timer_->arm(deadline_ns - now);
  }

  for (;;) {
    if (exit_requested_.load() || (deadline_ns != kNever && clock.now_ns() >= deadline_ns)) return kicked();
    offer_interrupts();
    run_->cr8 = context_.interrupts.cr8();
    int r = run_ioctl();
    io_needs_completion_ = false;
    if (run_->cr8 != context_.interrupts.cr8()) context_.interrupts.set_cr8(run_->cr8);
    if (r == -EINTR || r == -EAGAIN) return kicked();
    if (r < 0) return failure(std::string("KVM_RUN failed: ") + std::strerror(-r));

    switch (run_->exit_reason) {
      case KVM_EXIT_IO:
        handle_port_io();
        io_needs_completion_ = true;
        break;
      case KVM_EXIT_MMIO:
        handle_mmio();
        io_needs_completion_ = true;
        break;
      case KVM_EXIT_IRQ_WINDOW_OPEN:
        break;  // offer_interrupts() injects on the next pass
      case KVM_EXIT_INTR:
        return kicked();
      case KVM_EXIT_HLT:
        // An interrupt the guest can take right now wakes the HLT at once, as on hardware.
        if (context_.interrupts.nmi_pending() || (context_.interrupts.interrupt_pending() && run_->if_flag)) break;
        halted_ = true;
        return {VcpuExit::Reason::kHalted, ""};
      case KVM_EXIT_SHUTDOWN:
        return {VcpuExit::Reason::kShutdown, "triple fault"};
      case KVM_EXIT_SYSTEM_EVENT:
        return {VcpuExit::Reason::kShutdown,
                "KVM system event " + std::to_string(run_->system_event.type)};
      case KVM_EXIT_DEBUG:
        if (single_step_) return {VcpuExit::Reason::kSingleStep, ""};
        return failure("KVM debug exit without single-stepping (exception " +
                       std::to_string(run_->debug.arch.exception) + ")");
      case KVM_EXIT_INTERNAL_ERROR:
        return failure("KVM " + internal_error_name(run_->internal.suberror));
      case KVM_EXIT_FAIL_ENTRY: {
        char what[96];
        std::snprintf(what, sizeof what, "KVM entry failure (hardware reason 0x%llx)",
                      static_cast<unsigned long long>(run_->fail_entry.hardware_entry_failure_reason));
        return failure(what);
      }
      case KVM_EXIT_UNKNOWN: {
        char what[96];
        std::snprintf(what, sizeof what, "KVM unknown exit (hardware reason 0x%llx)",
                      static_cast<unsigned long long>(run_->hw.hardware_exit_reason));
        return failure(what);
      }
      default:
        return failure("KVM exit " + std::to_string(run_->exit_reason) + " that Janus does not handle");
    }
  }
}

// KVM_RUN. With kvm_run.kvm_valid_regs set, KVM copies REGS, SREGS and EVENTS into kvm_run on
// its way out of every KVM_RUN that got past its argument checks, whatever ended it (an exit, a
// signal, immediate_exit: kvm_arch_vcpu_ioctl_run's common exit path); any other failure leaves
// the copy stale.
int KvmVcpu::run_ioctl() {
  int r = vcpu_.try_ioctl(KVM_RUN, 0UL);
  core_synced_ = run_->kvm_valid_regs == kKvmSyncCoreRegs && (r >= 0 || r == -EINTR || r == -EAGAIN);
  return r;
}

// --- failure reports ---

// Up to 15 bytes at a linear address, translated page by page with KVM_TRANSLATE.
std::optional<std::vector<uint8_t>> KvmVcpu::instruction_bytes(uint64_t linear) {
  constexpr uint64_t kMaxInstructionBytes = 15, kPage = 4096;
  std::vector<uint8_t> bytes;
  while (bytes.size() < kMaxInstructionBytes) {
    kvm_translation t{};
    t.linear_address = linear;
    if (vcpu_.try_ioctl(KVM_TRANSLATE, &t) < 0 || !t.valid) break;
    uint64_t chunk = std::min(kMaxInstructionBytes - bytes.size(), kPage - (linear % kPage));
    const uint8_t* host = context_.memory.host_ptr(t.physical_address, chunk);
    if (!host) break;
    bytes.insert(bytes.end(), host, host + chunk);
    linear += chunk;
  }
  if (bytes.empty()) return std::nullopt;
  return bytes;
}

VcpuExit KvmVcpu::failure(const std::string& what) {
  VcpuExit exit{VcpuExit::Reason::kFailed, what};
  try {
    CpuState s = get_state();
    std::optional<std::vector<uint8_t>> bytes = instruction_bytes(linear_rip(s));
    // KVM may have handed over the bytes it failed on; use them if the page walk did not work.
    if (!bytes && run_->exit_reason == KVM_EXIT_INTERNAL_ERROR &&
        run_->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
        (run_->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
      auto& f = run_->emulation_failure;
      bytes.emplace(f.insn_bytes, f.insn_bytes + std::min<unsigned>(f.insn_size, sizeof f.insn_bytes));
    }
    if (bytes) exit.detail = describe_guest_failure(what, s, std::span<const uint8_t>(*bytes));
    else exit.detail = describe_guest_failure(what, s, std::nullopt);
  } catch (const std::exception& e) {
    exit.detail += " (state unavailable: " + std::string(e.what()) + ")";
  }
  return exit;
}

// --- state ---

CpuState KvmVcpu::get_state() {
  CpuState s;
  // Core first: reading the events may deliver a pending exception's payload (CR2, DR6) without
  // KVM_CAP_EXCEPTION_PAYLOAD, and the extended part must see that, as it always has.
  refresh_core_state(s);
  read_extended_state(s);
  s.halted = mp_halted_ || halted_;
  return s;
}

void KvmVcpu::refresh_core_state(CpuState& s) {
  if (core_state_from_kvm_run()) {
    const kvm_sync_regs& synced = run_->s.regs;
    regs_from_kvm(synced.regs, s);
    sregs_from_kvm(synced.sregs, s);
    s.events = events_from_kvm(synced.events);
  } else {
    kvm_regs regs{};
    kvm_sregs sregs{};
    kvm_vcpu_events events{};
    vcpu_.ioctl("KVM_GET_REGS", KVM_GET_REGS, &regs);
    vcpu_.ioctl("KVM_GET_SREGS", KVM_GET_SREGS, &sregs);
    vcpu_.ioctl("KVM_GET_VCPU_EVENTS", KVM_GET_VCPU_EVENTS, &events);
    regs_from_kvm(regs, s);
    sregs_from_kvm(sregs, s);
    s.events = events_from_kvm(events);
    // From the next KVM_RUN on, KVM keeps a copy in kvm_run (KVM_CAP_SYNC_REGS).
    if (config_.has_sync_regs) run_->kvm_valid_regs = kKvmSyncCoreRegs;
  }
  s.cr8 = context_.interrupts.cr8();  // the LAPIC's TPR is the truth; KVM's copy may be older
  s.halted = mp_halted_ || halted_;
}

void KvmVcpu::read_extended_state(CpuState& s) {
  kvm_debugregs debugregs{};
  vcpu_.ioctl("KVM_GET_DEBUGREGS", KVM_GET_DEBUGREGS, &debugregs);
  debugregs_from_kvm(debugregs, s);

  std::span<const uint32_t> indices = kvm_state_msr_indices();
  KvmArrayArg<KvmMsrsHeader, kvm_msr_entry> msrs(indices.size());
  msrs.header()->nmsrs = uint32_t(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) msrs.entries()[i].index = indices[i];
  int n = vcpu_.ioctl("KVM_GET_MSRS", kKvmGetMsrs, msrs.arg());
  if (size_t(n) != indices.size()) {
    char what[80];
    std::snprintf(what, sizeof what, "KVM_GET_MSRS failed at MSR 0x%x", indices[size_t(n)]);
    throw std::runtime_error(what);
  }
  msrs_from_kvm(msrs.span(), s);

  s.xcr0 = 1;
  if (config_.has_xcrs) {
    kvm_xcrs xcrs{};
    vcpu_.ioctl("KVM_GET_XCRS", KVM_GET_XCRS, &xcrs);
    for (uint32_t i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; ++i)
      if (xcrs.xcrs[i].xcr == 0) s.xcr0 = xcrs.xcrs[i].value;
  }
  kvm_mp_state mp{};
  vcpu_.ioctl("KVM_GET_MP_STATE", KVM_GET_MP_STATE, &mp);
  mp_halted_ = mp.mp_state == KVM_MP_STATE_HALTED;
  read_fpu(s);
}

void KvmVcpu::set_state(const CpuState& state) {
  // By ioctl, in the order below (kvm_dirty_regs would load REGS before SREGS, and both after the
  // rest); kvm_run's copy is stale from here to the next KVM_RUN.
  core_synced_ = false;
  KvmVcpuState k = to_kvm_state(state);
  // Mode first (sregs), then what depends on it; events last because KVM checks them against
  // the mode they are delivered in.
  vcpu_.ioctl("KVM_SET_SREGS", KVM_SET_SREGS, &k.sregs);
  vcpu_.ioctl("KVM_SET_REGS", KVM_SET_REGS, &k.regs);
  write_fpu(state.fx);

  KvmArrayArg<KvmMsrsHeader, kvm_msr_entry> msrs(k.msrs.size());
  msrs.header()->nmsrs = uint32_t(k.msrs.size());
  std::copy(k.msrs.begin(), k.msrs.end(), msrs.entries());
  int n = vcpu_.ioctl("KVM_SET_MSRS", kKvmSetMsrs, msrs.arg());
  if (size_t(n) != k.msrs.size()) {
    char what[96];
    std::snprintf(what, sizeof what, "KVM_SET_MSRS failed at MSR 0x%x (value 0x%llx)", k.msrs[size_t(n)].index,
                  static_cast<unsigned long long>(k.msrs[size_t(n)].data));
    throw std::runtime_error(what);
  }

  if (config_.has_xcrs) {
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = k.xcr0;
    vcpu_.ioctl("KVM_SET_XCRS", KVM_SET_XCRS, &xcrs);
  }
  vcpu_.ioctl("KVM_SET_DEBUGREGS", KVM_SET_DEBUGREGS, &k.debugregs);
  vcpu_.ioctl("KVM_SET_VCPU_EVENTS", KVM_SET_VCPU_EVENTS, &k.events);

  context_.interrupts.set_cr8(state.cr8);
  halted_ = state.halted;
  // kvm_run's injection hints describe the old state until the next exit; stop offer_interrupts()
  // from injecting on them (it requests a window instead, which KVM answers at once).
  run_->ready_for_interrupt_injection = 0;
  run_->if_flag = 0;
}

// With XSAVE, KVM_SET_FPU may leave XSTATE_BV saying "x87/SSE in init state", and the guest
// would never see what was written; the XSAVE image with XSTATE_BV set is what the CPU loads.
void KvmVcpu::read_fpu(CpuState& s) {
  if (!config_.xsave_bytes) {
    kvm_fpu fpu{};
    vcpu_.ioctl("KVM_GET_FPU", KVM_GET_FPU, &fpu);
    s.fx = fpu_from_kvm(fpu);
    return;
  }
  std::vector<uint8_t> image(config_.xsave_bytes);
  if (config_.has_xsave2) vcpu_.ioctl("KVM_GET_XSAVE2", kKvmGetXsave2, image.data());
  else vcpu_.ioctl("KVM_GET_XSAVE", kKvmGetXsave, image.data());
  s.fx = fx_from_xsave(image);
}

void KvmVcpu::write_fpu(const FxState& fx) {
  if (!config_.xsave_bytes) {
    kvm_fpu fpu = fpu_to_kvm(fx);
    vcpu_.ioctl("KVM_SET_FPU", KVM_SET_FPU, &fpu);
    return;
  }
  // Read-modify-write keeps the components CpuState does not model (AVX upper halves...).
  std::vector<uint8_t> image(config_.xsave_bytes);
  if (config_.has_xsave2) vcpu_.ioctl("KVM_GET_XSAVE2", kKvmGetXsave2, image.data());
  else vcpu_.ioctl("KVM_GET_XSAVE", kKvmGetXsave, image.data());
  fx_to_xsave(fx, image);
  vcpu_.ioctl("KVM_SET_XSAVE", kKvmSetXsave, image.data());
}

// --- control from other threads ---

void KvmVcpu::request_exit() {
  exit_requested_.store(true);
  store_u8(&run_->immediate_exit, 1);
  std::lock_guard lock(thread_mutex_);
  if (in_run_) pthread_kill(run_thread_, kKickSignal);
}

void KvmVcpu::set_single_step(bool on) {
  kvm_guest_debug debug{};
  debug.control = on ? (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP) : 0;
  core_synced_ = false;  // KVM_GET_REGS hides the TF that single-stepping sets: read anew
  vcpu_.ioctl("KVM_SET_GUEST_DEBUG", KVM_SET_GUEST_DEBUG, &debug);
  single_step_ = on;
}

}  // namespace janus

#include "hw/pc_machine.h"

#include <chrono>

#include "hw/acpi_pm.h"
#include "hw/boot_timer.h"
#include "hw/cmos_rtc.h"
#include "hw/debug_exit.h"
#include "hw/i8042.h"
#include "hw/irq_chip.h"
#include "hw/pc_layout.h"
#include "hw/pci/i440fx_host_bridge.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_config_ports.h"
#include "hw/pci/piix3_isa_bridge.h"
#include "hw/pci/piix3_reset_control.h"
#include "hw/pit8254.h"
#include "hw/post_port.h"
#include "hw/uart16550.h"

namespace janus {

namespace {
// The TSC rate guests see when the backend has no opinion (the software CPU). 2 GHz keeps TSC
// arithmetic exact against the nanosecond clock.
constexpr uint64_t kDefaultTscHz = 2'000'000'000ull;
}  // namespace

PcMachine::PcMachine(const PcMachineConfig& config, const Clock& clock)
    : clock_(clock), memory_(config.ram_bytes) {
  irq_ = std::make_unique<IrqChip>(clock_, timers_, config.tsc_hz ? config.tsc_hz : kDefaultTscHz);
  irq_->attach(pio_, mmio_);

  pit_ = std::make_unique<Pit8254>(clock_, timers_, IrqLine(irq_.get(), layout::kIrqPit));
  port_b_ = std::make_unique<PortB>(*pit_);
  pio_.map(layout::kPortPit, Pit8254::kPortCount, *pit_, "pit");
  pio_.map(layout::kPortPortB, 1, *port_b_, "port-b");

  com1_ = std::make_unique<Uart16550>(config.serial_output ? config.serial_output : [](uint8_t) {},
                                      IrqLine(irq_.get(), layout::kIrqCom1));
  pio_.map(layout::kPortCom1, Uart16550::kPortCount, *com1_, "com1");
  // When the guest drains the receiver, refill it from host input at once (no exit needed).
  com1_->set_rx_space_listener([this] { feed_serial_input(); });

  i8042_ = std::make_unique<I8042>(IrqLine(irq_.get(), layout::kIrqKeyboard), IrqLine(irq_.get(), layout::kIrqMouse),
                                   [this] { request_stop({StopRequest::Kind::kReset, 0}); });
  pio_.map(layout::kPortI8042Data, 1, i8042_->data_port(), "i8042-data");
  pio_.map(layout::kPortI8042Cmd, 1, i8042_->command_port(), "i8042-command");

  rtc_ = std::make_unique<CmosRtc>(clock_, timers_, IrqLine(irq_.get(), layout::kIrqRtc));
  rtc_->set_memory_size(config.ram_bytes);
  pio_.map(layout::kPortCmos, 2, *rtc_, "cmos-rtc");

  post_ = std::make_unique<PostPort>();
  pio_.map(layout::kPortPost, 1, *post_, "post");

  if (config.debug_exit) {
    debug_exit_ = std::make_unique<DebugExit>(
        [this](int status) { request_stop({StopRequest::Kind::kDebugExit, status}); });
    pio_.map(config.debug_exit->first, config.debug_exit->second, *debug_exit_, "isa-debug-exit");
  }

  boot_timer_ = std::make_unique<BootTimer>(clock_, [this](uint64_t ns) {
    if (on_boot_time_) on_boot_time_(ns);
  });
  mmio_.map(layout::kBootTimerBase, BootTimer::kMapLength, *boot_timer_, "boot-timer");

  // ACPI PM block (the FADT in hw/acpi describes it): S5 powers off, the reset register resets.
  static_assert(AcpiPm::kPortCount == layout::kAcpiPmPortCount);
  acpi_pm_ = std::make_unique<AcpiPm>(
      clock_, timers_, IrqLine(irq_.get(), layout::kIrqSci),
      [this] { request_stop({StopRequest::Kind::kPowerOff, 0}); },
      [this] { request_stop({StopRequest::Kind::kReset, 0}); });
  pio_.map(layout::kPortAcpiPm, layout::kAcpiPmPortCount, *acpi_pm_, "acpi-pm");

  // PCI bus 0 with the two bridges every PC has; guests find it through mechanism #1.
  static_assert(PciConfigPorts::kPortCount == layout::kPciConfigPortCount);
  pci_bus_ = std::make_unique<PciBus>();
  host_bridge_ = std::make_unique<I440fxHostBridge>();
  isa_bridge_ = std::make_unique<Piix3IsaBridge>();
  pci_bus_->attach(layout::kPciDeviceHostBridge, 0, *host_bridge_);
  pci_bus_->attach(layout::kPciDeviceIsaBridge, 0, *isa_bridge_);
  reset_control_ = std::make_unique<Piix3ResetControl>([this] { request_stop({StopRequest::Kind::kReset, 0}); });
  pci_config_ = std::make_unique<PciConfigPorts>(*pci_bus_, reset_control_.get());
  pio_.map(layout::kPortPciConfig, layout::kPciConfigPortCount, *pci_config_, "pci-config");
}

// Devices cancel their timers on destruction: destroy them before the queue (declared earlier).
PcMachine::~PcMachine() {
  acpi_pm_.reset();
  boot_timer_.reset();
  debug_exit_.reset();
  post_.reset();
  rtc_.reset();
  i8042_.reset();
  com1_.reset();
  port_b_.reset();
  pit_.reset();
  irq_.reset();
}

InterruptSource& PcMachine::interrupts() { return *irq_; }

uint64_t PcMachine::pio_read(uint16_t port, unsigned size) { return pio_.read(port, size); }
void PcMachine::pio_write(uint16_t port, unsigned size, uint64_t value) { pio_.write(port, size, value); }
uint64_t PcMachine::mmio_read(uint64_t gpa, unsigned size) { return mmio_.read(gpa, size); }
void PcMachine::mmio_write(uint64_t gpa, unsigned size, uint64_t value) { mmio_.write(gpa, size, value); }

void PcMachine::service(uint64_t now_ns) {
  timers_.run_expired(now_ns);
  {
    std::lock_guard lock(mutex_);
    event_posted_ = false;
  }
  feed_serial_input();
}

void PcMachine::feed_serial_input() {
  std::lock_guard lock(mutex_);
  while (!serial_input_.empty() && com1_->can_receive()) {
    uint8_t byte = serial_input_.front();
    serial_input_.pop_front();
    com1_->receive(byte);
  }
}

StopRequest PcMachine::stop_request() const {
  std::lock_guard lock(mutex_);
  return stop_;
}

void PcMachine::wait_for_event(uint64_t deadline_ns) {
  std::unique_lock lock(mutex_);
  if (event_posted_ || stop_.kind != StopRequest::Kind::kNone) return;
  uint64_t now = clock_.now_ns();
  if (deadline_ns <= now) return;
  // Input that the UART could not take yet counts as an event only once it has room again,
  // which needs the guest to run: so without room, sleep until the deadline.
  auto timeout = std::chrono::nanoseconds(std::min<uint64_t>(deadline_ns - now, 3'600'000'000'000ull));
  wakeup_.wait_for(lock, timeout, [this] { return event_posted_ || stop_.kind != StopRequest::Kind::kNone; });
}

void PcMachine::post_serial_input(std::span<const uint8_t> bytes) {
  {
    std::lock_guard lock(mutex_);
    serial_input_.insert(serial_input_.end(), bytes.begin(), bytes.end());
  }
  wake();
}

void PcMachine::request_stop(StopRequest request) {
  {
    std::lock_guard lock(mutex_);
    if (stop_.kind == StopRequest::Kind::kNone) stop_ = request;
  }
  wake();
}

void PcMachine::set_kick(std::function<void()> kick) {
  std::lock_guard lock(mutex_);
  kick_ = std::move(kick);
}

void PcMachine::wake() {
  std::lock_guard lock(mutex_);
  event_posted_ = true;
  wakeup_.notify_all();
  if (kick_) kick_();
}

}  // namespace janus

// The Janus PC: guest RAM, the port and MMIO buses, the interrupt controllers, the clock, and
// the devices, wired as a PC with the addresses in hw/pc_layout.h. Both backends run on it; it
// is the IoHandler their port and MMIO accesses go to.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "accel/vcpu.h"
#include "hw/clock.h"
#include "hw/guest_memory.h"
#include "hw/io_bus.h"

namespace janus {

class IrqChip;
class Pit8254;
class PortB;
class Uart16550;
class I8042;
class CmosRtc;
class DebugExit;
class PostPort;
class BootTimer;
class AcpiPm;
class PciBus;
class PciConfigPorts;
class Piix3ResetControl;
class I440fxHostBridge;
class Piix3IsaBridge;

struct PcMachineConfig {
  uint64_t ram_bytes = 128ull << 20;
  std::function<void(uint8_t)> serial_output;  // COM1 transmit; empty = discard
  std::optional<std::pair<uint16_t, uint16_t>> debug_exit;  // iobase, iosize
  uint64_t tsc_hz = 0;  // TSC frequency the guest sees (LAPIC TSC-deadline); 0 = software CPU's
};

// Why the machine wants the vCPU loop to stop.
struct StopRequest {
  // kPowerOff: the guest entered ACPI S5 (ends Janus with status 0).
  enum class Kind { kNone, kReset, kDebugExit, kQuit, kPowerOff } kind = Kind::kNone;
  int exit_status = 0;
};

class PcMachine final : public IoHandler {
 public:
  PcMachine(const PcMachineConfig& config, const Clock& clock);
  ~PcMachine() override;

  GuestMemory& memory() { return memory_; }
  IoBus& pio() { return pio_; }
  IoBus& mmio() { return mmio_; }
  TimerQueue& timers() { return timers_; }
  const Clock& clock() const { return clock_; }
  InterruptSource& interrupts();
  Uart16550& com1() { return *com1_; }
  I8042& i8042() { return *i8042_; }
  AcpiPm& acpi_pm() { return *acpi_pm_; }

  // IoHandler: accesses from whichever backend runs the CPU.
  uint64_t pio_read(uint16_t port, unsigned size) override;
  void pio_write(uint16_t port, unsigned size, uint64_t value) override;
  uint64_t mmio_read(uint64_t gpa, unsigned size) override;
  void mmio_write(uint64_t gpa, unsigned size, uint64_t value) override;

  // --- For the vCPU loop (vCPU thread) ---
  // Runs due timers and moves queued host input into the devices.
  void service(uint64_t now_ns);
  StopRequest stop_request() const;
  void set_boot_timer_callback(std::function<void(uint64_t ns)> cb) { on_boot_time_ = std::move(cb); }
  // Sleeps until a timer is due, host input arrives, or wake() is called.
  void wait_for_event(uint64_t deadline_ns);

  // --- Thread-safe, from any thread ---
  void post_serial_input(std::span<const uint8_t> bytes);
  void request_stop(StopRequest request);
  // Called when another thread needs the vCPU loop's attention (e.g. Vcpu::request_exit).
  void set_kick(std::function<void()> kick);

 private:
  void wake();
  void feed_serial_input();

  const Clock& clock_;
  GuestMemory memory_;
  IoBus pio_{"port I/O"};
  IoBus mmio_{"MMIO"};
  TimerQueue timers_;
  std::unique_ptr<IrqChip> irq_;
  std::unique_ptr<Pit8254> pit_;
  std::unique_ptr<PortB> port_b_;
  std::unique_ptr<Uart16550> com1_;
  std::unique_ptr<I8042> i8042_;
  std::unique_ptr<CmosRtc> rtc_;
  std::unique_ptr<PostPort> post_;
  std::unique_ptr<DebugExit> debug_exit_;
  std::unique_ptr<BootTimer> boot_timer_;
  std::unique_ptr<AcpiPm> acpi_pm_;
  std::unique_ptr<PciBus> pci_bus_;
  std::unique_ptr<Piix3ResetControl> reset_control_;  // port 0xCF9, reached through pci_config_
  std::unique_ptr<PciConfigPorts> pci_config_;
  std::unique_ptr<I440fxHostBridge> host_bridge_;
  std::unique_ptr<Piix3IsaBridge> isa_bridge_;
  std::function<void(uint64_t)> on_boot_time_;

  // Shared with other threads.
  mutable std::mutex mutex_;
  std::condition_variable wakeup_;
  std::deque<uint8_t> serial_input_;
  bool event_posted_ = false;
  StopRequest stop_;
  std::function<void()> kick_;
};

}  // namespace janus

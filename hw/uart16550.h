// The 16550A UART behind COM1: eight byte-wide registers, a 16-byte receive FIFO and one IRQ.
// Transmission is instantaneous (each THR write reaches the sink at once and THR is empty again),
// so the transmit FIFO never holds anything. Runs on the vCPU thread.
#pragma once
#include <array>
#include <cstdint>
#include <functional>

#include "hw/io_device.h"
#include "hw/irq.h"

namespace janus {

class Uart16550 final : public IoDevice {
 public:
  static constexpr uint64_t kPortCount = 8;
  static constexpr unsigned kFifoSize = 16;
  static constexpr uint32_t kBaseClockHz = 115200;  // 1.8432 MHz / 16: the baud rate for divisor 1

  // Register offsets (DLAB selects the divisor latch at 0 and 1).
  enum Reg : uint8_t { kRbrThrDll = 0, kIerDlm = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };

  using Sink = std::function<void(uint8_t)>;

  // output receives every byte the guest transmits (not in loopback mode); irq is ISA IRQ 4 for COM1.
  Uart16550(Sink output, IrqLine irq);

  // Back to the power-on register state (the FIFO is emptied; the sink is kept).
  void reset();

  uint64_t read(uint64_t offset, unsigned size) override;
  void write(uint64_t offset, unsigned size, uint64_t value) override;

  // Host input. Returns false, drops the byte and flags an overrun (LSR.OE) when the receiver is
  // full, as a real line would; callers that can hold bytes back ask can_receive() first.
  bool receive(uint8_t byte);
  bool can_receive() const;

  // Called (on the vCPU thread) each time the guest takes a byte from the receiver, so the machine
  // can push its next queued input byte at once; the listener may call receive().
  void set_rx_space_listener(std::function<void()> listener) { on_rx_space_ = std::move(listener); }

  uint16_t divisor() const { return divisor_; }
  bool irq_level() const { return irq_level_; }

 private:
  uint8_t read_register(unsigned reg);
  void write_register(unsigned reg, uint8_t value);
  void transmit(uint8_t byte);
  void write_fcr(uint8_t value);
  void write_mcr(uint8_t value);
  void clear_rx_fifo();
  uint8_t pop_rx();
  unsigned rx_capacity() const { return fifo_enabled() ? kFifoSize : 1; }
  unsigned rx_trigger_level() const;
  bool fifo_enabled() const { return fcr_ & 0x01; }
  bool loopback() const { return mcr_ & 0x10; }
  uint8_t modem_inputs() const;       // MSR bits 7:4 as the lines are now
  uint8_t lsr() const;
  uint8_t interrupt_id() const;       // IIR bits 3:0 for the highest-priority pending cause
  void update_irq();

  Sink output_;
  std::function<void()> on_rx_space_;
  IrqLine irq_;
  bool irq_level_ = false;

  std::array<uint8_t, kFifoSize> rx_{};
  unsigned rx_head_ = 0;
  unsigned rx_count_ = 0;

  uint16_t divisor_ = 12;  // 9600 baud, what PC firmware programs
  uint8_t ier_ = 0;
  uint8_t fcr_ = 0;        // only bits 0 and 7:6 are remembered
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t line_errors_ = 0;  // LSR bits 4:1, cleared by reading LSR
  uint8_t msr_deltas_ = 0;   // MSR bits 3:0, cleared by reading MSR
  uint8_t scr_ = 0;
  bool thre_pending_ = false;  // THR-empty interrupt armed and not yet acknowledged
};

}  // namespace janus

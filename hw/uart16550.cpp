#include "hw/uart16550.h"

namespace janus {

namespace {
// IIR interrupt identifications, highest priority first.
constexpr uint8_t kIirLineStatus = 0x06;
constexpr uint8_t kIirRxData = 0x04;
constexpr uint8_t kIirRxTimeout = 0x0c;
constexpr uint8_t kIirThrEmpty = 0x02;
constexpr uint8_t kIirModemStatus = 0x00;
constexpr uint8_t kIirNone = 0x01;

constexpr uint8_t kIerRxData = 0x01, kIerThrEmpty = 0x02, kIerLineStatus = 0x04, kIerModemStatus = 0x08;
constexpr uint8_t kLsrDataReady = 0x01, kLsrOverrun = 0x02, kLsrThrEmpty = 0x20, kLsrTxEmpty = 0x40;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kLcrDlab = 0x80;
// What the far end of "-serial stdio" presents: a connected, ready line (CTS, DSR, DCD; no RI).
constexpr uint8_t kHostModemLines = 0xb0;
}  // namespace

Uart16550::Uart16550(Sink output, IrqLine irq) : output_(std::move(output)), irq_(irq) {}

void Uart16550::reset() {
  rx_head_ = rx_count_ = 0;
  divisor_ = 12;
  ier_ = fcr_ = lcr_ = mcr_ = scr_ = 0;
  line_errors_ = msr_deltas_ = 0;
  thre_pending_ = false;
  update_irq();
}

uint64_t Uart16550::read(uint64_t offset, unsigned size) {
  // A wide access to a byte-wide ISA device is a sequence of byte cycles.
  uint64_t value = 0;
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint64_t reg = offset + i;
    uint8_t byte = reg < kPortCount ? read_register(static_cast<unsigned>(reg)) : 0xff;
    value |= uint64_t(byte) << (8 * i);
  }
  return value;
}

void Uart16550::write(uint64_t offset, unsigned size, uint64_t value) {
  for (unsigned i = 0; i < size && i < 8; ++i) {
    uint64_t reg = offset + i;
    if (reg < kPortCount) write_register(static_cast<unsigned>(reg), uint8_t(value >> (8 * i)));
  }
}

uint8_t Uart16550::read_register(unsigned reg) {
  const bool dlab = lcr_ & kLcrDlab;
  switch (reg) {
    case kRbrThrDll:
      if (dlab) return uint8_t(divisor_);
      return pop_rx();
    case kIerDlm:
      return dlab ? uint8_t(divisor_ >> 8) : ier_;
    case kIirFcr: {
      uint8_t id = interrupt_id();
      // Reading IIR while it reports THR-empty is that interrupt's acknowledgement.
      if (id == kIirThrEmpty) {
        thre_pending_ = false;
        update_irq();
      }
      return uint8_t(id | (fifo_enabled() ? 0xc0 : 0x00));
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr: {
      uint8_t value = lsr();
      line_errors_ = 0;
      update_irq();
      return value;
    }
    case kMsr: {
      uint8_t value = uint8_t(modem_inputs() | msr_deltas_);
      msr_deltas_ = 0;
      update_irq();
      return value;
    }
    default:
      return scr_;
  }
}

void Uart16550::write_register(unsigned reg, uint8_t value) {
  const bool dlab = lcr_ & kLcrDlab;
  switch (reg) {
    case kRbrThrDll:
      if (dlab)
        divisor_ = uint16_t((divisor_ & 0xff00) | value);
      else
        transmit(value);
      break;
    case kIerDlm:
      if (dlab) {
        divisor_ = uint16_t((divisor_ & 0x00ff) | (value << 8));
      } else {
        ier_ = value & 0x0f;
        // Real chips raise THR-empty again on any IER write that enables it while THR is empty
        // (always, here); drivers rely on this to restart transmission.
        thre_pending_ = ier_ & kIerThrEmpty;
        update_irq();
      }
      break;
    case kIirFcr:
      write_fcr(value);
      break;
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      write_mcr(value);
      break;
    case kLsr:
    case kMsr:
      break;  // status registers: writes are factory-test only and ignored
    default:
      scr_ = value;
      break;
  }
}

void Uart16550::transmit(uint8_t byte) {
  if (loopback()) {
    receive(byte);
  } else if (output_) {
    output_(byte);
  }
  // The byte left THR at once: THR is empty again, which is itself an interrupt cause.
  thre_pending_ = true;
  update_irq();
}

void Uart16550::write_fcr(uint8_t value) {
  const bool enable = value & 0x01;
  if (enable != fifo_enabled()) clear_rx_fifo();  // switching FIFO mode empties both FIFOs
  if (!enable) {
    fcr_ = 0;  // with bit 0 clear the other FCR bits are not written
  } else {
    if (value & 0x02) clear_rx_fifo();
    fcr_ = value & 0xc1;
  }
  update_irq();
}

void Uart16550::write_mcr(uint8_t value) {
  const uint8_t before = modem_inputs();
  mcr_ = value & 0x1f;
  const uint8_t after = modem_inputs();
  const uint8_t changed = before ^ after;
  if (changed & 0x10) msr_deltas_ |= 0x01;                 // DCTS
  if (changed & 0x20) msr_deltas_ |= 0x02;                 // DDSR
  if ((before & 0x40) && !(after & 0x40)) msr_deltas_ |= 0x04;  // TERI: RI trailing edge only
  if (changed & 0x80) msr_deltas_ |= 0x08;                 // DDCD
  update_irq();
}

bool Uart16550::receive(uint8_t byte) {
  if (rx_count_ >= rx_capacity()) {
    line_errors_ |= kLsrOverrun;
    update_irq();
    return false;
  }
  rx_[(rx_head_ + rx_count_) % kFifoSize] = byte;
  ++rx_count_;
  update_irq();
  return true;
}

bool Uart16550::can_receive() const { return rx_count_ < rx_capacity(); }

void Uart16550::clear_rx_fifo() { rx_head_ = rx_count_ = 0; }

uint8_t Uart16550::pop_rx() {
  if (rx_count_ == 0) return 0;
  uint8_t byte = rx_[rx_head_];
  rx_head_ = (rx_head_ + 1) % kFifoSize;
  --rx_count_;
  update_irq();
  if (on_rx_space_) on_rx_space_();
  return byte;
}

unsigned Uart16550::rx_trigger_level() const {
  static constexpr unsigned kLevels[4] = {1, 4, 8, 14};
  return kLevels[fcr_ >> 6];
}

uint8_t Uart16550::modem_inputs() const {
  if (!loopback()) return kHostModemLines;
  // Loopback wires the modem outputs back to the inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
  return uint8_t(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) | ((mcr_ & 0x04) << 4) | ((mcr_ & 0x08) << 4));
}

uint8_t Uart16550::lsr() const {
  return uint8_t((rx_count_ ? kLsrDataReady : 0) | line_errors_ | kLsrThrEmpty | kLsrTxEmpty);
}

uint8_t Uart16550::interrupt_id() const {
  if ((ier_ & kIerLineStatus) && line_errors_) return kIirLineStatus;
  if ((ier_ & kIerRxData) && rx_count_) {
    // Bytes below the trigger level are reported by the character timeout. Input arrives from
    // the host in bursts, so the four character times are taken to have passed at once.
    if (fifo_enabled() && rx_count_ < rx_trigger_level()) return kIirRxTimeout;
    return kIirRxData;
  }
  if ((ier_ & kIerThrEmpty) && thre_pending_) return kIirThrEmpty;
  if ((ier_ & kIerModemStatus) && msr_deltas_) return kIirModemStatus;
  return kIirNone;
}

void Uart16550::update_irq() {
  // On a PC, OUT2 enables the buffer between the chip's INTR pin and the ISA IRQ line; loopback
  // mode forces OUT2 inactive at the pin, so the line is quiet then.
  const bool level = interrupt_id() != kIirNone && (mcr_ & kMcrOut2) && !loopback();
  if (level != irq_level_) {
    irq_level_ = level;
    irq_.set(level);
  }
}

}  // namespace janus
